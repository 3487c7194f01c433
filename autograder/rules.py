"""Static rules on a submission: which parts call the tests' oracles or a shortcut the part forbids.

Runs in the grader's process on the repaired notebook, before its score is known and whatever the
kernel does (``seqlab.rules`` holds the walker; this module says what to walk). A part is a grade
cell; its test cell declares ``check_rules(<function>, forbid=(...))`` (literal strings only;
without one, the function is the grade id and only the rules that hold everywhere apply). The
code checked for a part is every top-level statement of the student's cells that binds the
function's name before the test cell, and, transitively, every top-level definition of theirs
that this code uses, so a forbidden call moved into a helper (or into another part's cell) is
found too. Anything else a student wrote is checked against the rules that hold everywhere; a use
of a test helper, dynamic code or introspection there costs every part tested after it.

Pure functions over cells (nbformat nodes or plain dicts), testable without a kernel.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from seqlab.rules import Violation, find_violations, strip_magics

# Violations outside a part's own code that still cost every part tested after them: they can
# reach the test helpers (or rewrite the test cells, as an IPython AST transformer can) from
# anywhere. Patching elsewhere cannot raise a score (each case is emitted before any check
# runs), and a bare import is harmless until used.
GLOBAL_RULES = ("test helper", "dynamic code", "introspection")


class RuleError(ValueError):
    """A lab's rule declaration cannot be read (an instructor's mistake, found at release)."""


@dataclass(frozen=True)
class Part:
    grade_id: str
    function: str
    forbid: Tuple[str, ...]


def _meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def parse_cell(source: str) -> Optional[ast.Module]:
    try:
        return ast.parse(strip_magics(source)[0])
    except (SyntaxError, ValueError):
        return None


def is_grade_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and bool(_meta(cell).get("grade")) and not _meta(cell).get("solution")


def is_student_cell(cell) -> bool:
    """A code cell the student wrote: a solution cell, or one they added (no nbgrader metadata)."""
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and (bool(meta.get("solution")) or not meta)


def declarations(cells: Sequence) -> Dict[str, Part]:
    """grade id -> the part its test cell declares with ``check_rules(fn, forbid=(...))``."""
    parts = {}
    for cell in cells:
        if not is_grade_cell(cell):
            continue
        grade_id = _meta(cell).get("grade_id", "?")
        tree = parse_cell(_source(cell))
        for node in ast.walk(tree) if tree else ():
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check_rules"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Name):
                raise RuleError(f"{grade_id}: check_rules needs the graded function's name as its first argument")
            forbid: Tuple[str, ...] = ()
            for kw in node.keywords:
                if kw.arg != "forbid":
                    continue
                try:
                    forbid = tuple(ast.literal_eval(kw.value))
                except ValueError:
                    raise RuleError(f"{grade_id}: check_rules(forbid=...) must be a literal tuple of "
                                    "dotted names") from None
                if not all(isinstance(f, str) and f for f in forbid):
                    raise RuleError(f"{grade_id}: check_rules(forbid=...) must hold dotted names as strings")
            parts[grade_id] = Part(grade_id, node.args[0].id, forbid)
            break
    return parts


def top_bindings(tree: ast.Module) -> Dict[str, str]:
    """Top-level name -> how it is bound ("def", "import:<path>", "assign")."""
    bound: Dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[stmt.name] = "def"
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                bound[name] = "import:" + (alias.name if alias.asname else name)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"import:{'.' * stmt.level}{stmt.module or ''}.{alias.name}"
        else:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bound.setdefault(node.id, "assign")
    return bound


def _statement_names(stmt: ast.stmt) -> Set[str]:
    """Names a top-level statement binds."""
    return set(top_bindings(ast.Module(body=[stmt], type_ignores=[])))


def _loads(stmt: ast.stmt) -> Set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@dataclass
class _Context:
    resolve: Mapping[str, str]
    test_names: Set[str]
    protected: Set[str]
    module_names: Set[str]

    def check(self, source: str, what: str, forbid: Sequence[str] = ()) -> List[Violation]:
        return find_violations(source, resolve=self.resolve.get, test_names=self.test_names,
                               protected=self.protected, forbid=forbid, module_names=self.module_names,
                               what=what)


def _student_cells(cells: Sequence, template: Optional[Sequence]) -> Set[int]:
    """Indices of the cells the student wrote. A cell without nbgrader metadata whose source is a
    template cell's (the release's Colab setup cell) is the template's, not the student's."""
    theirs = {_source(c) for c in template or () if c.get("cell_type") == "code" and not _meta(c).get("solution")}
    return {i for i, c in enumerate(cells) if is_student_cell(c) and (_meta(c).get("solution") or _source(c) not in theirs)}


def _context(cells: Sequence, student: Set[int]) -> _Context:
    locked_bound: Dict[str, str] = {}
    test_bound: Dict[str, str] = {}
    student_bound: Dict[str, str] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        tree = parse_cell(_source(cell))
        if tree is None:
            continue
        bound = top_bindings(tree)
        if index in student:
            student_bound.update(bound)
        elif is_grade_cell(cell):
            test_bound.update(bound)
        else:
            locked_bound.update(bound)
    resolve: Dict[str, str] = {}
    for source in (student_bound, test_bound, locked_bound):      # the tests' own imports win
        resolve.update({n: how[len("import:"):] for n, how in source.items() if how.startswith("import:")})
    test_names = {n for n, how in test_bound.items() if (how != "assign" or n.startswith("_"))
                  and n not in locked_bound}
    protected = {n for n, how in {**test_bound, **locked_bound}.items() if how != "assign"}
    return _Context(resolve, test_names, protected, set(student_bound) - test_names)


def violations(cells: Sequence, template: Optional[Sequence] = None) -> Dict[str, Violation]:
    """grade id -> the first rule its part breaks (absent when it breaks none). ``template``: the
    cells of the grading template, to tell the release's own cells from the student's."""
    parts = declarations(cells)
    student = _student_cells(cells, template)
    ctx = _context(cells, student)
    # every top-level statement the student wrote, in notebook order, with the names it binds
    statements: List[_Statement] = []
    for index, cell in enumerate(cells):
        if index in student:
            source = strip_magics(_source(cell))[0]
            tree = parse_cell(source)
            for stmt in tree.body if tree else ():
                statements.append(_Statement(index, stmt, ast.get_source_segment(source, stmt) or ast.unparse(stmt),
                                             _statement_names(stmt)))
    found: Dict[str, Violation] = {}

    def cost_later(cell_index: int, hit: Violation) -> None:
        """A trick outside any part's code costs every part tested after it."""
        for later, cell in enumerate(cells):
            if later > cell_index and is_grade_cell(cell):
                found.setdefault(_meta(cell).get("grade_id", "?"), hit)

    in_parts: Set[int] = set()
    for index, cell in enumerate(cells):
        if not is_grade_cell(cell):
            continue
        grade_id = _meta(cell).get("grade_id", "?")
        part = parts.get(grade_id) or Part(grade_id, grade_id, ())   # by convention, the function's name
        chosen = _closure(part.function, [st for st in statements if st.cell < index])
        in_parts.update(id(st) for st in chosen)
        for st in chosen:
            what = part.function if part.function in st.names or not st.names else \
                f"{', '.join(sorted(st.names))} (which {part.function} uses)"
            hit = _first(ctx.check(st.source, what, part.forbid), st.node.lineno)
            if hit is not None:
                found[grade_id] = hit
                break
    for st in statements:
        if id(st) not in in_parts:
            hit = _first([v for v in ctx.check(st.source, f"the code in cell {st.cell + 1}")
                          if v.rule in GLOBAL_RULES], st.node.lineno)
            if hit is not None:
                cost_later(st.cell, hit)
    # magics and shell escapes, which the statements above never see
    for i, cell in enumerate(cells):
        if i in student:
            for line, magic in strip_magics(_source(cell))[1]:
                cost_later(i, Violation(line, magic, "dynamic code", f"the code in cell {i + 1} runs the "
                                        f"IPython command {magic!r}, which graded notebooks may not use"))
    return found


@dataclass(frozen=True, eq=False)
class _Statement:
    """One top-level statement of the student's: its cell, node, source and the names it binds."""

    cell: int
    node: ast.stmt
    source: str
    names: Set[str]


def _first(hits: List[Violation], offset: int) -> Optional[Violation]:
    """The first violation, its line counted in the cell rather than the statement."""
    if not hits:
        return None
    v = hits[0]
    return Violation(v.line + offset - 1, v.what, v.rule, v.message)


def _closure(name: str, statements: List[_Statement]) -> List[_Statement]:
    """The statements that bind ``name``, and those binding what they use, transitively."""
    chosen, wanted, done = [], [name], set()
    while wanted:
        current = wanted.pop()
        if current in done:
            continue
        done.add(current)
        for st in statements:
            if current in st.names and st not in chosen:
                chosen.append(st)
                wanted.extend(_loads(st.node) - done)
    return sorted(chosen, key=lambda st: (st.cell, st.node.lineno))


def describe(v: Violation) -> str:
    """The message for the student and the TA."""
    return f"{v.message} (line {v.line} of the cell). A part that does this earns no points."


def check_declarations(cells: Sequence, lab: str) -> List[str]:
    """Problems an instructor must fix: unreadable declarations, and a reference that breaks them."""
    try:
        declarations(cells)
    except RuleError as err:
        return [f"{lab}: {err}"]
    return [f"{lab}: the reference breaks its own rule in {gid}: {describe(v)}"
            for gid, v in violations(cells).items()]

