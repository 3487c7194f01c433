"""Our nbgrader preprocessors, each a thin wrapper over a pure function.

- ``DemoteStderr`` (autograde, between LimitOutput and SaveAutoGrades): nbgrader's
  ``utils.determine_grade`` gives zero to a grade cell with *any* ``stderr`` stream output, so
  a PyTorch or NumPy warning, or a progress bar, would zero a correct answer. In a grade cell
  that raised no error, stderr streams become stdout streams whose lines start with
  ``[stderr] `` (the text stays visible in the feedback); only real errors cost points.
- ``DropRubrics`` (feedback): the TA-only rubric cells below written answers are removed.
- ``HideHiddenTests`` (feedback): nbgrader 0.9.6 renders the autograded notebook, which holds
  the hidden tests restored from the source, and a failing hidden test's traceback quotes its
  source lines. In every cell that had a hidden-test region the region is removed, error
  tracebacks are cut to their last line (``ReferenceMismatch: hidden case …``), and an error raised
  in the hidden region keeps only its name (a check's message there holds values the student never saw).

The rules are the functions ``demote_stderr`` and ``hide_hidden_tests``; they take and return a
notebook cell (``NotebookNode``) and need no kernel, in the spirit of nbgrader's ``utils.py``.

A submission can also *print* the hidden tests while they run (``In[-1]``, ``inspect`` on the
caller's frame, an exception carrying the source). So the grader, before it saves anything, passes
every output through ``redact_hidden_lines``: a line of output holding a line of hidden-test source
becomes ``HIDDEN_LINE``, in results, feedback and the formgrader alike. Tracebacks of cells with
hidden tests are left for the TA (feedback cuts them, above). Text the student transforms first
(encoded, reversed) is not recognised.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Pattern, Tuple

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
STDERR_PREFIX = "[stderr] "
HIDDEN_LINE = "[hidden test line removed]"
HIDDEN_ERROR = "raised in a hidden test (other shapes or inputs): the grade for this cell says what to test"
# Hidden-test lines shorter than this (``)``, ``else:``) are too common to be worth hiding.
MIN_HIDDEN_LINE = 12
BINARY_MIMES = ("image/png", "image/jpeg", "image/gif")   # base64: no source text in them


def is_grade_cell(cell: NotebookNode) -> bool:
    """Is this an autograded code cell (nbgrader ``grade: true``)?"""
    return cell.get("cell_type") == "code" and bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def has_error(cell: NotebookNode) -> bool:
    """Did this cell raise (an ``error`` output, e.g. a failed assert or a timeout)?"""
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


def demote_stderr(cell: NotebookNode) -> NotebookNode:
    """In a grade cell without an error, turn stderr streams into prefixed stdout streams."""
    if not is_grade_cell(cell) or has_error(cell):
        return cell
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            out["name"] = "stdout"
            out["text"] = "".join(STDERR_PREFIX + line for line in out["text"].splitlines(keepends=True))
    return cell


def strip_hidden_tests(source: str) -> Tuple[str, bool]:
    """``source`` without its hidden-test regions (marker lines included), and whether it had any."""
    kept, inside, found = [], False, False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside, found = True, True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), found


def hidden_begin(source: str) -> Optional[int]:
    """The line number (1-based) of the ``BEGIN HIDDEN TESTS`` line of a cell's ``source``, or None."""
    return next((i + 1 for i, line in enumerate(source.split("\n")) if BEGIN_HIDDEN in line), None)


def hidden_part(source: str) -> str:
    """The hidden tests of a cell's ``source``, from the ``BEGIN HIDDEN TESTS`` line (kept, with the
    stage mark the grader puts after it) to the end, below as many comment lines as the visible part
    had (IPython drops leading blank ones), so that a traceback's line numbers are the whole cell's;
    "" when it has none."""
    begin = hidden_begin(source)
    return "" if begin is None else "#\n" * (begin - 1) + "\n".join(source.split("\n")[begin - 1:])


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\]|<ipython-input-[^>]*>|File <[^>]*>), line (\d+)")


def error_stage(output, begin: Optional[int]) -> str:
    """Where in its cell an error output was raised, from the traceback's line in that cell: "hidden"
    (below line ``begin``, the ``BEGIN HIDDEN TESTS`` line), "visible", or "unknown" (no traceback to read)."""
    found = CELL_LINE.search(ANSI.sub("", "\n".join(str(t) for t in output.get("traceback") or [])))
    if found is None:
        return "unknown"
    return "hidden" if begin is not None and int(found.group(1)) > begin else "visible"


def hide_hidden_tests(cell: NotebookNode) -> NotebookNode:
    """Remove hidden-test regions from the cell and cut its tracebacks to the final line."""
    if cell.get("cell_type") != "code":
        return cell
    begin = hidden_begin(str(cell.get("source", "")))
    cell["source"], found = strip_hidden_tests(cell.get("source", ""))
    if found:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if error_stage(out, begin) == "hidden":   # a check's message there names unseen values
                    out["evalue"] = HIDDEN_ERROR
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
    return cell


def hidden_lines_pattern(cells: Iterable[NotebookNode]) -> Optional[Pattern[str]]:
    """A regex matching any hidden-test source line of these cells that is not also visible, or None."""
    hidden, visible = set(), set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        shown, found = strip_hidden_tests(source)
        visible.update(line.strip() for line in shown.split("\n"))
        if found:
            hidden.update(line.strip() for line in source.split("\n")
                          if len(line.strip()) >= MIN_HIDDEN_LINE and BEGIN_HIDDEN not in line and END_HIDDEN not in line)
    secret = sorted(hidden - visible, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, secret))) if secret else None


def redact_text(text: str, pattern: Optional[Pattern[str]]) -> str:
    """``text`` with every line that holds a hidden-test line replaced by ``HIDDEN_LINE``."""
    if not pattern or not text or not pattern.search(text):
        return text
    return "\n".join(HIDDEN_LINE if pattern.search(line) else line for line in text.split("\n"))


def redact_hidden_lines(cell: NotebookNode, pattern: Optional[Pattern[str]]) -> NotebookNode:
    """The cell's outputs (streams, displayed and returned values, error values; the tracebacks of
    cells without hidden tests) with hidden-test lines replaced by ``HIDDEN_LINE``."""
    if not pattern or cell.get("cell_type") != "code":
        return cell
    keep_traceback = strip_hidden_tests(cell.get("source", ""))[1]
    for out in cell.get("outputs", []):
        if "text" in out:
            out["text"] = redact_text(_joined(out["text"]), pattern)
        for mime, value in (out.get("data") or {}).items():
            if isinstance(value, (str, list)) and mime not in BINARY_MIMES:
                out["data"][mime] = redact_text(_joined(value), pattern)
        if out.get("output_type") == "error":
            out["evalue"] = redact_text(out.get("evalue", ""), pattern)
            if not keep_traceback:
                out["traceback"] = [redact_text(line, pattern) for line in out.get("traceback", [])]
    return cell


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else value


class _CellRule(NbGraderPreprocessor):
    """An nbgrader preprocessor applying one pure cell rule."""

    rule = staticmethod(lambda cell: cell)

    def preprocess_cell(self, cell, resources, cell_index):
        return self.rule(cell), resources


class DemoteStderr(_CellRule):
    """Autograde step: library noise on stderr never zeros a correct answer."""

    rule = staticmethod(demote_stderr)


class HideHiddenTests(_CellRule):
    """Feedback step: no hidden test source reaches a student."""

    rule = staticmethod(hide_hidden_tests)


class DropRubrics(NbGraderPreprocessor):
    """Feedback step: the TA-only cells holding written answers' rubrics (``written.add_rubrics``) go."""

    def preprocess(self, nb, resources):
        from .written import drop_rubrics
        return drop_rubrics(nb), resources
