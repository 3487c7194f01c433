"""Read a submitted file as a notebook, whatever shape it came in, or say what it is instead.

Notebooks reach the TA through Colab, VS Code and LMS downloads: with a BOM, as UTF-16, with raw
control characters, sources as lists of lines, no cell ids (nbformat < 4.5), or as nbformat 3.
``read_submission`` turns the bytes into a valid v4.5 notebook, dropping what cannot be trusted
(outputs, damaged metadata), and never guesses at a truncated or damaged file: it raises
``UnreadableNotebook`` with a sentence a TA can forward (a zip, a PDF, an HTML page, a Python script,
a merge conflict, JSON cut off at line L). In the spirit of nbformat's own ``reads`` and nbgrader's
``utils.py``; ``repair.py`` then rebuilds the notebook on the grading template.

Two things a student's file can hold break the steps after reading, so they stop here. JSON can
spell half an emoji (``"\\ud83d"``), which UTF-8 cannot encode: ``scrub`` replaces lone surrogates
in every string (the runner scrubs the kernel's outputs the same way). And a markdown cell can
reference a pasted image (``![](attachment:image.png)``) that nbconvert must find or it stops the
whole feedback run: images pasted as JupyterLab and Colab store them are kept (base64 PNG, JPEG or
GIF, size-capped), and ``safe_markdown`` rewrites every reference to an attachment that is not.
"""
from __future__ import annotations

import ast
import base64
import binascii
import io
import json
import re
import warnings
import zipfile
from typing import Any, Dict, Mapping, Optional

import nbformat
from nbformat import NotebookNode

from .course import GradingError

RESUBMIT = "ask the student to download the notebook again (Colab or Jupyter: File > Download > .ipynb) and resubmit"
VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Pasted images kept with a markdown cell: these types (SVG can hold script), each at most
# ATTACHMENT_CHARS of base64 and all of a notebook's together at most ATTACHMENTS_CHARS.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
ATTACHMENT_CHARS = 2 * 2**20
ATTACHMENTS_CHARS = 8 * 2**20
# Markdown longer than this is not parsed to check its attachment references: shown as code instead.
MARKDOWN_CHECK_CHARS = 2**20
SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableNotebook(GradingError):
    """The submitted file is not a notebook we can grade; the message says what it is instead."""


def read_submission(data: bytes) -> NotebookNode:
    """The notebook in ``data`` as nbformat 4.5 (cell ids, string sources), or ``UnreadableNotebook``.

    Accepts a BOM, UTF-16, raw control characters in strings, sources as lists of lines, missing
    cell ids (nbformat < 4.5) and nbformat 3. A truncated or damaged file is not guessed at.
    """
    if not data or not data.strip(b" \t\r\n\x00"):
        raise UnreadableNotebook(f"empty file ({len(data)} bytes): the upload failed or the notebook was never "
                                 f"saved; {RESUBMIT}")
    if data[:4] == b"PK\x03\x04":
        raise UnreadableNotebook(f"a zip archive, not a notebook{_zip_listing(data)}: grade the .ipynb inside it, "
                                 "or ask the student to submit the .ipynb file itself")
    if data[:5] == b"%PDF-":
        raise UnreadableNotebook("a PDF, not a notebook: ask the student to submit the .ipynb file "
                                 "(Colab or Jupyter: File > Download > .ipynb)")
    text = _decode(data)
    stripped = text.lstrip().rstrip("\x00 \t\r\n")
    if stripped[:1] == "<":
        if stripped.startswith("<<<<<<<"):
            raise UnreadableNotebook("a file with git merge-conflict markers (<<<<<<<), not a notebook: "
                                     f"resolve the conflict or {RESUBMIT}")
        title = re.search(r"<title[^>]*>(.*?)</title>", stripped[:20000], re.I | re.S)
        what = f" ({' '.join(title.group(1).split())[:80]!r})" if title else ""
        raise UnreadableNotebook(f"an HTML page{what} saved as .ipynb, not the notebook itself (the browser's "
                                 f"'Save page as' on GitHub or Colab?): {RESUBMIT}")
    if stripped[:1] not in ("{", "[", '"'):
        if _is_python(stripped):
            raise UnreadableNotebook("this is a Python script, not a notebook (File > Download > .py?): ask the "
                                     "student for the .ipynb (File > Download > .ipynb)")
        raise UnreadableNotebook(f"not a notebook: the file starts with {stripped[:40]!r}; {RESUBMIT}")
    parsed = scrub(_parse_json(text.rstrip("\x00 \t\r\n"), len(data), 3 if data[:3] == b"\xef\xbb\xbf" else 0))
    if isinstance(parsed, str) and parsed.lstrip().startswith("{"):  # a notebook saved as a JSON string
        parsed = scrub(_parse_json(parsed.strip(), len(data), 0))
    if not isinstance(parsed, dict) or not ("cells" in parsed or "worksheets" in parsed):
        keys = f"its keys are {sorted(map(str, parsed))[:8]}" if isinstance(parsed, dict) else \
            f"its top level is a {type(parsed).__name__}"
        raise UnreadableNotebook(f"JSON, but not a notebook (no 'cells'; {keys}): {RESUBMIT}")
    return _normalize(_to_v4(parsed))


def _zip_listing(data: bytes) -> str:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return ""
    return f" (it holds {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else " (empty)"


def _decode(data: bytes) -> str:
    """The text of ``data``: UTF-8 (with or without BOM), UTF-16 (Windows shells), else cp1252."""
    utf16 = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le" if data[:2] == b"{\x00" else None
    if utf16:
        try:
            return data.decode(utf16)
        except UnicodeDecodeError as err:
            raise UnreadableNotebook(f"damaged UTF-16 text (at byte {err.start}): {RESUBMIT}") from None
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    if b"\x00" in data[:1024].rstrip(b"\x00"):
        raise UnreadableNotebook(f"binary data, not a notebook (it starts with bytes {data[:8].hex(' ')}): {RESUBMIT}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:  # a Windows editor saved it in the legacy code page: that is its true encoding
            return data.decode("cp1252")
        except UnicodeDecodeError as err:
            raise UnreadableNotebook(f"not UTF-8 text (byte {err.start} is {data[err.start]:#04x}): {RESUBMIT}") from None


def _is_python(text: str) -> bool:
    if text.startswith("# %%") or "\n# %%" in text or text.startswith("#!"):
        return True
    try:
        tree = ast.parse(without_magics(text))
    except (SyntaxError, ValueError):
        return False
    return any(not isinstance(node, ast.Expr) for node in tree.body)


def _parse_json(text: str, size: int, bom: int):
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as err:
        head = err.doc[:err.pos]
        line, column = head.count("\n") + 1, err.pos - head.rfind("\n")
        if err.msg == "Extra data":
            raise UnreadableNotebook(f"not JSON: a complete notebook followed by more text at line {line} column "
                                     f"{column} (two files joined?): {RESUBMIT}") from None
        if err.pos >= len(err.doc.rstrip()) or err.msg.startswith("Unterminated string"):  # it ran out of file
            end = err.doc.rstrip()
            line, column = end.count("\n") + 1, len(end) - end.rfind("\n")
            raise UnreadableNotebook(f"not JSON: truncated at line {line} column {column} (byte {size}): the "
                                     f"file stops in the middle of the notebook; {RESUBMIT}") from None
        raise UnreadableNotebook(f"not JSON: {err.msg} at line {line} column {column} (byte "
                                 f"{bom + len(head.encode('utf-8'))}): the file was damaged or edited by hand; {RESUBMIT}") from None


def _to_v4(d: dict) -> dict:
    """nbformat 2-3 (cells in worksheets) converted by nbformat itself; version 4 passes through."""
    major = d.get("nbformat")
    if "worksheets" not in d:
        return d
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.convert(nbformat.versions[2 if major == 2 else 3].to_notebook_json(d), 4)
    except Exception as err:  # nbformat's converters raise anything on damaged old files
        raise UnreadableNotebook(f"an old notebook (nbformat {major}) that nbformat cannot convert "
                                 f"({type(err).__name__}: {err}): open and save it in Jupyter, or {RESUBMIT}") from None
    for cell in nb.get("cells", []):
        cell.pop("id", None)  # random ids from the conversion: give stable ones instead
    return nb


def cell_text(value) -> str:
    """A source as one string, whether it came as a string, a list of lines, or junk."""
    if isinstance(value, str):
        return value
    return "".join(v for v in value if isinstance(v, str)) if isinstance(value, (list, tuple)) else ""


def cell_type(cell: dict) -> str:
    ctype = cell.get("cell_type")
    return "markdown" if ctype == "heading" else ctype if ctype in ("code", "markdown", "raw") else "raw"


def _normalize(d: dict) -> NotebookNode:
    """A valid v4.5 notebook from a v4-shaped dict, dropping what cannot be trusted."""
    nb = nbformat.v4.new_notebook(metadata=nbformat.from_dict(d["metadata"]) if isinstance(d.get("metadata"), dict) else {})
    used: set = set()
    budget = [ATTACHMENTS_CHARS]
    for index, raw in enumerate(c for c in (d.get("cells") if isinstance(d.get("cells"), list) else []) if isinstance(c, dict)):
        new = getattr(nbformat.v4, f"new_{cell_type(raw)}_cell")(cell_text(raw.get("source")))
        if isinstance(raw.get("metadata"), dict):
            new.metadata = nbformat.from_dict(raw["metadata"])
        if new.cell_type == "markdown":
            _with_attachments(new, raw.get("attachments"), budget)
        if new.cell_type == "code" and isinstance(raw.get("outputs"), list):
            new.outputs = nbformat.from_dict([o for o in raw["outputs"] if isinstance(o, dict)])
        cid = raw.get("id")
        new.id = cid if isinstance(cid, str) and VALID_ID.match(cid) and cid not in used else fresh_id(index, used)
        used.add(new.id)
        nb.cells.append(new)
    if not _valid(nb):  # outputs and most metadata are not needed to grade: drop them rather than fail
        nb.metadata = nbformat.from_dict({k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")})
        for cell in nb.cells:
            keep = {k: cell.metadata[k] for k in ("nbgrader", "autograder") if isinstance(cell.metadata.get(k), dict)}
            cell.metadata = nbformat.from_dict(keep)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        if not _valid(nb):
            nb.metadata = NotebookNode()
    return nb


def _with_attachments(cell: NotebookNode, attachments: Any, budget: list) -> None:
    """Give a markdown cell its valid pasted images; rewrite its references to any other attachment and
    note their names in ``metadata.autograder.missing_attachments`` (for the repair notes)."""
    kept: Dict[str, Dict[str, str]] = {}
    for name, images in image_attachments(attachments, ATTACHMENT_CHARS).items():
        size = sum(map(len, images.values()))
        if size <= budget[0]:
            budget[0] -= size
            kept[name] = images
    if kept:
        cell.attachments = nbformat.from_dict(kept)
    safe = safe_markdown(cell.source, kept)
    if safe != cell.source:
        missing = sorted(set(re.findall(r"attachment:([^\s)\]>\"']+)", cell.source)) - set(kept))
        cell.metadata.setdefault("autograder", {})["missing_attachments"] = missing or ["?"]
        cell.source = safe


def image_attachments(attachments: Any, most_chars: Optional[int] = None) -> Dict[str, Dict[str, str]]:
    """Each attachment's images (IMAGE_TYPES) that are base64 of at most ``most_chars``; attachments
    left with none are dropped."""
    kept = {}
    for name, bundle in (attachments.items() if isinstance(attachments, Mapping) else ()):
        images = {mime: base64_text(value) for mime, value in (bundle.items() if isinstance(bundle, Mapping) else ())
                  if mime in IMAGE_TYPES}
        images = {mime: v for mime, v in images.items() if v and (most_chars is None or len(v) <= most_chars)}
        if images:
            kept[str(name)] = images
    return kept


def base64_text(value: Any) -> Optional[str]:
    """``value`` (a string or a list of lines) as compact base64, or None if it is not base64."""
    compact = "".join(cell_text(value).split())
    try:
        return compact if compact and base64.b64decode(compact, validate=True) else None
    except (binascii.Error, ValueError):
        return None


def safe_markdown(source: str, attachments: Optional[Mapping[str, Any]] = None) -> str:
    """``source`` as nbconvert can render it beside ``attachments``: nbconvert stops the whole export at
    a reference to an attachment it does not find, so each such reference is rewritten
    (``missing-image:NAME``, a broken image); a source whose references cannot be found that way
    (spelled with entities or escapes, or too long to check) is shown as code instead."""
    if "attachment:" not in source and "&" not in source and "\\" not in source:
        return source     # no way left to spell a reference to an attachment
    names = set(attachments or ())
    if len(source) <= MARKDOWN_CHECK_CHARS:
        if _renders(source, attachments):
            return source
        kept = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))   # "attachment:" not before a kept name
        pattern = re.compile(r"attachment:(?!(?:%s)(?=[\s)>\]\"']|$))" % kept if names else "attachment:")
        for candidate in (pattern.sub("missing-image:", source), source.replace("attachment:", "missing-image:")):
            if _renders(candidate, attachments):
                return candidate
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return (f"*The grader shows this cell as code: it refers to pasted images the file does not hold.*\n\n"
            f"{fence}\n{source}\n{fence}\n")


def _renders(source: str, attachments: Optional[Mapping[str, Any]]) -> bool:
    """Does nbconvert's markdown filter render ``source`` beside ``attachments`` without raising?"""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    try:
        MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=dict(attachments or {}))).render(source)
    except Exception:  # InvalidNotebook on a missing attachment, or mistune choking on deep nesting
        return False
    return True


def scrub_text(text: str) -> str:
    """``text`` as UTF-8 can encode it: each lone UTF-16 surrogate (half an emoji) as U+FFFD, a pair
    of surrogates as the character they spell."""
    if not SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def scrub(value: Any) -> Any:
    """``value`` with ``scrub_text`` applied to every string in it, keys included; dicts and lists are
    changed in place (no recursion: JSON can nest deeper than Python's stack)."""
    if isinstance(value, str):
        return scrub_text(value)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in list(item):
                child = item[key]
                if isinstance(child, str):
                    child = scrub_text(child)
                elif isinstance(child, (dict, list)):
                    stack.append(child)
                clean = scrub_text(key) if isinstance(key, str) else key
                if clean is not key:
                    del item[key]
                item[clean] = child
        elif isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, str):
                    item[i] = scrub_text(child)
                elif isinstance(child, (dict, list)):
                    stack.append(child)
    return value


def fresh_id(index: int, used: set) -> str:
    """A cell id for the cell at ``index`` that is not yet in ``used``."""
    cid, n = f"cell-{index}", 0
    while cid in used:
        n += 1
        cid = f"cell-{index}-{n}"
    return cid


def _valid(nb: NotebookNode) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nbformat.validate(nb)
        except Exception:  # ValidationError, or jsonschema choking on junk
            return False
    return True


# --- cells, as the repair reads them ------------------------------------------------------------

def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata, or {} when it is missing or not a dict."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def without_magics(source: str) -> str:
    """IPython lines (``%magic``, ``!shell``) as ``pass`` so that ``ast`` can parse the rest."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.split("\n"))
