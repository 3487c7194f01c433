"""The timing hooks of the pipeline (``SubmissionResult.phases``), read by benchmarks/grading_phases.py."""
from __future__ import annotations

import json

import nbformat

from autograder.results import SubmissionResult, load_results, timed
from labfactory import TINY_LAB


def test_a_graded_result_says_where_its_time_went(graded):
    """Does a graded submission carry the seconds of each grading step and of each code cell it ran,
    none negative and none more than the whole?"""
    result = next(r for r in load_results(graded.course, TINY_LAB) if r.student == "reference")
    steps = {"read and repair", "sandbox set-up", "kernel start", "run the notebook", "kernel stop",
             "after each cell", "sandbox tear-down", "scoring", "serialise"}
    assert steps <= set(result.phases), sorted(steps - set(result.phases))
    notebook = nbformat.read(str(graded.course / "autograded" / "reference" / TINY_LAB / f"{TINY_LAB}.ipynb"), as_version=4)
    code = {f"cell {i}" for i, c in enumerate(notebook.cells) if c.cell_type == "code"}
    assert {k for k in result.phases if k.startswith("cell ")} == code     # the tiny lab has no rubric cell
    assert all(0 <= v <= result.seconds for v in result.phases.values()), result.phases


def test_a_result_saved_before_phases_still_loads(tmp_path):
    """Does a result file written before phases were recorded load, with no phases?"""
    old = {"student": "ana", "lab": TINY_LAB, "tests": [{"name": "test_add", "points": 2.0, "max_points": 2.0,
                                                          "status": "passed"}], "seconds": 3.5}
    (tmp_path / "results" / TINY_LAB).mkdir(parents=True)
    (tmp_path / "results" / TINY_LAB / "ana.json").write_text(json.dumps(old), encoding="utf-8")
    [result] = load_results(tmp_path, TINY_LAB)
    assert result.phases == {} and result.score == 2.0
    assert SubmissionResult.from_json(result.to_json()) == result


def test_timed_adds_up_a_step_that_runs_twice():
    """Does ``timed`` add the seconds of a step run twice under one name?"""
    phases = {}
    for _ in range(2):
        with timed(phases, "kernel start"):
            pass
    assert list(phases) == ["kernel start"] and phases["kernel start"] >= 0
