"""Tests of the score table (autograder/grade.py) and of autograding end to end (pipeline.py)."""
from __future__ import annotations

import nbformat
import pytest

from autograder import grade, pipeline
from autograder.collect import collect
from autograder.sandbox import Limits
from autograder.course import GradingError, reference_store, release_notebook
from autograder.release import release, write_notebook
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB


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
        pipeline.autograde(tmp_path, TINY_LAB, ["ana"])


def test_broken_or_runaway_notebook_does_not_stop_the_others(tiny_repo, tmp_path):
    """Is an unreadable submission reported, a runaway cell cut at the timeout, a record-mode cheat refused?"""
    course = tmp_path / "course"
    release(TINY_LAB, course, repo=tiny_repo, cell_timeout=60)
    store = reference_store(course, TINY_LAB)
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
    # limits sized for a 2-core machine at load 8: the runaway loop still times out, honest cells never
    results = pipeline.autograde(course, TINY_LAB, collect(inbox, course, TINY_LAB).collected, workers=2,
                                 limits=Limits(cell_seconds=45, notebook_seconds=600), progress=False)
    problems = {r.student: r.problem for r in results if r.problem}
    assert list(problems) == ["broken"] and "not a notebook" in problems["broken"]
    table = grade.score_table(course, TINY_LAB, problems)
    assert table["runaway"] == {"test_add": 0, "test_scale": 1, "total": 1}
    assert table["a_cheater"]["test_add"] == 0  # record mode never overwrites a recorded case
    assert table["honest"]["total"] == 3 and store.read_bytes() == recorded
    assert "broken" not in table and "broken: not graded" in table.format()
