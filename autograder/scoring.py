"""Scoring, in the grader's process: what each grade cell earned, from facts the kernel can't fake.

Inputs are what the runner saw (each cell's status, from outside the sandbox), the outputs the
hidden tests emitted (``seqlab.grading`` in emit mode: numbers only, decoded without pickle),
and the reference outputs recorded at release, which never enter the sandbox. A grade cell
earns its points only when every hidden case it recorded at release was emitted and matches the
reference, its visible tests ran without error, and its code breaks no static rule
(``rules.py``). A visible test that failed only to blame an earlier part that lost its own points
is excused: the part's hidden tests, which run it with the tests' own earlier parts, decide alone,
and strictly (``after_blame``), so a correct part earns its points on its own merit. Each case is emitted before any in-kernel check runs, so a submission that
patches the check helpers, redefines ``matches_reference`` or hides its tracebacks gains
nothing: the cases are compared here, with the grader's own copy of the comparison code. An
in-kernel check that fails in the hidden part only names the failure; it never overrules cases
that were all emitted and match.

All functions here are pure (no kernel, no files but ``read_emitted``), in the spirit of
nbgrader's ``utils.py``.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from seqlab.checks import blamed_part
from seqlab.grading import ReferenceMismatch, compare, decode, stage_key

from .preprocessors import error_stage as output_stage, hidden_begin
from .repair import definitions
from .results import TestResult
from .runner import CellRun
from .written import written_cells, written_result

# Longest message kept per test (a student's exception text can be anything).
MESSAGE_CHARS = 2000
# Most bytes of emitted outputs read per submission (cases beyond them count as missing).
EMITTED_BYTES = 64 * 2**20
# An out-of-memory error as Python, numpy and torch word it ("DefaultCPUAllocator: can't allocate memory").
OUT_OF_MEMORY = re.compile(r"^\w*MemoryError\b|can't allocate memory|out of memory", re.IGNORECASE)


def read_emitted(path: Path) -> Dict[str, Any]:
    """Key -> the last value emitted for it; lines that don't decode are skipped (only the
    submission that wrote them can suffer from that).

    The file is in the submission's writable folder: it is read only if it is a regular file (no
    link followed, no FIFO waited on), and only its first ``EMITTED_BYTES``."""
    emitted: Dict[str, Any] = {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:          # missing, or a link
        return emitted
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return emitted
        data = f.read(EMITTED_BYTES)
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            emitted[str(record["key"])] = decode(record["value"])
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return emitted


def grade_cells(nb) -> List[Tuple[int, str, float]]:
    """(cell index, grade id, points) of every autograded cell, in notebook order."""
    found = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            found.append((index, meta["grade_id"], float(meta.get("points", 0))))
    return found


# Errors raised by the labs' checks: in a hidden case their text would show expected values.
CHECK_ERRORS = ("CheckFailed", "AssertionError", "ReferenceMismatch")


def score_cell(name: str, points: float, run: CellRun, cases: Sequence[str],
               emitted: Mapping[str, Any], reference: Mapping[str, Any],
               tolerances: Optional[Mapping[str, Sequence[float]]] = None,
               broken: Optional[str] = None, stage: str = "visible", excused: Optional[str] = None) -> TestResult:
    """The verdict for one grade cell (see the module docstring for the rule). ``broken`` is the
    static rule the part's code breaks (``autograder.rules``), which costs the points whatever ran;
    ``stage`` is where an error was raised: "visible", "hidden" or "unknown" (``error_stage``);
    ``excused``: the earlier part whose failure excuses the visible test's (``excused_by``)."""
    def result(status: str, message: str = "") -> TestResult:
        return TestResult(name, points if status == "passed" else 0.0, points, status,
                          _short(message), round(run.seconds, 3))

    if broken:
        return result("forbidden", broken)
    if excused is not None:
        return result(*after_blame(name, excused, run, cases, emitted, reference, tolerances))
    hidden = stage == "hidden" or stage_key(name) in emitted
    ename = run.error.split(":", 1)[0].strip()
    if run.status == "error" and not OUT_OF_MEMORY.search(run.error) and (hidden or stage == "unknown"):
        # a hidden case raised: say so, never with the check's expected values (nor when it is
        # unknown where a check failed: the submission hid its traceback)
        if ename in CHECK_ERRORS:
            verdict = cases_verdict(cases, emitted, reference, tolerances)
            if hidden and cases and verdict is None:
                return result("passed")   # every case emitted and matching: the kernel's own check has no say
            if hidden and verdict is not None and verdict[0] == "hidden_failed":
                return result(*verdict)
            where = "a hidden case (other shapes or inputs)" if hidden else "a test (its traceback was hidden)"
            return result("hidden_failed" if hidden else "failed",
                          f"{where} differs from the reference: test your function on other shapes, "
                          "batch size 1 and length 1")
        if hidden:
            return result("hidden_failed", f"a hidden case (other shapes or inputs) raised {run.error}")
    if run.status == "error":
        if OUT_OF_MEMORY.search(run.error):
            return result("memory", run.error + "\n(the kernel ran out of memory: look for a "
                          "tensor that grows with the loop, or a huge intermediate)")
        if run.error.rstrip(": ") == "NotImplementedError":
            return result("failed", "NotImplementedError: not attempted (the function still raises "
                                    "NotImplementedError: replace the YOUR CODE HERE stub)")
        return result("failed", run.error)
    if run.status in ("timeout", "died", "not_run"):
        return result(run.status, run.error)
    verdict = cases_verdict(cases, emitted, reference, tolerances)
    return result(*verdict) if verdict is not None else result("passed")


def excused_by(name: str, run: CellRun, earlier: Mapping[str, bool]) -> Optional[str]:
    """The earlier part whose failure excuses the visible test of ``name``: the one its error blames
    (``seqlab.checks.blamed_part``), when that part's own cell, scored here before (``earlier``: grade
    id -> passed), lost its points. The blame is the kernel's word; that the blamed part failed is
    the grader's, so a blame made up to skip the visible test gains nothing."""
    part = blamed_part(run.error, name) if run.status == "error" else None
    return part if part is not None and earlier.get(part) is False else None


def after_blame(name: str, part: str, run: CellRun, cases: Sequence[str], emitted: Mapping[str, Any],
                reference: Mapping[str, Any], tolerances=None) -> Tuple[str, str]:
    """(status, message) of a part whose visible test was excused: its hidden tests, which run it with
    the tests' own ``part`` in place of the student's, decide. They must run to the end without an
    error (the visible checks run again in them) and every case must match the reference."""
    after = run.after_blame
    if after is None or after.status != "ok" or not cases:
        if after is not None and after.status == "error" and blamed_part(after.error, name) is None:
            ename = after.error.split(":", 1)[0].strip()
            what = "differs from the reference" if ename in CHECK_ERRORS else f"raised {after.error}"
            return "hidden_failed", (f"{run.error}\nWith the tests' own {part} in its place, {name} still fails: a "
                                     f"hidden case (other shapes or inputs) {what}")
        return "failed", run.error
    verdict = cases_verdict(cases, emitted, reference, tolerances)
    if verdict is not None:
        return verdict[0], f"{run.error}\nWith the tests' own {part} in its place, {name} still fails: {verdict[1]}"
    return "passed", (f"{name} was graded on its hidden cases, run with the tests' own {part} in place of yours "
                      f"(yours fails its own test): they all match")


def cases_verdict(cases: Sequence[str], emitted: Mapping[str, Any], reference: Mapping[str, Any],
                  tolerances: Optional[Mapping[str, Sequence[float]]] = None) -> Optional[Tuple[str, str]]:
    """(status, message) of the first hidden case, in order, that was not emitted or differs from
    the reference; None when every one was emitted and matches."""
    for key in cases:
        if key not in emitted:
            return "missing", (f"hidden case {key} was never checked: the cell stopped before it, or the "
                               "check was replaced")
        if key not in reference:
            return "ungraded", f"hidden case {key} has no recorded reference: release the lab again"
        try:
            rtol, atol = (tolerances or {}).get(key, (None, None))   # as recorded; else by the reference's dtype
            compare(key, emitted[key], reference[key], rtol=rtol, atol=atol)
        except ReferenceMismatch as err:
            return "hidden_failed", str(err)
        except Exception as err:  # a malformed emission is the submission's own failure
            return "hidden_failed", f"hidden case {key}: the output could not be compared ({err})"
    return None


def score(nb, runs: Mapping[int, CellRun], cases: Mapping[str, Sequence[str]],
          emitted: Mapping[str, Any], reference: Mapping[str, Any],
          tolerances: Optional[Mapping[str, Sequence[float]]] = None,
          broken: Optional[Mapping[str, str]] = None) -> List[TestResult]:
    """Every grade cell of ``nb``, scored, in notebook order (a written answer as ``needs_grading``);
    ``broken`` maps grade ids to the static rule broken."""
    tests: List[TestResult] = []
    written = {i: p for i, _, p in written_cells(nb)}
    for index, name, points in sorted(grade_cells(nb) + written_cells(nb)):
        if index in written:           # a TA grades it; nothing the kernel did counts
            tests.append(written_result(nb.cells[index], points))
            continue
        run = runs.get(index, CellRun(index, "not_run", "not run"))
        excused = excused_by(name, run, {t.name: t.status == "passed" for t in tests})
        test = score_cell(name, points, run, cases.get(name, ()), emitted, reference, tolerances,
                          (broken or {}).get(name), error_stage(nb.cells[index]), excused)
        blocked = blocked_by(nb, runs, index, run) if test.status == "failed" else None
        if blocked is not None:
            test.status, test.message = blocked
        tests.append(test)
    return tests


UNDEFINED = re.compile(r"^NameError: name '(\w+)' is not defined")
# What a cell's run says when it stopped for a reason outside the student's logic.
STOPPED = {"timeout": "timed out", "died": "made the kernel die", "memory": "ran out of memory"}


def blocked_by(nb, runs: Mapping[int, CellRun], index: int, run: CellRun) -> Optional[Tuple[str, str]]:
    """(status, message) when a test failed only because the cell that defines the name it missed
    timed out, died or ran out of memory: the TA may regrade it with a longer --timeout."""
    missing = UNDEFINED.match(run.error or "")
    if missing is None:
        return None
    name = missing.group(1)
    for earlier in range(index - 1, -1, -1):
        cell = nb.cells[earlier]
        if cell.get("cell_type") != "code" or name not in definitions(str(cell.get("source", "")))[1]:
            continue
        before = runs.get(earlier)
        if before is None:
            return None
        status = "memory" if before.status == "error" and OUT_OF_MEMORY.search(before.error) else before.status
        if status not in STOPPED:
            return None
        return status, (f"the cell that defines `{name}` {STOPPED[status]} ({_short(before.error)[:200]}), so "
                        "this test could not run it; ask your TA to regrade if your code is fast locally")
    return None


def error_stage(cell) -> str:
    """Where in a grade cell its first error was raised: "hidden" (after the ``### BEGIN HIDDEN
    TESTS`` line), "visible", or "unknown" (no traceback to read); ``preprocessors.error_stage``."""
    begin = hidden_begin(str(cell.get("source", "")))
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return output_stage(out, begin)
    return "visible"


def _short(message: str) -> str:
    message = message.strip()
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + " …[cut]"
