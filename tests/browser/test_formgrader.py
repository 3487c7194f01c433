"""Does nbgrader's formgrader, opened in a real browser, show the demo course as the TA expects?

``seqlab-grade demo`` builds a course (Lab 1 released, three example submissions autograded);
JupyterLab, started in that course with a two-line nbgrader_config.py, serves nbgrader's
formgrader. Headless Chromium opens its pages and compares what they show with the grade sheet
the demo wrote, and saves screenshots.
"""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from labserver import jupyter_lab, server_log

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
LAB = "01_rnn"
STUDENTS = {"reference", "blank", "buggy"}  # the demo's example submissions


def table_rows(page, first_cell: str) -> dict[str, list[str]]:
    """The formgrader's data table as {text of column ``first_cell``'s cell: all cell texts}."""
    page.wait_for_function("() => { const b = document.querySelector('table tbody');"
                           "  return b && b.innerText.trim() && !b.innerText.includes('Loading'); }", timeout=30_000)
    header = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    column = header.index(first_cell)
    rows = {}
    for row in page.locator("table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) == len(header):
            rows[cells[column]] = dict(zip(header, cells))
    return rows


def test_formgrader_shows_the_demo_course(page, artifacts, tmp_path):
    """Does the formgrader list Lab 1 with three submissions, and each demo student with the score of the grade sheet?"""
    course, home = tmp_path / "course", tmp_path / "home"
    home.mkdir()
    demo = subprocess.run([sys.executable, "-m", "autograder", "demo", "--course", str(course)], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, f"seqlab-grade demo failed:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    with open(course / "grades.csv", newline="") as f:
        sheet = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == LAB}
    assert set(sheet) == STUDENTS, f"the demo's grade sheet lists {sorted(sheet)}"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.Exchange.root = {str(course / 'exchange')!r}  # no /usr/local/share/nbgrader/exchange warning\n")

    with jupyter_lab(course, home) as (base, token):
        page.goto(f"{base}/formgrader?token={token}")
        assignments = table_rows(page, "Name")
        page.screenshot(path=str(artifacts / "formgrader_assignments.png"), full_page=True)
        page.goto(f"{base}/formgrader/manage_students?token={token}")
        students = table_rows(page, "Student ID")
        page.screenshot(path=str(artifacts / "formgrader_students.png"), full_page=True)
        page.goto(f"{base}/formgrader/manage_submissions/{LAB}?token={token}")
        submissions = table_rows(page, "Student ID")
        page.screenshot(path=str(artifacts / "formgrader_submissions.png"), full_page=True)
        log = server_log(home)

    assert LAB in assignments, f"the formgrader lists assignments {sorted(assignments)}, not {LAB}"
    assert assignments[LAB]["# Submissions"] == "3"
    for student, row in sheet.items():
        score = f"{float(row['score']):g} / {float(row['max_score']):g}"
        assert students.get(student, {}).get("Overall Score") == score, (
            f"Manage Students shows {students.get(student)} for {student}; the grade sheet says {score}")
        assert submissions.get(student, {}).get("Score") == score
        # written answers wait for the TA; a blank notebook has none, so only its code cells count
        want = "graded" if student == "blank" else "needs manual grading"
        assert submissions[student]["Status"] == want, (
            f"Manage Submissions shows {student} as {submissions[student]['Status']!r}, not {want!r}: code cells "
            "are saved with needs_manual_grade = False, written answers with True until the TA grades them")
    assert float(sheet["reference"]["max_score"]) > float(sheet["reference"]["score"]) > float(
        sheet["buggy"]["score"]) > float(sheet["blank"]["score"]) == 0
    assert "Traceback" not in log and "Unwritable directory" not in log, f"the server complained:\n{log[-3000:]}"
