"""Lab 7's span scores (`bio_spans`, `span_prf` in solutions/07_language.ipynb) against seqeval.

seqeval (MIT) is the library NER papers report with; in its default mode it reads BIO tags as
conlleval does, the convention the lab states: an I- tag without its B- starts an entity. It is a
dev dependency only: the lab's visible tests use a brute-force oracle, and the lab's parts may not
call seqeval. The reference functions are loaded from the solution notebook, not copied here.
"""
from __future__ import annotations

import random

import pytest

seqeval_metrics = pytest.importorskip("seqeval.metrics")
from seqeval.metrics.sequence_labeling import get_entities  # noqa: E402

from labharness import solution_namespace  # noqa: E402

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-WORK_OF_ART", "I-WORK_OF_ART"]


@pytest.fixture(scope="module")
def lab():
    return solution_namespace("07_language")


def random_sentence(rng: random.Random, length: int) -> list[str]:
    return [rng.choice(TAGS) for _ in range(length)]


@pytest.mark.parametrize("tags, spans", [
    (["B-PER", "I-PER", "O", "B-LOC"], {("PER", 0, 2), ("LOC", 3, 4)}),
    (["O", "I-PER", "I-PER"], {("PER", 1, 3)}),                       # I- without B- starts an entity
    (["I-MISC"], {("MISC", 0, 1)}),
    (["B-PER", "B-PER", "I-PER"], {("PER", 0, 1), ("PER", 1, 3)}),    # adjacent, same type
    (["B-PER", "I-LOC", "O"], {("PER", 0, 1), ("LOC", 1, 2)}),        # adjacent, another type
    (["I-PER", "I-LOC", "I-LOC"], {("PER", 0, 1), ("LOC", 1, 3)}),
    (["O", "B-LOC", "I-LOC", "I-LOC"], {("LOC", 1, 4)}),              # at the end
    (["O", "O"], set()),
    ([], set()),
])
def test_bio_spans_hand_worked_cases(lab, tags, spans):
    """Does bio_spans give the spans the lab's table and conlleval's rules give, worked out by hand?"""
    assert lab["bio_spans"](tags) == spans


def test_bio_spans_agrees_with_seqeval(lab):
    """On 3,000 random tag sequences, are bio_spans' entities seqeval's (its end is inclusive, ours not)?"""
    rng = random.Random(7)
    for _ in range(3000):
        tags = random_sentence(rng, rng.randint(0, 14))
        theirs = {(kind, start, end + 1) for kind, start, end in get_entities(tags)}
        assert lab["bio_spans"](tags) == theirs, tags


@pytest.mark.parametrize("gold, pred, scores", [
    ([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]], (0.0, 0.0, 0.0)),   # a partial span is a miss
    ([["B-PER", "O"], ["B-LOC"]], [["O", "O"], ["O"]], (0.0, 0.0, 0.0)),           # nothing predicted: P = 0
    ([["O"]], [["B-PER"]], (0.0, 0.0, 0.0)),                                       # no gold entity: R = 0
    ([["O"]], [["O"]], (0.0, 0.0, 0.0)),                                           # neither
    ([["B-PER"], ["B-PER"]], [["B-PER"], ["O"]], (1.0, 0.5, 2 / 3)),               # counted per sentence
    ([["B-PER", "B-LOC"]], [["B-PER", "B-PER"]], (0.5, 0.5, 0.5)),
])
def test_span_prf_hand_worked_cases(lab, gold, pred, scores):
    """Does span_prf give the scores worked out by hand, 0 wherever a denominator is 0?"""
    assert lab["span_prf"](gold, pred) == pytest.approx(scores, abs=1e-12)


def test_span_prf_agrees_with_seqeval(lab):
    """On 500 random corpora of imperfect predictions, are span_prf's micro P, R and F1 seqeval's?"""
    rng = random.Random(11)
    for _ in range(500):
        gold = [random_sentence(rng, rng.randint(0, 10)) for _ in range(rng.randint(1, 12))]
        pred = [[t if rng.random() < 0.6 else rng.choice(TAGS) for t in s] for s in gold]
        theirs = tuple(f(gold, pred, zero_division=0) for f in (seqeval_metrics.precision_score,
                                                                 seqeval_metrics.recall_score,
                                                                 seqeval_metrics.f1_score))
        assert lab["span_prf"](gold, pred) == pytest.approx(theirs, abs=1e-12), (gold, pred)


def test_span_prf_zero_division_is_seqevals(lab):
    """Where a denominator is 0, is span_prf's 0 what seqeval gives with zero_division=0 (its default's value)?"""
    for gold, pred in [([["O", "O"]], [["O", "O"]]), ([["B-PER"]], [["O"]]), ([["O"]], [["I-LOC"]])]:
        theirs = tuple(f(gold, pred, zero_division=0) for f in (seqeval_metrics.precision_score,
                                                                 seqeval_metrics.recall_score,
                                                                 seqeval_metrics.f1_score))
        assert lab["span_prf"](gold, pred) == pytest.approx(theirs)
