"""autograder.scoring: the verdict for each grade cell, from facts outside the student's kernel."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from autograder.runner import CellRun
from autograder.scoring import excused_by, grade_cells, read_emitted, score, score_cell
from labfactory import tiny_lab
from seqlab.grading import encode

REFERENCE = {"k/a": np.arange(3.0), "k/b": np.ones(2)}


def verdict(run, emitted, cases=("k/a", "k/b")):
    return score_cell("test_f", 2.0, run, cases, emitted, REFERENCE)


def test_clean_run_with_matching_hidden_cases_passes():
    """Does a cell that ran cleanly and emitted every hidden case correctly earn its points?"""
    t = verdict(CellRun(3, "ok", seconds=0.5), {"k/a": np.arange(3.0), "k/b": np.ones(2)})
    assert (t.status, t.points, t.max_points) == ("passed", 2.0, 2.0)


@pytest.mark.parametrize("run, emitted, status", [
    (CellRun(3, "ok"), {"k/a": np.arange(3.0)}, "missing"),                        # check bypassed
    (CellRun(3, "ok"), {"k/a": np.arange(3.0), "k/b": np.zeros(2)}, "hidden_failed"),
    (CellRun(3, "ok"), {"k/a": np.arange(3.0), "k/b": "a string"}, "hidden_failed"),
    (CellRun(3, "error", "AssertionError: out[0] is wrong"), dict(REFERENCE), "failed"),
    (CellRun(3, "error", "MemoryError: "), dict(REFERENCE), "memory"),
    (CellRun(3, "timeout", "stopped after 5 s"), dict(REFERENCE), "timeout"),
    (CellRun(3, "died", "the kernel died"), dict(REFERENCE), "died"),
    (CellRun(3, "not_run", "not run"), dict(REFERENCE), "not_run"),
])
def test_anything_short_of_a_clean_matching_run_scores_zero(run, emitted, status):
    """Do a bypassed check, a wrong hidden output, an error or a crash each earn nothing, with their status?"""
    t = verdict(run, emitted)
    assert (t.status, t.points) == (status, 0.0) and t.message


def test_a_correct_run_emission_does_not_rescue_an_error():
    """Does a cell whose visible test raised score zero even when its hidden outputs are right?"""
    assert verdict(CellRun(3, "error", "AssertionError"), dict(REFERENCE)).points == 0


def test_hidden_failure_message_never_shows_expected_values():
    """Does the hidden-case verdict name the case and the kind of difference, not the reference?"""
    t = verdict(CellRun(3, "ok"), {"k/a": np.array([0.0, 1.0, 2.5]), "k/b": np.ones(2)})
    assert "k/a" in t.message and "2.0" not in t.message


def test_read_emitted_skips_garbage_and_keeps_the_last_value(tmp_path):
    """Does a corrupt line cost nothing but itself, and does the latest emission of a key win?"""
    path = tmp_path / "e.jsonl"
    lines = [json.dumps({"key": "k/a", "value": encode(np.zeros(3))}), "{not json",
             json.dumps({"key": "k/a", "value": encode(np.arange(3.0))}), json.dumps({"nokey": 1}),
             json.dumps({"key": "k/b", "value": {"__nd__": "|O", "shape": [1], "data": ""}})]
    path.write_text("\n".join(lines) + "\n")
    emitted = read_emitted(path)
    assert list(emitted) == ["k/a"] and np.array_equal(emitted["k/a"], np.arange(3.0))
    assert read_emitted(tmp_path / "absent.jsonl") == {}


def test_score_covers_every_grade_cell_in_order():
    """Is every grade cell of a notebook scored, in order, including cells that never ran?"""
    nb = tiny_lab()
    cells = grade_cells(nb)
    assert [(name, points) for _, name, points in cells] == [("test_add", 2.0), ("test_scale", 1.0)]
    runs = {cells[0][0]: CellRun(cells[0][0], "ok")}
    tests = score(nb, runs, {"test_add": ["tiny/add/arrays"]}, {"tiny/add/arrays": np.ones(3)},
                  {"tiny/add/arrays": np.ones(3)})
    assert [(t.name, t.status) for t in tests] == [("test_add", "passed"), ("test_scale", "not_run")]
    assert isinstance(nbformat.from_dict(nb), nbformat.NotebookNode)


def test_a_hidden_case_is_compared_with_the_tolerance_it_was_recorded_with():
    """Is a hidden case compared with the tolerance its test was recorded with, not the default?"""
    want = np.array([1.0, 2.0], dtype=np.float32)
    got = want.astype(np.float64) * (1 + 3e-5)
    run = CellRun(0, "ok")
    strict = score_cell("t", 1.0, run, ["k"], {"k": got}, {"k": want})
    recorded = score_cell("t", 1.0, run, ["k"], {"k": got}, {"k": want}, {"k": [1e-4, 1e-5]})
    assert (strict.status, recorded.status) == ("hidden_failed", "passed")


def test_a_part_that_breaks_a_static_rule_earns_nothing_whatever_ran():
    """Does a clean run with every case matching still score 0 when the part called the oracle?"""
    t = score_cell("test_f", 2.0, CellRun(3, "ok"), ("k/a",), {"k/a": np.arange(3.0)}, REFERENCE,
                   broken="f calls _test_oracle, a test helper")
    assert (t.status, t.points) == ("forbidden", 0.0) and "_test_oracle" in t.message


@pytest.mark.parametrize("error, stage, status, says", [
    ("IndexError: index 3 is out of bounds", "hidden", "hidden_failed",
     "a hidden case (other shapes or inputs) raised IndexError: index 3"),
    ("CheckFailed: out[0] = 0.1 but expected 0.57", "hidden", "hidden_failed", "differs from the reference"),
    ("CheckFailed: out[0] = 0.1 but expected 0.57", "visible", "failed", "but expected 0.57"),
    ("CheckFailed: out[0] = 0.1 but expected 0.57", "unknown", "failed", "its traceback was hidden"),
])
def test_errors_are_named_by_the_stage_that_raised_them(error, stage, status, says):
    """Is a hidden case's error reported as the hidden stage's, and never with a check's expected values?"""
    t = score_cell("test_f", 2.0, CellRun(3, "error", error), ("k/a",), {}, REFERENCE, stage=stage)
    assert t.status == status and says in t.message
    if stage != "visible":
        assert "expected 0.57" not in t.message


def test_error_stage_reads_the_line_of_the_traceback():
    """Does the traceback's line in the test cell tell a visible failure from a hidden one?"""
    from autograder.scoring import error_stage
    source = "check(1)\ncheck(2)\n### BEGIN HIDDEN TESTS\ncheck(3)\n### END HIDDEN TESTS"
    cell = nbformat.v4.new_code_cell(source)

    def raised_at(line, traceback=True):
        trace = ["\x1b[0;31m---\x1b[0m", f"Cell \x1b[0;32mIn[7], line {line}\x1b[0m", "     1 check(1)"]
        cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="x",
                                               traceback=trace if traceback else [])]
        return error_stage(cell)
    assert raised_at(2) == "visible" and raised_at(4) == "hidden" and raised_at(4, traceback=False) == "unknown"


def test_a_hidden_check_never_overrules_matching_cases():
    """Does a cell whose hidden check raised, after every case was emitted and matched, keep its points?"""
    t = score_cell("test_f", 2.0, CellRun(3, "error", "CheckFailed: stricter than the grader"), ("k/a",),
                   {"k/a": np.arange(3.0)}, REFERENCE, stage="hidden")
    assert (t.status, t.points) == ("passed", 2.0)


def test_a_test_that_failed_because_its_definition_timed_out_says_so():
    """Is a NameError after the defining cell timed out reported as that timeout, with a regrade hint?"""
    from autograder.scoring import score
    nb = tiny_lab()
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    add_cell = next(i for i in code if nb.cells[i].get("id") == "add")
    test_add = next(i for i in code if nb.cells[i].get("id") == "test_add")
    runs = {i: CellRun(i, "ok") for i in code}
    runs[add_cell] = CellRun(add_cell, "timeout", "the cell ran past its 60 s limit")
    runs[test_add] = CellRun(test_add, "error", "NameError: name 'add' is not defined")
    tests = {t.name: t for t in score(nb, runs, {}, {}, {})}
    assert tests["test_add"].status == "timeout"
    assert "the cell that defines `add` timed out" in tests["test_add"].message
    assert "regrade" in tests["test_add"].message


BLAME = "CheckFailed: test_f can't be checked until part_a (Part 1) passes: fix part_a (Part 1) first (out is wrong)"


def blamed(after: CellRun | None, emitted, earlier_passed: bool):
    run = CellRun(3, "error", BLAME, after_blame=after)
    part = excused_by("test_f", run, {"part_a": earlier_passed})
    return score_cell("test_f", 2.0, run, ("k/a", "k/b"), emitted, REFERENCE, excused=part)


def test_a_blame_of_a_failed_earlier_part_hands_the_verdict_to_the_hidden_cases():
    """Does a later part whose visible test only blamed an earlier part that lost its own points earn
    them when its hidden cases, run with the tests' own earlier part, all match, with a note saying so?"""
    t = blamed(CellRun(3, "ok"), dict(REFERENCE), earlier_passed=False)
    assert (t.status, t.points) == ("passed", 2.0) and "part_a" in t.message


@pytest.mark.parametrize("after, emitted, earlier_passed", [
    (CellRun(3, "ok"), dict(REFERENCE), True),          # the blamed part earned its points: the blame is not believed
    (CellRun(3, "ok"), {"k/a": np.arange(3.0), "k/b": np.zeros(2)}, False),   # a hidden case differs
    (CellRun(3, "ok"), {"k/a": np.arange(3.0)}, False),                       # a case never emitted
    (CellRun(3, "error", "CheckFailed: out[0] = 1 but expected 2"), dict(REFERENCE), False),  # a check failed
    (CellRun(3, "error", BLAME), dict(REFERENCE), False),                     # still blamed: nothing isolated it
    (None, dict(REFERENCE), False),                                           # the hidden part never ran
])
def test_a_blame_is_excused_only_by_hidden_cases_that_all_run_and_match(after, emitted, earlier_passed):
    """Does an excused part still score zero unless its hidden tests ran to the end and matched, and is a
    blame of a part that passed (a student's own raise, say) never an excuse?"""
    t = blamed(after, emitted, earlier_passed)
    assert t.points == 0 and t.message.startswith(BLAME)
    assert "expected 2" not in t.message


def test_a_blame_names_its_own_part_only():
    """Is a blame another cell's test raised (or one made up with another name) no excuse here?"""
    run = CellRun(3, "error", BLAME.replace("test_f", "other_part"), after_blame=CellRun(3, "ok"))
    assert excused_by("test_f", run, {"part_a": False}) is None
    assert excused_by("test_f", CellRun(3, "error", "CheckFailed: out is wrong"), {"part_a": False}) is None
