"""Tests of autograder/submissions.py: building submissions from a source notebook, no kernel."""
from __future__ import annotations

import copy

import pytest

from autograder.course import GradingError
from autograder.submissions import Bug, example_submissions, fill_solutions, solution_code
from labfactory import tiny_lab


def released(nb):
    """The tiny lab as nbgrader would release it (solutions cleared), without running nbgrader."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
    return nb


def test_solution_code_drops_only_marker_lines():
    """Does solution_code remove the BEGIN/END SOLUTION lines and keep the code around them?"""
    cell = next(c for c in tiny_lab().cells if c.get("id") == "add")
    assert solution_code(cell) == 'def add(a, b):\n    """Return a + b."""\n    return a + b'


def test_fill_solutions_answers_every_solution_cell():
    """Does fill_solutions put the reference code into every solution cell and touch nothing else?"""
    source = tiny_lab()
    filled = fill_solutions(released(source), source)
    by_id = {c.id: c for c in filled.cells}
    assert "return a + b" in by_id["add"].source and "NotImplementedError" not in by_id["scale"].source
    assert by_id["test_add"].source == source.cells[3].source  # test cells untouched


def test_fill_solutions_override_replaces_one_cell():
    """Does an override replace just that solution cell, leaving the input notebook unchanged?"""
    source = tiny_lab()
    blank = released(source)
    filled = fill_solutions(blank, source, {"add": "def add(a, b):\n    return 0"})
    assert {c.id: c.source for c in filled.cells}["add"] == "def add(a, b):\n    return 0"
    assert "NotImplementedError" in {c.id: c.source for c in blank.cells}["add"]


def test_fill_solutions_rejects_unknown_override():
    """Does an override naming no solution cell fail with the known names?"""
    with pytest.raises(KeyError, match="add"):
        fill_solutions(released(tiny_lab()), tiny_lab(), {"nope": "x = 1"})


def test_bug_that_changes_nothing_fails_loudly():
    """Does a bug whose text is not in the solution raise instead of grading a correct copy?"""
    with pytest.raises(GradingError, match="changes nothing"):
        Bug("add", "a * b", "a / b").code(tiny_lab())


def test_swap_bug_trades_both_names():
    """Does a swap bug exchange the two strings everywhere?"""
    assert Bug("f", "Wx", "Wh", swap=True).apply("x @ Wx + h @ Wh") == "x @ Wh + h @ Wx"


def test_example_submissions_are_reference_blank_and_buggy():
    """Are the demo's three students the filled, the untouched and the bugged notebooks?"""
    source = tiny_lab()
    subs = example_submissions(released(source), source, Bug("add", "a + b", "a - b"))
    code = {name: {c.id: c.source for c in nb.cells}["add"] for name, nb in subs.items()}
    assert "return a + b" in code["reference"]
    assert "NotImplementedError" in code["blank"]
    assert "return a - b" in code["buggy"]
