"""Tests of autograder/report.py: feedback pages and the CSV grade sheet."""
from __future__ import annotations

import csv

from autograder.report import export_csv
from labfactory import HIDDEN_MARK, TINY_LAB


def test_feedback_page_per_student(graded):
    """Is there one feedback page per graded student?"""
    pages = sorted(p.parts[-3] for p in (graded.course / "feedback").glob(f"*/{TINY_LAB}/{TINY_LAB}.html"))
    assert pages == ["blank", "buggy", "reference", "sneaky"]


def test_feedback_never_shows_hidden_tests(graded):
    """Do feedback pages leave out hidden test source, which the autograded notebooks do contain?"""
    autograded = graded.course / "autograded" / "reference" / TINY_LAB / f"{TINY_LAB}.ipynb"
    assert HIDDEN_MARK in autograded.read_text()  # what nbgrader alone would render
    for page in (graded.course / "feedback").glob(f"*/{TINY_LAB}/{TINY_LAB}.html"):
        html = page.read_text()
        assert HIDDEN_MARK not in html and "HIDDEN TESTS" not in html, page


def test_failed_hidden_test_shows_message_not_source(graded):
    """Does a failed hidden test show its one-line reason without quoting the test's code?"""
    html = (graded.course / "feedback" / "sneaky" / TINY_LAB / f"{TINY_LAB}.html").read_text()
    assert "HiddenTestFailed" in html and "tiny/add/arrays" in html
    assert "matches_reference(" not in html.replace("from seqlab.grading import matches_reference", "")


def test_csv_grade_sheet(graded, tmp_path):
    """Does the CSV hold one row per student with nbgrader's score and max score?"""
    text = export_csv(graded.course, tmp_path / "g.csv").read_text()
    rows = {r["student_id"]: r for r in csv.DictReader(text.splitlines())}
    assert set(rows) == {"reference", "blank", "buggy", "sneaky"}
    assert (float(rows["reference"]["score"]), float(rows["reference"]["max_score"])) == (3.0, 3.0)
    assert float(rows["buggy"]["score"]) == 1.0 and rows["buggy"]["assignment"] == TINY_LAB
