"""Tests of seqlab.tasks, the synthetic tasks of Lab 2."""
import numpy as np
import pytest

from seqlab.tasks import peaks_batch, peaks_left_context_ceiling, recall_batch


def test_recall_batch_layout():
    """Does a recall batch start with the key, then hold only distractors, with the key as target?"""
    tokens, targets = recall_batch(64, 7, 4, np.random.default_rng(0))
    assert tokens.shape == (64, 8) and targets.shape == (64,)
    assert np.array_equal(tokens[:, 0], targets)
    assert tokens[:, 0].max() < 4 and tokens[:, 1:].min() >= 4 and tokens[:, 1:].max() < 8


def test_recall_batch_rejects_bad_sizes():
    """Is a vocabulary of one key refused with a message?"""
    with pytest.raises(ValueError, match="K >= 2"):
        recall_batch(2, 3, 1, np.random.default_rng(0))


def test_peaks_by_hand():
    """Are peaks the tokens higher than both neighbours, with missing neighbours counted lower?"""
    from seqlab.tasks import _peaks

    assert _peaks(np.array([[3, 1, 2, 2, 0, 5]])).astype(int).tolist() == [[1, 0, 0, 0, 0, 1]]


def test_peaks_batch_is_consistent():
    """Do generated tags agree with the definition, and take both values?"""
    tokens, tags = peaks_batch(32, 10, 6, np.random.default_rng(1))
    assert tokens.shape == tags.shape == (32, 10)
    left = np.pad(tokens, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    right = np.pad(tokens, ((0, 0), (0, 1)), constant_values=-1)[:, 1:]
    assert np.array_equal(tags, ((tokens > left) & (tokens > right)).astype(int))
    assert 0 < tags.mean() < 1


def test_left_context_ceiling_is_below_one_and_beats_always_zero():
    """Is the left-context ceiling a real limit (below 1) yet better than always answering 0?"""
    tokens, tags = peaks_batch(4000, 12, 8, np.random.default_rng(2))
    ceiling = peaks_left_context_ceiling(tokens, tags, 8)
    assert 1 - tags.mean() < ceiling < 0.95
