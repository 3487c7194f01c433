"""Repair a submission before grading: rebuild the notebook it was read as on the grading template.

Notebooks reach the TA through Colab and VS Code (nbgrader metadata stripped, cell ids changed),
with cells moved, copied, deleted or turned into markdown. ``reading.py`` has turned the file into a
v4.5 notebook (or said why it cannot); ``repair`` rebuilds that notebook in
the grading template's cell order: locked cells (tests, text, setup) verbatim from the template,
each solution cell with the student's code, found by nbgrader grade id, then cell id, then the
names it defines (``ast``), then text similarity (``difflib``); cells the student added stay after
the cell they followed, markdown with its pasted images. Every change is one sentence in
``Repaired.repairs``. Pure functions, no kernel, in the spirit of nbgrader's ``utils.py``;
nbgrader's ``OverwriteCells`` still runs after.
"""
from __future__ import annotations

import ast
import copy
import difflib
import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

import nbformat
from nbformat import NotebookNode

from .preprocessors import BEGIN_HIDDEN, strip_hidden_tests
from .reading import VALID_ID, cell_text, cell_type, fresh_id, nbgrader_meta, safe_markdown, without_magics

# A student cell this similar (difflib ratio) to a locked cell is a copy of it, edited or not.
LOCKED_SIMILARITY = 0.8
# A student cell this similar to a solution stub that defines no function or class answers it.
SOLUTION_SIMILARITY = 0.6
# Cells of fewer lines are compared character by character, longer ones line by line.
SHORT_CELL_LINES = 5


@dataclass
class Repaired:
    """The notebook to execute and one sentence per repair made to it."""

    notebook: NotebookNode
    repairs: List[str] = field(default_factory=list)


# --- what a cell defines ----------------------------------------------------------------------


def definitions(source: str) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(functions and classes, every name bound) at a cell's top level, the first within the second.

    Compound statements (``if``, ``try``, ``with``, loops) are looked into, function and class
    bodies are not. Code ``ast`` cannot parse falls back to a regex on ``def``, ``class`` and ``=``.
    """
    try:
        stack = list(ast.parse(without_magics(source)).body)
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
    ``source`` (its hidden tests back in, each opening with a ``hidden_stage`` mark so that an error
    there is reported as a hidden case's), the solution cells left as stubs."""
    full = {nbgrader_meta(c).get("grade_id"): c for c in source.cells if nbgrader_meta(c).get("grade_id")}
    template = copy.deepcopy(released)
    for cell in template.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in full and not nbgrader_meta(cell).get("solution"):
            cell.source = _mark_hidden_stage(cell_text(full[gid].source), gid)
    return template


def _mark_hidden_stage(source: str, grade_id: str) -> str:
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if BEGIN_HIDDEN in line:
            indent = line[:len(line) - len(line.lstrip())]
            lines.insert(i + 1, f"{indent}from seqlab.grading import hidden_stage; hidden_stage({grade_id!r})")
            break
    return "\n".join(lines)


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
        nbg = nbgrader_meta(self.cell)
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
    attachments: Optional[dict] = None  # a markdown cell's pasted images (checked by ``reading``)
    missing: Tuple[str, ...] = ()       # images it referred to that ``reading`` did not keep

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
        nbg, source = nbgrader_meta(cell), cell_text(cell.get("source"))
        solution = bool(nbg.get("solution"))
        names = definitions(source)[0] if solution and cell_type(cell) == "code" else frozenset()
        label = _key(nbg.get("grade_id")) or _key(cell.get("id")) or f"#{index + 1}"
        slots.append(_Slot(index, cell, label, solution, strip_hidden_tests(source)[0], names))
    return slots


def _student(submission) -> List[_Cell]:
    return [_Cell(number, cell_type(cell), cell_text(cell.get("source")), nbgrader_meta(cell), _key(cell.get("id")),
                  *definitions(cell_text(cell.get("source"))), *_pasted(cell))
            for number, cell in enumerate(_cells(submission), start=1)]


def _pasted(cell: dict) -> Tuple[Optional[dict], Tuple[str, ...]]:
    """(pasted images, names of the images it lost in reading) of a markdown cell."""
    if cell_type(cell) != "markdown":
        return None, ()
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    lost = (meta.get("autograder") or {}).get("missing_attachments") if isinstance(meta.get("autograder"), dict) else None
    attachments = cell.get("attachments")
    return (attachments if isinstance(attachments, dict) and attachments else None,
            tuple(str(n) for n in lost) if isinstance(lost, list) else ())


_ROLE = ("grade_id", "grade", "solution", "locked", "points")  # the nbgrader keys that decide the grading


# --- repair ---------------------------------------------------------------------------------

def _claims(slots: List[_Slot], cells: List[_Cell]) -> Dict[int, List[int]]:
    """Student cell number -> the template cells it may stand for: its label first, then content."""
    by_gid = {_key(nbgrader_meta(s.cell).get("grade_id")): s for s in reversed(slots)}
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
    # A written answer (a markdown solution cell) has no code to recognise it by: with its label
    # stripped, it is the unclaimed markdown cell right below the question it answers.
    written = {s.index for s in slots if s.solution and cell_type(s.cell) == "markdown"}
    taken = {i for found in claims.values() for i in found}
    for before, c in zip(cells, cells[1:]):
        below = [i + 1 for i in claims.get(before.number, ()) if i + 1 in written and i + 1 not in taken]
        if below and c.number not in claims and c.type == "markdown" and c.source.strip():
            claims[c.number] = below[:1]
            taken.add(below[0])
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
        faithful = [c for c in cs if c.type == cell_type(slots[i].cell) and _same(c.source, slots[i].released)]
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
        out.cells.append(_template_cell(s, source, used, answer.attachments if answered_in is s else None))
        out.cells += [_own_cell(c, used) for c in extras.get(s.index, [])]
        dups = [c for c in copies.get(s.index, []) if c is not rep[s.index]]
        notes += _slot_notes(s, rep.get(s.index), answer, answered_in, dups, s.index in moved)
    notes = _fold(notes, "moved ", f"put {len(moved)} cells back in the template's order (the student had moved "
                  f"them): {', '.join(slots[i].label for i in sorted(moved))}")
    notes = _fold(notes, "found the answer to ", "found the answers to {n} solution cells by their content")
    head = []
    graded = [s.index for s in slots if s.solution or nbgrader_meta(s.cell).get("grade")]
    if graded and not set(graded) & (set(rep) | set(chosen)):
        head.append("none of the template's graded cells were found in the submission: is it the right lab?")
    stripped = sum(1 for i, c in rep.items() if nbgrader_meta(slots[i].cell) and not c.grade_id)
    if stripped:
        head.append(f"gave {stripped} cell(s) the template's nbgrader metadata, which they lacked (Colab and "
                    "VS Code strip it)")
    meta = submission.get("metadata") if isinstance(submission, dict) else None
    kernel = meta.get("kernelspec") if isinstance(meta, dict) else None
    wanted = (out.metadata.get("kernelspec") or {}).get("name")
    if isinstance(kernel, dict) and kernel.get("name") and kernel.get("name") != wanted:
        head.append(f"set the kernel to the template's {wanted!r} (the submission asked for {kernel.get('name')!r})")
    added = sorted(c.number for cs in extras.values() for c in cs)
    kept = set(added) | {answer.number for answer in chosen.values()}
    own_notes += [f"cell {c.number} refers to pasted image(s) {', '.join(c.missing)} that the file does not hold "
                  "(or not as a PNG, JPEG or GIF under the size limit): the reference was removed"
                  for c in cells if c.missing and c.number in kept]
    if added:
        own_notes.append(f"kept {len(added)} cell(s) the student added (cells {', '.join(map(str, added))}), "
                         "each after the template cell it followed")
    return Repaired(out, head + notes + own_notes)


def _labels(s: _Slot, c: _Cell) -> bool:
    """Does the student cell carry the template cell's grade id or cell id?"""
    return bool((c.grade_id and c.grade_id == nbgrader_meta(s.cell).get("grade_id")) or (c.id and c.id == s.cell.get("id")))


def _slot_notes(s: _Slot, rep: Optional[_Cell], answer: Optional[_Cell], answered_in: Optional[_Slot],
                dups: List[_Cell], moved: bool) -> List[str]:
    """What was repaired about one template cell, in sentences."""
    what, notes, role = f"{s.kind} '{s.label}'", [], nbgrader_meta(s.cell)
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
        if answer.type != cell_type(s.cell):
            notes.append(f"turned cell {answer.number} ('{s.label}') back into {cell_type(s.cell)}: "
                         f"the student had changed it to {answer.type}")
        notes += [f"'{s.label}' appears more than once: graded the last copy, cell {answer.number}, "
                  f"and dropped cell {c.number}" for c in dups]
    else:
        if rep is None:
            notes.append(f"restored {what} (deleted)")
        elif rep.type != cell_type(s.cell):
            notes.append(f"restored {what} (changed to {rep.type} by the student)")
        elif not _same(rep.source, s.released) and not _same(rep.source, cell_text(s.cell.get("source"))):
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


def _template_cell(s: _Slot, source: Optional[str], used: set, attachments: Optional[dict] = None) -> NotebookNode:
    """The template's cell (type, metadata, id), with ``source`` (and the student's pasted ``attachments``)
    in place of its own if given."""
    cell = getattr(nbformat.v4, f"new_{cell_type(s.cell)}_cell")(cell_text(s.cell.get("source")) if source is None else source)
    cell.metadata = nbformat.from_dict(copy.deepcopy(s.cell.get("metadata") or {}))
    cid = s.cell.get("id")
    cell.id = cid if isinstance(cid, str) and VALID_ID.match(cid) else fresh_id(s.index, used)
    used.add(cell.id)
    if cell.cell_type == "markdown":
        pasted = s.cell.get("attachments") if source is None else attachments
        if isinstance(pasted, dict) and pasted:
            cell.attachments = nbformat.from_dict(copy.deepcopy(pasted))
        if source is not None:   # the student's text, maybe from a code cell: no reference left dangling
            cell.source = safe_markdown(cell.source, cell.get("attachments"))
    return cell


def _own_cell(c: _Cell, used: set) -> NotebookNode:
    """A cell the student added: their source, no outputs, no nbgrader metadata."""
    cell = getattr(nbformat.v4, f"new_{c.type}_cell")(c.source)
    cell.id = c.id if c.id and VALID_ID.match(c.id) and c.id not in used else fresh_id(1000 + c.number, used)
    used.add(cell.id)
    if c.type == "markdown":   # the student's pasted images stay with their text
        if c.attachments:
            cell.attachments = nbformat.from_dict(copy.deepcopy(c.attachments))
        cell.source = safe_markdown(c.source, c.attachments)
    return cell


def repair_summary(repairs: List[str]) -> str:
    """The repairs as a short text for the TA, one line each."""
    if not repairs:
        return "no repairs needed: every template cell was found, in order, with its metadata"
    return f"{len(repairs)} repair(s):\n" + "\n".join(f"  - {line}" for line in repairs)
