"""Synthetic sequence tasks for Lab 2: long-range recall, and tagging that needs the right context.

Both are generated on the fly from a numpy Generator, so they cost nothing to ship and every
batch is fresh (no overfitting to a fixed set).

- Recall (after Hochreiter & Schmidhuber 1997, experiment 2): a sequence starts with one of K
  "key" symbols, followed by T distractors drawn from K other symbols; the target is the key.
  A model must carry one symbol across T steps of noise. Chance accuracy is 1 / K.
- Peaks: each token (an integer level in 0..V-1) is tagged 1 when it is higher than both of its
  neighbours (a missing neighbour counts as lower). Half of that depends on the *next* token, so a
  left-to-right model can only guess it, while a bidirectional one can see it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["recall_batch", "peaks_batch", "peaks_left_context_ceiling"]


def recall_batch(N: int, T: int, K: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of the recall task: (tokens (N, T + 1) int64, targets (N,) int64).

    tokens[:, 0] is the key, in 0..K-1; tokens[:, 1:] are distractors, in K..2K-1 (vocabulary 2K).
    targets is the key.
    """
    if K < 2 or T < 0 or N < 1:
        raise ValueError(f"need N >= 1, T >= 0 and K >= 2, got N={N}, T={T}, K={K}")
    keys = rng.integers(0, K, size=N)
    tokens = np.concatenate([keys[:, None], rng.integers(K, 2 * K, size=(N, T))], axis=1)
    return tokens.astype(np.int64), keys.astype(np.int64)


def _peaks(levels: np.ndarray) -> np.ndarray:
    padded = np.pad(levels, ((0, 0), (1, 1)), constant_values=-1)  # missing neighbours are lower
    return (levels > padded[:, :-2]) & (levels > padded[:, 2:])


def peaks_batch(N: int, T: int, V: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of the peak-tagging task: (tokens (N, T) int64 in 0..V-1, tags (N, T) int64 in {0, 1})."""
    if V < 2 or T < 1 or N < 1:
        raise ValueError(f"need N >= 1, T >= 1 and V >= 2, got N={N}, T={T}, V={V}")
    levels = rng.integers(0, V, size=(N, T))
    return levels.astype(np.int64), _peaks(levels).astype(np.int64)


def peaks_left_context_ceiling(tokens: np.ndarray, tags: np.ndarray, V: int) -> float:
    """The best accuracy any left-to-right tagger can reach on these tokens (the Bayes rule).

    Knowing x_1..x_t and the position, the tag is 1 only if x_t > x_{t-1} (known) and
    x_{t+1} < x_t (unknown, probability x_t / V for uniform levels; certain at the last position).
    The best guess predicts 1 when the known part holds and that probability exceeds 1/2.
    """
    T = tokens.shape[1]
    left = np.pad(tokens, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    p_right_lower = np.where(np.arange(T) == T - 1, 1.0, tokens / V)
    guess = (tokens > left) & (p_right_lower > 0.5)
    return float(np.mean(guess == tags.astype(bool)))
