"""Written answers: markdown cells a TA grades by hand, beside the rubric only the source holds.

A written question in ``solutions/`` is a markdown answer cell with nbgrader's ``grade`` and
``solution`` set and its points. Its text is the model answer and the rubric, between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; ``generate_assignment`` replaces them with
"YOUR ANSWER HERE", so ``labs/`` and the student never see them. Nothing a kernel runs decides
these points:

- autograde records each answer as ``needs_grading`` (an answer left as the stub, or blank, scores
  0 at once) and marks it in nbgrader's gradebook as needing manual grading;
- the TA's copy of the graded notebook (``autograded/``, what the formgrader shows) carries the
  model answer and rubric in a cell right below each answer (``add_rubrics``); feedback drops those
  cells (``drop_rubrics``), so no student page shows one;
- the TA grades the answer in the formgrader, and every export reads the score and comment back
  from the gradebook (``with_written_grades``).

Pure functions over notebooks, but for ``with_written_grades``, which reads the gradebook.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import nbformat

from .results import SubmissionResult, TestResult

STUB = "YOUR ANSWER HERE"
# Metadata of a TA-only cell: {"seqlab": {"rubric_for": <grade id>}}.
RUBRIC_KEY = "rubric_for"
SOLUTION = re.compile(r"^[ \t]*#*[ \t]*BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*#*[ \t]*END SOLUTION[^\n]*$",
                      re.DOTALL | re.MULTILINE)
RUBRIC_HEADING = "**For the TA: model answer and rubric.** Students never see this cell."


def _meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def is_written(cell) -> bool:
    """Is this a written answer: a markdown cell nbgrader grades by hand (``grade`` and ``solution``)?"""
    meta = _meta(cell)
    return cell.get("cell_type") == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def written_cells(nb) -> List[Tuple[int, str, float]]:
    """(cell index, grade id, points) of every written answer, in notebook order."""
    return [(i, _meta(c)["grade_id"], float(_meta(c).get("points", 0))) for i, c in enumerate(nb.cells) if is_written(c)]


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def answered(cell) -> bool:
    """Does the cell hold an answer: anything but blanks and the "YOUR ANSWER HERE" stub?"""
    return bool(_text(cell).replace(STUB, "").strip())


def written_result(cell, points: float) -> TestResult:
    """The autograder's verdict on a written answer: ``needs_grading`` for the TA, or 0 when there is none."""
    name = _meta(cell)["grade_id"]
    if not answered(cell):
        return TestResult(name, 0.0, points, "failed", f"no answer: the cell still says {STUB}")
    return TestResult(name, 0.0, points, "needs_grading", "a written answer: your TA grades it by hand")


def rubrics(source) -> Dict[str, str]:
    """Grade id -> the model answer and rubric of each written question of a source notebook (the
    text between its BEGIN and END SOLUTION lines, or the whole cell without them)."""
    found = {}
    for cell in filter(is_written, source.cells):
        text = _text(cell)
        regions = SOLUTION.findall(text)
        found[_meta(cell)["grade_id"]] = "\n\n".join(r.strip() for r in regions) if regions else text.strip()
    return found


def add_rubrics(nb, rubric: Dict[str, str]):
    """``nb`` with a TA-only cell holding the rubric right below each written answer it has one for."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        name = _meta(cell).get("grade_id")
        if is_written(cell) and name in rubric:
            note = nbformat.v4.new_markdown_cell(f"{RUBRIC_HEADING}\n\n{rubric[name]}",
                                                 metadata={"seqlab": {RUBRIC_KEY: name}})
            note.id = f"rubric-{name}"[:64]
            cells.append(note)
    nb.cells = cells
    return nb


def is_rubric(cell) -> bool:
    return RUBRIC_KEY in ((cell.get("metadata") or {}).get("seqlab") or {})


def drop_rubrics(nb):
    """``nb`` without the TA-only rubric cells (what a student's feedback is made from)."""
    nb.cells = [c for c in nb.cells if not is_rubric(c)]
    return nb


def with_written_grades(course: os.PathLike, lab: str, results: Sequence[SubmissionResult]) -> List[SubmissionResult]:
    """``results`` with each written answer's score and comment as the TA gave them in the
    gradebook: ``graded`` with the TA's points, or still ``needs_grading``."""
    waiting = {(r.student, t.name) for r in results for t in r.tests if t.status in ("needs_grading", "graded")}
    if not waiting:
        return list(results)
    from .course import gradebook, nbgrader_env

    given: Dict[Tuple[str, str], Tuple[float, str]] = {}
    with nbgrader_env(), gradebook(Path(course)) as gb:
        for student, name in waiting:
            try:
                grade = gb.find_grade(name, lab, lab, student)
            except Exception:  # never autograded into this gradebook: nothing given yet
                continue
            if grade.manual_score is None:
                continue
            try:
                comment = gb.find_comment(name, lab, lab, student).comment or ""
            except Exception:
                comment = ""
            given[student, name] = float(grade.manual_score), comment
    for r in results:
        for t in r.tests:
            if (r.student, t.name) in given:
                t.points, comment = given[r.student, t.name]
                t.status = "graded"
                t.message = comment or f"graded by your TA: {t.points:g} of {t.max_points:g}"
            elif t.status == "graded":
                t.status, t.points = "needs_grading", 0.0
    return list(results)
