"""Grade a lab's source notebook in-process, with chosen solution cells replaced: the mutation tests' engine.

nbgrader gives a test cell its points when it runs without an error, and none otherwise. This
harness applies the same rule without a kernel: it executes the setup and exercise cells of the
reference notebook in one namespace, swapping in replacement code for named solution cells, and
records which grade cells raise. As the autograder does, a visible test that failed to blame an
earlier part that lost its points hands the verdict to the cell's hidden tests, and a part whose
code breaks the lab's static rules (``autograder.rules``: calls a test helper or a forbidden
shortcut) earns nothing, whatever ran. It stops after the last grade cell, so the lab's training
payoff is not run. It trusts the code it runs (ours), so it is for tests, never for student
submissions; an end-to-end test checks that it agrees with the real nbgrader pipeline.
"""
from __future__ import annotations

import ast
import contextlib
import io
import itertools
import json
import linecache
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from autograder.preprocessors import hidden_part
from autograder.rules import describe, violations
from autograder.runner import CellRun
from autograder.scoring import excused_by
from seqlab.grading import MODE_ENV, STORE_ENV

REPO = Path(__file__).resolve().parents[1]
MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Mutant:
    """Another implementation of a graded function, for the mutation tests (tests/mutants_<lab>.py)."""

    target: str   # the grade cell (= the graded function's name) whose test must react
    name: str     # what the mutant does, for test ids
    wrong: bool   # True: must lose the target's points; False: must keep every point
    cells: dict   # function name -> the whole replacement of that function's solution cell

    @classmethod
    def of(cls, target: str, name: str, wrong: bool, **cells: str) -> "Mutant":
        return cls(target, name, wrong, cells)

    @property
    def overrides(self) -> dict:
        """Solution-cell grade_id -> replacement source, as run_lab takes them."""
        return {f"{fn}_code": code for fn, code in self.cells.items()}


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new``, for writing a mutant as an edit of another; ``old`` must
    occur (an edit that changes nothing would make a mutant identical to its source)."""
    assert old in text, old
    return text.replace(old, new)


def wrong_part(mutants: list, fn: str, name: str) -> dict:
    """The cell of ``fn``'s wrong mutant ``name`` in ``mutants``, to put under a later part in OWN_MERIT."""
    mutant = next(m for m in mutants if m.target == fn and m.name == name and m.wrong)
    return {fn: mutant.cells[fn]}


def choice_mutants(question: str, right: str, options: str = "abcd") -> list:
    """A multiple-choice question's mutants: every wrong letter, and the right one in capitals and brackets."""
    answer = lambda text: {question: f'{question} = "{text}"\n'}
    return [*[Mutant.of(question, f"answer {x}", True, **answer(x)) for x in options if x != right],
            Mutant.of(question, "the right letter in capitals and brackets", False, **answer(f" ({right.upper()}) "))]


@dataclass
class Outcome:
    points: float      # points scored by the grade cell
    max_points: float  # points available
    error: str = ""    # the exception the cell raised, if any

    @property
    def passed(self) -> bool:
        return not self.error


def load_source(lab: str) -> list[dict]:
    """The cells of solutions/<lab>.ipynb."""
    return json.loads((REPO / "solutions" / f"{lab}.ipynb").read_text())["cells"]


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_ids(cells: list[dict]) -> list[str]:
    """The grade_ids of the lab's autograded test cells, in order."""
    return [_meta(c)["grade_id"] for c in cells if _meta(c).get("grade") and c["cell_type"] == "code"]


def run_lab(lab: str, overrides: Mapping[str, str] | None = None, store: Path | None = None,
            record: bool = False, hidden: bool = True,
            until: str | None = None) -> dict[str, Outcome]:
    """Execute the lab's cells up to its last grade cell; return grade_id -> Outcome.

    Inputs:
    - overrides: solution-cell grade_id (e.g. "rnn_forward_code") -> replacement source.
    - store: the reference-output file hidden tests compare with (or record into, if record).
    - hidden: False drops the hidden tests, leaving what the student's copy holds.
    - until: stop after this grade cell (later tests cannot affect it; earlier ones may define
      helpers it uses, so they still run).
    """
    cells = load_source(lab)
    overrides = dict(overrides or {})
    known = {_meta(c).get("grade_id") for c in cells}
    unknown = set(overrides) - known
    if unknown:
        raise KeyError(f"no cells with grade_id {sorted(unknown)} in {lab}")
    code = [c for c in cells if c["cell_type"] == "code"]
    graded = {_meta(c)["grade_id"]: i for i, c in enumerate(code) if _meta(c).get("grade")}
    if until is not None and until not in graded:
        raise KeyError(f"no grade cell {until!r} in {lab}")
    last = graded[until] if until is not None else max(graded.values())
    namespace: dict = {"__name__": "__main__"}
    results: dict[str, Outcome] = {}
    edited = [dict(c, source=overrides.get(_meta(c).get("grade_id"), "".join(c["source"]))) for c in cells]
    broken = {gid: describe(v) for gid, v in violations(edited).items()}
    env = {STORE_ENV: str(store) if store else "", MODE_ENV: "record" if record else ""}
    with _environ(env), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # a kernel prints warnings; it does not raise them
        for cell in code[:last + 1]:
            meta = _meta(cell)
            source = overrides.get(meta.get("grade_id"), "".join(cell["source"]))
            if not hidden:
                source = HIDDEN.sub("", source)
            points = float(meta.get("points", 0))
            try:
                shown = _run_cell(MAGIC.sub("", source), meta.get("grade_id", "cell"), namespace)
                error, score = "", points if shown is None else _partial_grade(shown, points)
                if score < points:
                    error = (f"the cell ends in an expression showing {shown!r}, which nbgrader takes as "
                             f"the cell's score ({score:g} of {points:g}): assign it (`_ = ...`)")
            except Exception as err:  # noqa: BLE001  (a failing cell is data here)
                error, score = f"{type(err).__name__}: {err}", 0.0
                if hidden and meta.get("grade"):
                    error, score = _after_blame(meta["grade_id"], error, source, points, namespace, results)
            if meta.get("grade") and meta["grade_id"] in broken:
                error, score = f"forbidden: {broken[meta['grade_id']]}", 0.0
            if meta.get("grade") and cell["cell_type"] == "code":
                results[meta["grade_id"]] = Outcome(score, points, error)
    return results


def _after_blame(name: str, error: str, source: str, points: float, namespace: dict,
                 results: Mapping[str, Outcome]) -> tuple[str, float]:
    """(error, score) of a grade cell whose visible test failed, by the grader's rule
    (``autograder.scoring.excused_by``): a blame of an earlier part that lost its points hands the
    verdict to the cell's hidden tests, run on; they score the part if they finish without an error."""
    run = CellRun(0, "error", error)
    part = excused_by(name, run, {gid: o.passed for gid, o in results.items()})
    if part is None:
        return error, 0.0
    try:
        _run_cell(MAGIC.sub("", hidden_part(source)), name, namespace)
    except Exception as err:  # noqa: BLE001
        return f"{error}\nWith the tests' own {part}: {type(err).__name__}: {err}", 0.0
    return "", points


def _run_cell(source: str, name: str, namespace: dict):
    """Execute a cell as IPython does: return the value its last line shows (None if nothing)."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    filename = f"<cell {name} {next(_CELLS)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for inspect, as IPython
    exec(compile(tree, filename, "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), f"<{name}>", "eval"), namespace)


_CELLS = itertools.count()


def _partial_grade(value, max_points: float) -> float:
    """nbgrader's rule (utils.get_partial_grade): a grade cell showing a number scores that number."""
    try:
        grade = float(repr(value))
    except ValueError:
        return max_points
    if grade > max_points:
        raise ValueError("partial credit cannot be greater than maximum points for cell")
    return grade if grade >= 0 else max_points


def solution_namespace(lab: str, cells: tuple[str, ...] = ()) -> dict:
    """The reference's definitions: the lab's setup and solution cells (and any named ``cells``),
    executed in notebook order in one namespace, headless.

    For benchmarks that time or train the reference without copying it out of solutions/.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__main__"}
    code = [c for c in load_source(lab) if c["cell_type"] == "code"]
    first_solution = next(i for i, c in enumerate(code) if _meta(c).get("solution"))
    for i, cell in enumerate(code):
        meta = _meta(cell)
        if i < first_solution or meta.get("solution") or meta.get("grade_id") in cells:
            source = MAGIC.sub("", "".join(cell["source"]))
            exec(compile(source, f"<{meta.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace


@contextlib.contextmanager
def _environ(values: Mapping[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items()})
    for k, v in values.items():
        if not v:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
