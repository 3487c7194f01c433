"""Written answers end to end on a tiny lab: release, autograde, the TA's grade, exports and feedback.

A written question is a markdown answer cell nbgrader grades by hand. Autograde must leave it
waiting for the TA (an empty answer scores 0 at once), the TA's copy must show the rubric right
below the answer, the TA's score and comment must reach every export and the student's page, and
no student-facing page may show the rubric.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder import report
from autograder.course import gradebook, nbgrader_env, release_notebook
from autograder.pages import CSP_META
from autograder.results import load_result
from labfactory import RUBRIC_MARK, written_course

LAB = "00_written"
ANSWER = "Broadcasting: numpy applies the scalar to every entry, in its own compiled loop."


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return written_course(tmp_path_factory.mktemp("written"), {
        "answered": {"why_scale": ANSWER, "q_pick": 'q_pick = " B "'},
        "blank": {"why_scale": "YOUR ANSWER HERE", "q_pick": 'q_pick = "a"'}})


def _test(course, student, name="why_scale"):
    return next(t for t in load_result(course, LAB, student).tests if t.name == name)


def test_the_student_notebook_has_the_question_and_no_model_answer(course):
    """Does the released notebook ask the question with an empty answer cell, and hold no rubric?"""
    released = nbformat.writes(nbformat.read(str(release_notebook(course, LAB)), as_version=4))
    assert "Why does `scale` not need a loop?" in released and "YOUR ANSWER HERE" in released
    assert RUBRIC_MARK not in released


def test_autograde_leaves_the_answer_to_the_ta_and_zeroes_a_blank_one(course):
    """Is an answer marked as needing manual grading (0 points until graded), and a blank one 0 with why?"""
    answered, blank = _test(course, "answered"), _test(course, "blank")
    assert (answered.status, answered.points, answered.max_points) == ("needs_grading", 0.0, 2.0)
    assert (blank.status, blank.points) == ("failed", 0.0) and "no answer" in blank.message
    assert _test(course, "answered", "test_add").status == "passed"


def test_a_multiple_choice_answer_is_compared_outside_the_kernel(course):
    """Is " B " the right letter, in any case and spacing, and "a" a wrong one, without the visible check saying so?"""
    right, wrong = _test(course, "answered", "test_q_pick"), _test(course, "blank", "test_q_pick")
    assert (right.status, right.points) == ("passed", 1.0)
    assert (wrong.status, wrong.points) == ("hidden_failed", 0.0) and "'b'" not in wrong.message
    with nbgrader_env(), gradebook(course) as gb:
        assert gb.find_grade("why_scale", LAB, LAB, "answered").needs_manual_grade


def test_the_tas_copy_shows_the_rubric_below_the_answer(course):
    """Does the autograded notebook (what the formgrader shows) hold the rubric right after the answer?"""
    nb = nbformat.read(str(course / "autograded" / "answered" / LAB / f"{LAB}.ipynb"), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "why_scale")
    assert ANSWER in nb.cells[index].source
    assert RUBRIC_MARK in nb.cells[index + 1].source and "1 point: names broadcasting" in nb.cells[index + 1].source


def test_the_tas_grade_reaches_every_export_and_no_page_shows_the_rubric(course):
    """After the TA grades the answer 1.5/2 with a comment, do the grade sheet, per-test CSV, Gradescope
    results, class report and the student's pages carry it, and do the feedback pages leave out the rubric?"""
    with nbgrader_env(), gradebook(course) as gb:
        grade = gb.find_grade("why_scale", LAB, LAB, "answered")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.find_comment("why_scale", LAB, LAB, "answered").manual_comment = "Broadcasting, yes; say where the loop runs."
        gb.db.commit()
    exports = report.export_all(course, LAB)
    rows = {(r["student"], r["test"]): r for r in csv.DictReader(exports["tests"].read_text(encoding="utf-8").splitlines())}
    assert float(rows["answered", "why_scale"]["points"]) == 1.5 and rows["answered", "why_scale"]["status"] == "graded"
    sheet = {r["student_id"]: r for r in csv.DictReader(exports["grades"].read_text(encoding="utf-8").splitlines())}
    assert float(sheet["answered"]["score"]) == 3 + 1 + 1.5 and float(sheet["answered"]["max_score"]) == 6
    gradescope = json.loads((exports["gradescope"] / "answered" / "results.json").read_text())
    assert gradescope["score"] == 5.5
    assert "why_scale" in exports["report"].read_text()
    pages = report.feedback_pages(course, LAB, "answered")
    results_page = next(p for p in pages if p.name == "results.html").read_text()
    assert "say where the loop runs" in results_page and "1.5" in results_page
    for page in pages:
        assert RUBRIC_MARK not in page.read_text(), f"{page.name} shows the rubric"
    notebook_page = next(p for p in pages if p.name == f"{LAB}.html").read_text()
    assert ANSWER in notebook_page


def test_the_formgraders_own_feedback_button_shows_no_rubric_and_runs_no_script(course):
    """The formgrader's "Generate feedback" runs nbgrader with only the course's nbgrader_config.py:
    does that page, too, leave out the rubric and model answer and carry our Content-Security-Policy?"""
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", LAB, "--force", "--student", "answered"],
                         cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    page = (course / "feedback" / "answered" / LAB / f"{LAB}.html").read_text(encoding="utf-8")
    assert ANSWER in page and RUBRIC_MARK not in page
    head = page[page.index("<head"):]
    assert head[head.index(">") + 1:].lstrip().startswith(CSP_META)


def _resubmit(course, overrides):
    """The student 'answered' hands in again, and the class is autograded again."""
    from autograder import pipeline
    from autograder.course import source_notebook
    from autograder.release import write_notebook
    from autograder.sandbox import Limits
    from autograder.submissions import fill_solutions
    released = nbformat.read(str(release_notebook(course, LAB)), as_version=4)
    source = nbformat.read(str(source_notebook(course.parent / "repo", LAB)), as_version=4)
    write_notebook(fill_solutions(released, source, overrides), course / "submitted" / "answered" / LAB / f"{LAB}.ipynb")
    pipeline.autograde(course, LAB, workers=1, progress=False, limits=Limits(cell_seconds=60, notebook_seconds=300))
    from autograder.written import with_written_grades
    result = with_written_grades(course, LAB, [load_result(course, LAB, "answered")])[0]
    return next(t for t in result.tests if t.name == "why_scale")


def test_a_resubmission_keeps_the_tas_grade_only_while_the_answer_is_the_same(course):
    """After the TA's grade, does a resubmission that changes only code keep it, and one that changes
    the written answer go back to the TA?"""
    with nbgrader_env(), gradebook(course) as gb:
        grade = gb.find_grade("why_scale", LAB, LAB, "answered")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.db.commit()
    kept = _resubmit(course, {"why_scale": ANSWER, "q_pick": 'q_pick = "b"'})
    assert (kept.status, kept.points) == ("graded", 1.5)
    changed = _resubmit(course, {"why_scale": ANSWER + " It also works on arrays.", "q_pick": 'q_pick = "b"'})
    assert (changed.status, changed.points) == ("needs_grading", 0.0)
    with nbgrader_env(), gradebook(course) as gb:
        grade = gb.find_grade("why_scale", LAB, LAB, "answered")
        assert grade.manual_score is None and grade.needs_manual_grade
