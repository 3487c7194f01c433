"""Repair a submission before grading: read it whatever shape it came in, rebuild it on the template.

Notebooks reach the TA through Colab and VS Code (nbgrader metadata stripped, cell ids changed),
with cells moved, copied, deleted or turned into markdown, or saved in an old format.
``read_submission`` turns the bytes into a v4.5 notebook, or says in words a TA can act on why it
cannot (truncated JSON, an HTML page, a Python script, a zip). ``repair`` rebuilds the notebook in
the grading template's cell order: locked cells (tests, text, setup) verbatim from the template,
each solution cell with the student's code, found by nbgrader grade id, then cell id, then the
names it defines (``ast``), then text similarity (``difflib``); cells the student added stay after
the cell they followed. Every change is one sentence in ``Repaired.repairs``. Pure functions, no
kernel, in the spirit of nbgrader's ``utils.py``; nbgrader's ``OverwriteCells`` still runs after.
"""
from __future__ import annotations

import ast
import copy
import difflib
import io
import json
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

import nbformat
from nbformat import NotebookNode

from .course import GradingError
from .preprocessors import strip_hidden_tests

# A student cell this similar (difflib ratio) to a locked cell is a copy of it, edited or not.
LOCKED_SIMILARITY = 0.8
# A student cell this similar to a solution stub that defines no function or class answers it.
SOLUTION_SIMILARITY = 0.6
# Cells of fewer lines are compared character by character, longer ones line by line.
SHORT_CELL_LINES = 5
RESUBMIT = "ask the student to download the notebook again (Colab or Jupyter: File > Download > .ipynb) and resubmit"
_VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UnreadableNotebook(GradingError):
    """The submitted file is not a notebook we can grade; the message says what it is instead."""


@dataclass
class Repaired:
    """The notebook to execute and one sentence per repair made to it."""

    notebook: NotebookNode
    repairs: List[str] = field(default_factory=list)


# --- reading --------------------------------------------------------------------------------

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
    parsed = _parse_json(text.rstrip("\x00 \t\r\n"), len(data), 3 if data[:3] == b"\xef\xbb\xbf" else 0)
    if isinstance(parsed, str) and parsed.lstrip().startswith("{"):  # a notebook saved as a JSON string
        parsed = _parse_json(parsed.strip(), len(data), 0)
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
        tree = ast.parse(_without_magics(text))
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


def _text(value) -> str:
    """A source as one string, whether it came as a string, a list of lines, or junk."""
    if isinstance(value, str):
        return value
    return "".join(v for v in value if isinstance(v, str)) if isinstance(value, (list, tuple)) else ""


def _type(cell: dict) -> str:
    ctype = cell.get("cell_type")
    return "markdown" if ctype == "heading" else ctype if ctype in ("code", "markdown", "raw") else "raw"


def _normalize(d: dict) -> NotebookNode:
    """A valid v4.5 notebook from a v4-shaped dict, dropping what cannot be trusted."""
    nb = nbformat.v4.new_notebook(metadata=nbformat.from_dict(d["metadata"]) if isinstance(d.get("metadata"), dict) else {})
    used: set = set()
    for index, raw in enumerate(c for c in (d.get("cells") if isinstance(d.get("cells"), list) else []) if isinstance(c, dict)):
        new = getattr(nbformat.v4, f"new_{_type(raw)}_cell")(_text(raw.get("source")))
        if isinstance(raw.get("metadata"), dict):
            new.metadata = nbformat.from_dict(raw["metadata"])
        if new.cell_type == "code" and isinstance(raw.get("outputs"), list):
            new.outputs = nbformat.from_dict([o for o in raw["outputs"] if isinstance(o, dict)])
        cid = raw.get("id")
        new.id = cid if isinstance(cid, str) and _VALID_ID.match(cid) and cid not in used else _fresh_id(index, used)
        used.add(new.id)
        nb.cells.append(new)
    if not _valid(nb):  # outputs and most metadata are not needed to grade: drop them rather than fail
        nb.metadata = nbformat.from_dict({k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")})
        for cell in nb.cells:
            cell.metadata = nbformat.from_dict({"nbgrader": _nbgrader(cell)} if _nbgrader(cell) else {})
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        if not _valid(nb):
            nb.metadata = NotebookNode()
    return nb


def _fresh_id(index: int, used: set) -> str:
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


# --- what a cell defines ----------------------------------------------------------------------

def _nbgrader(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _without_magics(source: str) -> str:
    """IPython lines (``%magic``, ``!shell``) as ``pass`` so that ``ast`` can parse the rest."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.split("\n"))


def definitions(source: str) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(functions and classes, every name bound) at a cell's top level, the first within the second.

    Compound statements (``if``, ``try``, ``with``, loops) are looked into, function and class
    bodies are not. Code ``ast`` cannot parse falls back to a regex on ``def``, ``class`` and ``=``.
    """
    try:
        stack = list(ast.parse(_without_magics(source)).body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        functions = frozenset(re.findall(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", source, re.M))
        return functions, functions | frozenset(re.findall(r"^([A-Za-z_]\w*)\s*=[^=]", source, re.M))
    functions, names = set(), set()
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            functions.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for attr in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, attr, None) or [])
    return frozenset(functions), frozenset(functions | names)


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two sources, 0 to 1: over characters for cells of a few lines, else over lines
    (fast, and what an edit changes); 0 at once when difflib's cheap upper bounds are already too low."""
    a, b = _squash(a), _squash(b)
    if not a or not b:
        return 0.0
    if a.count("\n") >= SHORT_CELL_LINES or b.count("\n") >= SHORT_CELL_LINES:
        a, b = a.split("\n"), b.split("\n")
    matcher, floor = difflib.SequenceMatcher(None, a, b, autojunk=False), min(LOCKED_SIMILARITY, SOLUTION_SIMILARITY)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def _squash(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().split("\n"))


def _same(a: str, b: str) -> bool:
    return _squash(a) == _squash(b)


# --- the template and the submission, cell by cell ------------------------------------------

def with_hidden_tests(released: NotebookNode, source: NotebookNode) -> NotebookNode:
    """The grading template: the released notebook with each locked cell's full source from
    ``source`` (its hidden tests back in), the solution cells left as stubs."""
    full = {_nbgrader(c).get("grade_id"): c for c in source.cells if _nbgrader(c).get("grade_id")}
    template = copy.deepcopy(released)
    for cell in template.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in full and not _nbgrader(cell).get("solution"):
            cell.source = full[gid].source
    return template


@dataclass
class _Slot:
    """A template cell: its place in the output, and what a student's copy of it looks like."""

    index: int
    cell: dict
    label: str  # grade id, else cell id
    solution: bool
    released: str  # the source the student saw (hidden tests removed)
    names: FrozenSet[str]  # the functions and classes a solution stub defines

    @property
    def kind(self) -> str:
        nbg = _nbgrader(self.cell)
        return "solution cell" if self.solution else "test cell" if nbg.get("grade") else \
            "locked cell" if nbg else "cell"


@dataclass
class _Cell:
    """A student cell, read defensively."""

    number: int  # 1-based, as the student counts
    type: str
    source: str
    nbgrader: dict
    id: Optional[str]
    functions: FrozenSet[str]
    names: FrozenSet[str]

    @property
    def grade_id(self) -> Optional[str]:
        return _key(self.nbgrader.get("grade_id"))


def _cells(nb) -> list:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def _key(value) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _slots(template) -> List[_Slot]:
    slots = []
    for index, cell in enumerate(_cells(template)):
        nbg, source = _nbgrader(cell), _text(cell.get("source"))
        solution = bool(nbg.get("solution"))
        names = definitions(source)[0] if solution and _type(cell) == "code" else frozenset()
        label = _key(nbg.get("grade_id")) or _key(cell.get("id")) or f"#{index + 1}"
        slots.append(_Slot(index, cell, label, solution, strip_hidden_tests(source)[0], names))
    return slots


def _student(submission) -> List[_Cell]:
    return [_Cell(number, _type(cell), _text(cell.get("source")), _nbgrader(cell), _key(cell.get("id")),
                  *definitions(_text(cell.get("source"))))
            for number, cell in enumerate(_cells(submission), start=1)]


_ROLE = ("grade_id", "grade", "solution", "locked", "points")  # the nbgrader keys that decide the grading


# --- repair ---------------------------------------------------------------------------------

def _claims(slots: List[_Slot], cells: List[_Cell]) -> Dict[int, List[int]]:
    """Student cell number -> the template cells it may stand for: its label first, then content."""
    by_gid = {_key(_nbgrader(s.cell).get("grade_id")): s for s in reversed(slots)}
    by_id = {_key(s.cell.get("id")): s for s in reversed(slots)}
    exact = {_squash(s.released): s for s in reversed(slots) if not s.solution and s.released.strip()}
    stubs, fuzzy = [s for s in slots if s.names], [s for s in slots if not s.names]
    claims = {}
    for c in cells:
        direct = (c.grade_id and by_gid.get(c.grade_id)) or (c.id and by_id.get(c.id))
        found = [direct.index] if direct else []
        if not direct or direct.solution:  # code can answer another stub than its label says
            found += [s.index for s in stubs if s.names <= c.names and s.index not in found]
        if not found and c.source.strip():
            best = exact.get(_squash(c.source))
            score = 1.0 if best else 0.0
            for s in ([] if best else fuzzy):
                ratio = similarity(c.source, s.released)
                if ratio >= (SOLUTION_SIMILARITY if s.solution else LOCKED_SIMILARITY) and ratio > score:
                    score, best = ratio, s
            found = [best.index] if best else []
        if found:
            claims[c.number] = found
    return claims


def _in_order(positions: List[int]) -> set:
    """The longest increasing run of template positions: the cells the student did not move."""
    runs: List[List[int]] = []
    for i, x in enumerate(positions):
        runs.append(max((runs[j] for j in range(i) if positions[j] < x), key=len, default=[]) + [x])
    return set(max(runs, key=len, default=[]))


def repair(submission, template: NotebookNode) -> Repaired:
    """The submission rebuilt on the grading template's cells, and what was repaired.

    Never raises on a damaged submission: what cannot be matched is kept as the student's own
    cell, or reported missing. The module docstring gives the matching order.
    """
    slots, cells = _slots(template), _student(submission)
    claims = _claims(slots, cells)
    chosen: Dict[int, _Cell] = {}  # solution slot -> the student cell answering it
    home: Dict[int, int] = {}  # answering cell -> the (first) slot its code goes into
    for s in (s for s in slots if s.solution):
        pool = [c for c in cells if s.index in claims.get(c.number, ())]
        if pool:  # what runs last top to bottom wins: the last cell defining the functions, code first
            chosen[s.index] = max(pool, key=lambda c: (s.names <= c.functions, s.names <= c.names,
                                                       c.type == "code", c.number))
            home.setdefault(chosen[s.index].number, s.index)
    copies: Dict[int, List[_Cell]] = {}  # slot -> the student cells standing for it
    extras: Dict[Optional[int], List[_Cell]] = {}  # slot followed (None: the top) -> cells added
    anchor, own_notes = None, []
    for c in cells:
        found = claims.get(c.number, [])
        copy_of = home.get(c.number, next((i for i in found if slots[i].names <= c.functions), None))
        if copy_of is not None:
            anchor = copy_of
            copies.setdefault(copy_of, []).append(c)
            continue
        if found and _labels(slots[found[0]], c) and c.source.strip():
            own_notes.append(f"kept cell {c.number} as the student's own: it carries the label of "
                             f"'{slots[found[0]].label}' but does not define {_list(slots[found[0]].names)}")
        if c.source.strip():
            extras.setdefault(anchor, []).append(c)
    rep = {}
    for i, cs in copies.items():
        faithful = [c for c in cs if c.type == _type(slots[i].cell) and _same(c.source, slots[i].released)]
        rep[i] = chosen[i] if chosen.get(i) in cs else (faithful or cs)[0]
    moved = set(rep) - _in_order([i for i, _ in sorted(rep.items(), key=lambda p: p[1].number)])

    out = nbformat.v4.new_notebook(metadata=nbformat.from_dict(copy.deepcopy(dict(template.get("metadata") or {}))))
    used = {s.cell.get("id") for s in slots}
    out.cells += [_own_cell(c, used) for c in extras.get(None, [])]
    notes = []
    for s in slots:
        answer = chosen.get(s.index)
        answered_in = slots[home[answer.number]] if answer else None
        source = None if answer is None else answer.source if answered_in is s else \
            f"# answered in the cell of '{answered_in.label}' above"
        out.cells.append(_template_cell(s, source, used))
        out.cells += [_own_cell(c, used) for c in extras.get(s.index, [])]
        dups = [c for c in copies.get(s.index, []) if c is not rep[s.index]]
        notes += _slot_notes(s, rep.get(s.index), answer, answered_in, dups, s.index in moved)
    notes = _fold(notes, "moved ", f"put {len(moved)} cells back in the template's order (the student had moved "
                  f"them): {', '.join(slots[i].label for i in sorted(moved))}")
    notes = _fold(notes, "found the answer to ", "found the answers to {n} solution cells by their content")
    head = []
    graded = [s.index for s in slots if s.solution or _nbgrader(s.cell).get("grade")]
    if graded and not set(graded) & (set(rep) | set(chosen)):
        head.append("none of the template's graded cells were found in the submission: is it the right lab?")
    stripped = sum(1 for i, c in rep.items() if _nbgrader(slots[i].cell) and not c.grade_id)
    if stripped:
        head.append(f"gave {stripped} cell(s) the template's nbgrader metadata, which they lacked (Colab and "
                    "VS Code strip it)")
    meta = submission.get("metadata") if isinstance(submission, dict) else None
    kernel = meta.get("kernelspec") if isinstance(meta, dict) else None
    wanted = (out.metadata.get("kernelspec") or {}).get("name")
    if isinstance(kernel, dict) and kernel.get("name") and kernel.get("name") != wanted:
        head.append(f"set the kernel to the template's {wanted!r} (the submission asked for {kernel.get('name')!r})")
    added = sorted(c.number for cs in extras.values() for c in cs)
    if added:
        own_notes.append(f"kept {len(added)} cell(s) the student added (cells {', '.join(map(str, added))}), "
                         "each after the template cell it followed")
    return Repaired(out, head + notes + own_notes)


def _labels(s: _Slot, c: _Cell) -> bool:
    """Does the student cell carry the template cell's grade id or cell id?"""
    return bool((c.grade_id and c.grade_id == _nbgrader(s.cell).get("grade_id")) or (c.id and c.id == s.cell.get("id")))


def _slot_notes(s: _Slot, rep: Optional[_Cell], answer: Optional[_Cell], answered_in: Optional[_Slot],
                dups: List[_Cell], moved: bool) -> List[str]:
    """What was repaired about one template cell, in sentences."""
    what, notes, role = f"{s.kind} '{s.label}'", [], _nbgrader(s.cell)
    mine = (answer if s.solution else rep) or rep
    changed = [k for k in _ROLE if mine and mine.nbgrader and mine.nbgrader.get(k) != role.get(k)]
    if changed:
        notes.append(f"restored the nbgrader metadata of {what}: the student's copy changed "
                     + ", ".join(f"{k} to {mine.nbgrader.get(k)!r}" for k in changed))
    if s.solution and answer is None:
        return [f"no solution found for '{s.label}': graded as not attempted (the template's stub is kept)"]
    if s.solution and answered_in is not s:
        return [f"'{s.label}' is answered in the same cell as '{answered_in.label}' (cell {answer.number})"]
    if s.solution:
        if not s.names <= answer.names:
            notes.append(f"the student's cell {answer.number} for '{s.label}' does not define {_list(s.names)} "
                         "(renamed or deleted?): its tests will fail")
        elif not _labels(s, answer):
            notes.append(f"found the answer to '{s.label}' in cell {answer.number} by its content")
        if answer.type != _type(s.cell):
            notes.append(f"turned cell {answer.number} ('{s.label}') back into {_type(s.cell)}: "
                         f"the student had changed it to {answer.type}")
        notes += [f"'{s.label}' appears more than once: graded the last copy, cell {answer.number}, "
                  f"and dropped cell {c.number}" for c in dups]
    else:
        if rep is None:
            notes.append(f"restored {what} (deleted)")
        elif rep.type != _type(s.cell):
            notes.append(f"restored {what} (changed to {rep.type} by the student)")
        elif not _same(rep.source, s.released) and not _same(rep.source, _text(s.cell.get("source"))):
            notes.append(f"restored {what} (edited by the student)")
        notes += [f"removed a duplicate of {what} (cell {c.number})" for c in dups]
    if moved:
        notes.append(f"moved {what} back to its place (the student had moved it)")
    return notes


def _fold(notes: List[str], prefix: str, summary: str) -> List[str]:
    """More than three notes starting with ``prefix`` become the one line ``summary``."""
    alike = [n for n in notes if n.startswith(prefix)]
    if len(alike) <= 3:
        return notes
    return [n for n in notes if not n.startswith(prefix)] + [summary.replace("{n}", str(len(alike)))]


def _list(names) -> str:
    return ", ".join(sorted(names)) or "the stub's code"


def _template_cell(s: _Slot, source: Optional[str], used: set) -> NotebookNode:
    """The template's cell (type, metadata, id), with ``source`` in place of its own if given."""
    cell = getattr(nbformat.v4, f"new_{_type(s.cell)}_cell")(_text(s.cell.get("source")) if source is None else source)
    cell.metadata = nbformat.from_dict(copy.deepcopy(s.cell.get("metadata") or {}))
    cid = s.cell.get("id")
    cell.id = cid if isinstance(cid, str) and _VALID_ID.match(cid) else _fresh_id(s.index, used)
    used.add(cell.id)
    if cell.cell_type == "markdown" and isinstance(s.cell.get("attachments"), dict):
        cell.attachments = nbformat.from_dict(copy.deepcopy(s.cell["attachments"]))
    return cell


def _own_cell(c: _Cell, used: set) -> NotebookNode:
    """A cell the student added: their source, no outputs, no nbgrader metadata."""
    cell = getattr(nbformat.v4, f"new_{c.type}_cell")(c.source)
    cell.id = c.id if c.id and _VALID_ID.match(c.id) and c.id not in used else _fresh_id(1000 + c.number, used)
    used.add(cell.id)
    return cell


def repair_summary(repairs: List[str]) -> str:
    """The repairs as a short text for the TA, one line each."""
    if not repairs:
        return "no repairs needed: every template cell was found, in order, with its metadata"
    return f"{len(repairs)} repair(s):\n" + "\n".join(f"  - {line}" for line in repairs)
