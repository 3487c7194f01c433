"""Tests of autograder/grade.py: collecting submissions, autograding, the score table."""
from __future__ import annotations

import pickle
import time

import nbformat
import numpy as np
import pytest

from autograder import grade
from autograder.course import GradingError, reference_store, release_notebook
from autograder.release import release, write_notebook
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB


def test_find_submissions_accepts_both_layouts(tmp_path):
    """Are <student>.ipynb and <student>/<lab>.ipynb both found, with safe student ids?"""
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana" / f"{TINY_LAB}.ipynb").write_text("{}")
    (tmp_path / "Copy of bo.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    found = grade.find_submissions(tmp_path, TINY_LAB)
    assert sorted(found) == ["Copy_of_bo", "ana"]


def test_empty_folder_says_what_was_expected(tmp_path):
    """Does an empty submissions folder fail with the expected layout?"""
    with pytest.raises(GradingError, match="<student>.ipynb"):
        grade.find_submissions(tmp_path, TINY_LAB)


def test_score_table_per_grade_cell(graded):
    """Do reference, blank, buggy and sneaky get the points each grade cell should give them?"""
    table = graded.table
    assert table.cells == ["test_add", "test_scale"]
    assert table.max_points == {"test_add": 2.0, "test_scale": 1.0}
    assert table["reference"] == {"test_add": 2, "test_scale": 1, "total": 3}
    assert table["blank"] == {"test_add": 0, "test_scale": 0, "total": 0}
    assert table["buggy"] == {"test_add": 0, "test_scale": 1, "total": 1}
    assert table["sneaky"]["test_add"] == 0  # passes the visible test, fails the hidden one
    assert {row["student"] for row in table.rows} == {"reference", "blank", "buggy", "sneaky"}


def test_score_table_prints_points_over_max(graded):
    """Does the printed table show points/max per cell and the total per student?"""
    text = graded.table.format()
    assert text.splitlines()[0].split() == ["student", "test_add", "test_scale", "total"]
    assert "reference  2/2       1/1         3/3" in text


def test_autograde_before_release_says_to_release(tmp_path):
    """Does autograding a course with no recorded reference ask for a release first?"""
    with pytest.raises(GradingError, match="seqlab-grade release"):
        grade.autograde(tmp_path, TINY_LAB, ["ana"])


def test_broken_or_runaway_notebook_does_not_stop_the_others(tiny_repo, tmp_path):
    """Is an unreadable submission reported, a runaway cell cut at the timeout, a record-mode cheat refused?"""
    course = tmp_path / "course"
    release(TINY_LAB, course, repo=tiny_repo, skip=["record_reference"])
    store = reference_store(course, TINY_LAB)
    store.parent.mkdir(exist_ok=True)
    store.write_bytes(pickle.dumps({"tiny/add/arrays": np.arange(3.0) + 1, "tiny/scale/neg": np.arange(4.0) * -0.5}))
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.ipynb").write_text("this is not a notebook")
    runaway = "import time\ntime.sleep(120)\n\ndef add(a, b):\n    return a + b"
    write_notebook(fill_solutions(released, source, {"add": runaway}), inbox / "runaway.ipynb")
    cheat = ("import os\nos.environ['SEQLAB_REFERENCE_MODE'] = 'record'\n\n"
             "def add(a, b):\n    return a + b if np.ndim(a) == 0 else a * b")
    write_notebook(fill_solutions(released, source, {"add": cheat}), inbox / "a_cheater.ipynb")
    write_notebook(fill_solutions(released, source), inbox / "honest.ipynb")
    recorded = store.read_bytes()
    start = time.monotonic()
    problems = grade.autograde(course, TINY_LAB, grade.collect(inbox, course, TINY_LAB), cell_timeout=3)
    assert time.monotonic() - start < 60
    assert list(problems) == ["broken"] and "NotJSONError" in problems["broken"]
    table = grade.score_table(course, TINY_LAB, problems)
    assert table["runaway"] == {"test_add": 0, "test_scale": 1, "total": 1}
    assert table["a_cheater"]["test_add"] == 0  # record mode never overwrites a recorded case
    assert table["honest"]["total"] == 3 and store.read_bytes() == recorded
    assert "broken" not in table and "broken: not graded" in table.format()
