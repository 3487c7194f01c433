"""Do Lab 1's tests bite? Wrong implementations must lose points; correct variants must keep them."""
from collections import Counter

import pytest

from labharness import grade_ids, load_source, run_lab
from mutants_01_rnn import MUTANTS

LAB = "01_rnn"
WRONG = [m for m in MUTANTS if m.wrong]
RIGHT = [m for m in MUTANTS if not m.wrong]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Reference outputs recorded from the reference notebook, as a release would record them."""
    path = tmp_path_factory.mktemp("reference") / f"{LAB}.pkl"
    recorded = run_lab(LAB, store=path, record=True)
    failing = {k: o.error for k, o in recorded.items() if not o.passed}
    assert not failing, f"the reference fails its own tests while recording: {failing}"
    return path


def test_reference_scores_full_marks(store):
    """Does the reference pass every grade cell, hidden tests included?"""
    results = run_lab(LAB, store=store)
    assert {k: o.error for k, o in results.items() if not o.passed} == {}
    assert sum(o.points for o in results.values()) == sum(o.max_points for o in results.values()) > 0


def test_every_graded_function_has_mutants():
    """Does every grade cell face at least 3 wrong and 1 correct alternative implementation?"""
    ids = grade_ids(load_source(LAB))
    wrong, right = Counter(m.target for m in WRONG), Counter(m.target for m in RIGHT)
    assert set(wrong) <= set(ids), f"mutants target unknown grade cells: {set(wrong) - set(ids)}"
    thin = {g: (wrong[g], right[g]) for g in ids if wrong[g] < 3 or right[g] < 1}
    assert not thin, f"grade cells with fewer than 3 wrong / 1 right implementations: {thin}"


@pytest.mark.parametrize("mutant", WRONG, ids=lambda m: f"{m.target}: {m.name}")
def test_wrong_implementation_loses_points(mutant, store):
    """Does this plausible bug cost the points of its grade cell?"""
    result = run_lab(LAB, mutant.overrides, store)[mutant.target]
    assert result.points < result.max_points, f"{mutant.name!r} kept full points in {mutant.target}"


@pytest.mark.parametrize("mutant", WRONG, ids=lambda m: f"{m.target}: {m.name}")
def test_wrong_implementation_is_caught_by_a_visible_test(mutant):
    """Is the bug caught before grading, by the tests the student can see and run?"""
    result = run_lab(LAB, mutant.overrides, hidden=False)[mutant.target]
    assert not result.passed, f"only hidden tests catch {mutant.name!r} in {mutant.target}"
    assert len(result.error) > 40, f"the message for {mutant.name!r} says too little: {result.error!r}"


@pytest.mark.parametrize("mutant", RIGHT, ids=lambda m: f"{m.target}: {m.name}")
def test_correct_alternative_keeps_full_points(mutant, store):
    """Does a correct implementation written differently keep every point?"""
    results = run_lab(LAB, mutant.overrides, store)
    lost = {k: o.error for k, o in results.items() if not o.passed}
    assert not lost, f"{mutant.name!r} lost points: {lost}"
