"""Make a notebook the grader writes safe to open in someone else's browser: no student HTML or script runs.

The autograded notebook (``pipeline.write``) is what nbgrader's formgrader shows a TA, on the Jupyter
server's own origin, and what nbgrader's ``generate_feedback`` turns into each student's feedback
page. nbconvert renders both without sanitising, so a ``<script>`` or ``<img onerror>`` output, a
``Javascript()`` output, a ``javascript:`` link or raw HTML in a markdown cell would run as the TA.
``sanitize_notebook`` follows the Jupyter security model (untrusted HTML is sanitised, untrusted
JavaScript never runs; https://jupyter-notebook.readthedocs.io/en/stable/security.html) and
nbconvert's ``SanitizeHTML`` preprocessor, with an allow-list of output types and Ammonia (``nh3``),
a maintained allow-list sanitiser that parses HTML and URLs as browsers do:

  outputs   only ``SAFE_MIME`` is kept: plain text, LaTeX, JSON, base64 PNG, JPEG or GIF, and HTML
            and Markdown once cleaned. JavaScript, widgets, SVG (it can carry script), PDF and any
            other type are dropped; an output left with nothing says what was removed. Image
            metadata keeps only the size; error and stream text is always a string.
  markdown  cells and Markdown outputs are parsed by nbconvert's own Markdown parser. Markdown with
            no raw HTML and only safe links stays exactly as written (``a < b``, ``$T<1$`` and
            `` `<pad>` `` in code must not turn into ``&lt;``); otherwise nh3 cleans the HTML in it,
            and a cell that still links to a script (``[x](javascript:...)``, which nbconvert
            renders as a live link) or to a missing attachment (nbconvert stops on it) is shown as
            code. Attachments keep only base64 images.
  trust     nothing says it is trusted: each cell's ``metadata.trusted``, the notebook's signature
            and its widget state are removed, so JupyterLab sanitises it as well.

Known weak spot: a markdown cell that needs cleaning is cleaned whole, so its code spans and maths
lose any ``<tag>``-like text and show ``<`` as ``&lt;``; only cells holding raw HTML pay that price.
"""
from __future__ import annotations

import base64
import copy
import html
import re
from typing import Any, Iterable, Mapping, Optional

import nbformat
import nh3
from nbconvert.filters.markdown_mistune import MarkdownWithMath  # the parser nbconvert renders with
from nbformat import NotebookNode

from .reading import IMAGE_TYPES, base64_text as _base64, image_attachments

IMAGES = frozenset(IMAGE_TYPES)
# What an output may keep: inert as it is, or (HTML, Markdown) once cleaned; images only as base64.
SAFE_MIME = frozenset({"text/plain", "text/latex", "application/json", "text/html", "text/markdown"}) | IMAGES
REMOVED = "[{kinds} output removed by the grader: it could run code in the reader's browser]"
AS_CODE_NOTE = "*The grader shows this cell as code: a link or image in it could run a script or break the page.*"

# Ammonia's allow-list (no script, style, iframe, object, embed, form, svg, meta, base or link; no
# event handler, style, class or id attribute, so nothing restyles or clobbers the page around it),
# plus the <audio> player of IPython's Audio (Lab 6 plays the student's tunes).
TAGS = frozenset(nh3.ALLOWED_TAGS | {"audio", "source"})
ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "audio": {"controls"}, "source": {"src", "type"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})  # data: only as below
DATA_URLS = {("img", "src"): re.compile(r"data:image/(png|jpeg|gif);base64,"),
             ("source", "src"): re.compile(r"data:audio/[a-z0-9.+-]+;base64,")}
_URL_SPACE = "".join(map(chr, range(0x21)))  # what browsers trim around a URL (C0 controls, space)

# nbconvert's Markdown tokens that render as escaped text or as markup of nbconvert's own making.
# Raw HTML, mermaid diagrams (written out unescaped), links and images are judged apart.
INERT_TOKENS = frozenset({
    "paragraph", "text", "emphasis", "strong", "codespan", "linebreak", "softbreak", "blank_line",
    "heading", "list", "list_item", "block_text", "block_quote", "block_code", "thematic_break",
    "inline_math", "block_math", "multiline_math", "latex_environment", "strikethrough",
    "table", "table_head", "table_body", "table_row", "table_cell", "task_list_item",
    "def_list", "def_list_head", "def_list_item",
})


def sanitize_notebook(nb: Mapping[str, Any]) -> NotebookNode:
    """A sanitised copy of ``nb`` (left untouched): safe outputs, clean markdown, nothing trusted."""
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    meta = nb.setdefault("metadata", nbformat.NotebookNode())
    for key in ("signature", "widgets", "trusted"):
        meta.pop(key, None)
    for cell in nb.get("cells", []):
        cell.setdefault("metadata", nbformat.NotebookNode()).pop("trusted", None)
        if "attachments" in cell:
            cell.attachments = image_attachments(cell.attachments)
            if not cell.attachments:
                del cell["attachments"]
        if cell.get("cell_type") == "markdown":
            cell.source = clean_markdown(_text(cell.get("source")), cell.get("attachments"))
        elif cell.get("cell_type") == "code":
            cell.outputs = [out for out in map(_clean_output, cell.get("outputs") or []) if out is not None]
            cell.execution_count = _count(cell.get("execution_count"))
        elif cell.get("cell_type") == "raw":  # a raw cell marked as HTML is pasted into nbconvert's page
            for key in ("format", "raw_mimetype"):
                cell.metadata.pop(key, None)
    return nb


def clean_html(text: str) -> str:
    """``text`` with only inert HTML left: Ammonia's tags, attributes and URL schemes."""
    return nh3.clean(text, tags=set(TAGS), attributes=ATTRIBUTES, url_schemes=set(URL_SCHEMES),
                     attribute_filter=_keep_attribute)


def clean_markdown(source: str, attachments: Optional[Mapping[str, Any]] = None) -> str:
    """Markdown ``source`` unchanged if it is inert, else with its HTML cleaned, else shown as code."""
    if _inert(source, attachments, cleaned=False):
        return source
    cleaned = clean_html(source)
    if _inert(cleaned, attachments, cleaned=True):
        return cleaned
    return as_code(source)


def as_code(text: str) -> str:
    """``text`` as a fenced Markdown code block, shown exactly as written and never rendered."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{AS_CODE_NOTE}\n\n{fence}\n{text}\n{fence}\n"


def _keep_attribute(tag: str, attribute: str, value: str) -> Optional[str]:
    """nh3's hook, after its URL scheme check: a ``data:`` URL only as a base64 image or sound."""
    if attribute not in ("href", "src"):
        return value
    url = re.sub(r"[\t\n\r]", "", value).strip(_URL_SPACE).lower()  # as a browser reads it
    if not url.startswith("data:"):
        return value
    allowed = DATA_URLS.get((tag, attribute))
    return value if allowed is not None and allowed.match(url) else None


def _inert(source: str, attachments: Optional[Mapping[str, Any]], cleaned: bool) -> bool:
    """Does nbconvert render ``source`` with no markup but its own (or, once ``cleaned``, nh3's)?"""
    try:
        stack = list(MarkdownWithMath(renderer=None)(source))
    except Exception:  # a source that trips the parser (deep nesting) is not judged inert
        return False
    while stack:
        token = stack.pop()
        kind, attrs = token.get("type"), token.get("attrs") or {}
        if kind in ("block_html", "inline_html"):
            if not cleaned:
                return False
        elif kind == "block_code" and str(attrs.get("info") or "").startswith("mermaid"):
            if not cleaned:  # nbconvert writes a mermaid diagram's text out unescaped
                return False
        elif kind in ("link", "image"):
            if not _url_ok(str(attrs.get("url") or ""), kind == "image", attachments):
                return False
        elif kind not in INERT_TOKENS:
            return False
        stack.extend(token.get("children") or [])
    return True


def _url_ok(url: str, image: bool, attachments: Optional[Mapping[str, Any]]) -> bool:
    """Would nh3 keep ``url`` as a link (or image) target? An attachment must exist, since nbconvert
    stops on a missing one; it is an image once the attachments are cleaned."""
    if image and url.startswith("attachment:"):
        return url[len("attachment:"):] in (attachments or {})
    tag, attribute = ("img", "src") if image else ("a", "href")
    return f" {attribute}=" in clean_html(f'<{tag} {attribute}="{html.escape(url, quote=True)}">')


def _clean_output(output: Mapping[str, Any]) -> Optional[NotebookNode]:
    """The output with only safe content, or None for an output type nbformat does not know."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_text(output.get("text")))
    if kind == "error":
        trace = output.get("traceback")
        lines = [_text(line) for line in trace] if isinstance(trace, list) else [_text(trace)]
        return nbformat.v4.new_output("error", ename=_text(output.get("ename")), evalue=_text(output.get("evalue")),
                                      traceback=lines)
    if kind not in ("display_data", "execute_result"):
        return None
    data, dropped = {}, []
    for mime, value in (output.get("data") or {}).items():
        kept = _clean_data(mime, value)
        if kept is None:
            dropped.append(mime)
        else:
            data[mime] = kept
    if not data:
        data["text/plain"] = REMOVED.format(kinds=", ".join(sorted(dropped)) or "an empty")
    out = nbformat.v4.new_output(kind, data=data, metadata=_image_sizes(output.get("metadata"), data))
    if kind == "execute_result":
        out.execution_count = _count(output.get("execution_count"))
    return out


def _clean_data(mime: str, value: Any) -> Any:
    """One mime type's content made safe, or None to drop it."""
    if mime not in SAFE_MIME:
        return None
    if mime == "application/json":
        return copy.deepcopy(value)
    text = _text(value)
    if mime in IMAGES:
        return _base64(text)
    if mime == "text/html":
        return clean_html(text)
    if mime == "text/markdown":
        return clean_markdown(text)
    return text


def _image_sizes(metadata: Any, data: Iterable[str]) -> dict:
    """Output metadata cut down to each image's numeric width and height (nothing a page could run)."""
    sizes = {}
    for mime in IMAGES.intersection(data):
        own = metadata.get(mime) if isinstance(metadata, Mapping) else None
        if isinstance(own, Mapping):
            size = {k: own[k] for k in ("width", "height")
                    if isinstance(own.get(k), (int, float)) and not isinstance(own.get(k), bool)}
            if size:
                sizes[mime] = size
    return sizes


def _text(value: Any) -> str:
    """nbformat's multi-line string (a string or a list of strings) as one string."""
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def _count(value: Any) -> Optional[int]:
    """An execution count: an int or None (nbconvert writes it into the page unescaped)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
