"""A TA grades a written answer in nbgrader's formgrader, in a real browser, with the rubric in view.

A tiny lab with one written question (2 points) is released, one student answers it, and
autograde leaves it "needs manual grading". Headless Chromium opens the submission in the
formgrader: the rubric must show right below the answer, and the score and comment the TA types
there must reach the gradebook, the grade sheet, the per-test CSV and the student's page, which
never shows the rubric.
"""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import pytest

from labserver import jupyter_lab, server_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder"))
from labfactory import RUBRIC_MARK, written_course  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LAB = "00_written"
STUDENT = "ada"
ANSWER = "numpy broadcasts the scalar over the array, looping in compiled code"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from autograder.course import write_course_config
    course = written_course(tmp_path_factory.mktemp("written"), {STUDENT: {"why_scale": ANSWER}})
    write_course_config(course)
    return course


def _wait_until_saved(course, score, comment, seconds=120):
    """Poll the gradebook until the formgrader has saved the score and comment (or give up quietly:
    the assertions after the reload then say what is missing)."""
    from autograder.course import gradebook, nbgrader_env

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with nbgrader_env(), gradebook(course) as gb:
            grade = gb.find_grade("why_scale", LAB, LAB, STUDENT)
            saved = (grade.manual_score, gb.find_comment("why_scale", LAB, LAB, STUDENT).manual_comment)
        if saved == (score, comment):
            return
        time.sleep(0.25)


def test_ta_grades_a_written_answer_in_the_formgrader(page, artifacts, course, tmp_path):
    """Does the formgrader show the answer with its rubric below, and does the score and comment the
    TA types there come through in the gradebook, the exports and the student's page?"""
    from autograder import report
    from autograder.course import gradebook, nbgrader_env

    with nbgrader_env(), gradebook(course) as gb:
        submission = gb.find_submission_notebook(LAB, LAB, STUDENT).id
        assert gb.find_grade("why_scale", LAB, LAB, STUDENT).needs_manual_grade
    home = tmp_path / "home"
    home.mkdir()
    with jupyter_lab(course, home) as (base, token):
        page.goto(f"{base}/formgrader?token={token}")
        page.wait_for_selector("table tbody tr", timeout=60_000)
        page.goto(f"{base}/formgrader/submissions/{submission}/")
        page.wait_for_selector("#why_scale", timeout=60_000)
        text = page.inner_text("#notebook-container")
        page.fill("#why_scale", "1.5")
        page.press("#why_scale", "Tab")
        page.fill("#why_scale-comment", "Broadcasting, yes; say where the loop runs.")
        page.press("#why_scale-comment", "Tab")
        # The formgrader saves each field with a request of its own: reload only once the gradebook holds
        # both (a fixed half-second wait lost that race on a loaded machine, and the reload showed nothing).
        _wait_until_saved(course, 1.5, "Broadcasting, yes; say where the loop runs.")
        page.screenshot(path=str(artifacts / "formgrader_written.png"), full_page=True)
        page.reload()                         # what the server kept, not what the page holds
        page.wait_for_selector("#why_scale", timeout=60_000)
        page.wait_for_function("() => document.querySelector('#why_scale').value !== ''", timeout=60_000)
        kept = page.input_value("#why_scale"), page.input_value("#why_scale-comment")
        log = server_log(home)

    assert ANSWER in text and RUBRIC_MARK in text and "1 point: names broadcasting" in text
    assert text.index(ANSWER) < text.index(RUBRIC_MARK), "the rubric is not below the answer"
    assert kept == ("1.5", "Broadcasting, yes; say where the loop runs."), kept
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-3000:]}"
    exports = report.export_all(course, LAB)
    sheet = {r["student_id"]: r for r in csv.DictReader(exports["grades"].read_text(encoding="utf-8").splitlines())}
    assert float(sheet[STUDENT]["score"]) == 3 + 1 + 1.5
    tests = {r["test"]: r for r in csv.DictReader(exports["tests"].read_text(encoding="utf-8").splitlines())}
    assert (tests["why_scale"]["status"], float(tests["why_scale"]["points"])) == ("graded", 1.5)
    pages = report.feedback_pages(course, LAB, STUDENT)
    assert "say where the loop runs" in next(p for p in pages if p.name == "results.html").read_text()
    assert all(RUBRIC_MARK not in p.read_text() for p in pages)
