"""Do the labs' tests bite? Wrong implementations must lose points; correct variants must keep them.

Each lab NN_name has a module tests/mutants_NN_name.py with a list MUTANTS of ``Mutant``s; this
file runs every one of them against the lab's reference notebook (see labharness.py).
"""
import importlib
from collections import Counter
from pathlib import Path

import pytest

from labharness import grade_ids, load_source, run_lab

LABS = sorted(p.stem.removeprefix("mutants_") for p in Path(__file__).parent.glob("mutants_*.py"))
MUTANTS = {lab: importlib.import_module(f"mutants_{lab}").MUTANTS for lab in LABS}
WRONG = [(lab, m) for lab in LABS for m in MUTANTS[lab] if m.wrong]
RIGHT = [(lab, m) for lab in LABS for m in MUTANTS[lab] if not m.wrong]


def case_id(case) -> str:
    lab, mutant = case
    return f"{lab}: {mutant.target}: {mutant.name}"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Reference outputs per lab, recorded from the reference notebook as a release records them."""
    cache = {}

    def store(lab):
        if lab not in cache:
            path = tmp_path_factory.mktemp("reference") / f"{lab}.pkl"
            recorded = run_lab(lab, store=path, record=True)
            failing = {k: o.error for k, o in recorded.items() if not o.passed}
            assert not failing, f"the {lab} reference fails its own tests while recording: {failing}"
            cache[lab] = path
        return cache[lab]
    return store


def test_every_solution_has_mutants():
    """Does every lab in solutions/ have a mutants module?"""
    solutions = {p.stem for p in (Path(__file__).parents[1] / "solutions").glob("*.ipynb")}
    assert solutions == set(LABS), f"labs without tests/mutants_<lab>.py: {solutions - set(LABS)}"


@pytest.mark.parametrize("lab", LABS)
def test_reference_scores_full_marks(lab, stores):
    """Does the reference pass every grade cell, hidden tests included?"""
    results = run_lab(lab, store=stores(lab))
    assert {k: o.error for k, o in results.items() if not o.passed} == {}
    assert sum(o.points for o in results.values()) == sum(o.max_points for o in results.values()) > 0


@pytest.mark.parametrize("lab", LABS)
def test_every_graded_function_has_mutants(lab):
    """Does every grade cell face at least 3 wrong and 1 correct alternative implementation?"""
    ids = grade_ids(load_source(lab))
    wrong = Counter(m.target for m in MUTANTS[lab] if m.wrong)
    right = Counter(m.target for m in MUTANTS[lab] if not m.wrong)
    assert set(wrong) | set(right) <= set(ids), f"mutants target unknown grade cells: {set(wrong) - set(ids)}"
    thin = {g: (wrong[g], right[g]) for g in ids if wrong[g] < 3 or right[g] < 1}
    assert not thin, f"grade cells with fewer than 3 wrong / 1 right implementations: {thin}"


@pytest.mark.parametrize("case", WRONG, ids=case_id)
def test_wrong_implementation_loses_points(case, stores):
    """Does this plausible bug cost the points of its grade cell?"""
    lab, mutant = case
    result = run_lab(lab, mutant.overrides, stores(lab), until=mutant.target)[mutant.target]
    assert result.points < result.max_points, f"{mutant.name!r} kept full points in {mutant.target}"


# A multiple-choice question's visible test checks only that the answer is one of the letters: which
# letter is right is for the grader alone (docs/instructors.md, "Questions").
SEEN = [(lab, m) for lab, m in WRONG if not m.target.startswith("q_")]


@pytest.mark.parametrize("case", SEEN, ids=case_id)
def test_wrong_implementation_is_caught_by_a_visible_test(case):
    """Is the bug caught before grading, by the tests the student can see and run?"""
    lab, mutant = case
    result = run_lab(lab, mutant.overrides, hidden=False, until=mutant.target)[mutant.target]
    assert not result.passed, f"only hidden tests catch {mutant.name!r} in {mutant.target}"
    assert len(result.error) > 40, f"the message for {mutant.name!r} says too little: {result.error!r}"


@pytest.mark.parametrize("case", RIGHT, ids=case_id)
def test_correct_alternative_keeps_full_points(case, stores):
    """Does a correct implementation written differently keep every point?"""
    lab, mutant = case
    results = run_lab(lab, mutant.overrides, stores(lab))
    lost = {k: o.error for k, o in results.items() if not o.passed}
    assert not lost, f"{mutant.name!r} lost points: {lost}"


OWN_MERIT = [(lab, m, earlier) for lab in LABS for m, earlier in getattr(
    importlib.import_module(f"mutants_{lab}"), "OWN_MERIT", [])]


@pytest.mark.parametrize("case", OWN_MERIT, ids=lambda c: case_id(c[:2]))
def test_correct_part_keeps_its_points_over_a_wrong_earlier_part(case, stores):
    """Does a correct later part keep its points, hidden tests in, when an earlier part is wrong?"""
    lab, mutant, earlier = case
    results = run_lab(lab, mutant.overrides, stores(lab), until=mutant.target)
    assert not results[earlier].passed, f"the wrong {earlier} of {mutant.name!r} kept its points"
    assert results[mutant.target].passed, f"{mutant.name!r} lost the points of {mutant.target}: " \
                                          f"{results[mutant.target].error}"


def _wrong_over_wrong():
    """(lab, a wrong mutant of a later part, the wrong earlier part's overrides, its grade id): the first
    two wrong mutants of each later part in OWN_MERIT that replace that part alone, over the wrong
    earlier part of the OWN_MERIT case that blames it."""
    cases, seen = [], set()
    for lab, merit, earlier in OWN_MERIT:
        if (lab, merit.target, earlier) in seen:
            continue
        seen.add((lab, merit.target, earlier))
        wrong_earlier = {k: v for k, v in merit.overrides.items() if k != f"{merit.target}_code"}
        alone = [m for m in MUTANTS[lab] if m.wrong and m.target == merit.target and set(m.cells) == {m.target}]
        cases += [(lab, m, wrong_earlier, earlier) for m in alone[:2]]
    return cases


@pytest.mark.parametrize("case", _wrong_over_wrong(), ids=lambda c: f"{c[0]}: {c[1].target}: {c[1].name} over a wrong {c[3]}")
def test_wrong_part_loses_its_points_over_a_wrong_earlier_part(case, stores):
    """When a wrong earlier part excuses a later part's visible test, do the hidden tests that then
    decide still fail a wrong later part?"""
    lab, mutant, wrong_earlier, earlier = case
    results = run_lab(lab, {**wrong_earlier, **mutant.overrides}, stores(lab), until=mutant.target)
    assert not results[earlier].passed, f"the wrong {earlier} kept its points"
    assert not results[mutant.target].passed, f"{mutant.name!r} kept the points of {mutant.target} over a wrong {earlier}"
