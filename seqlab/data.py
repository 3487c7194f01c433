"""Data for the labs, loaded offline from PyPI packages, and the character vocabulary that encodes it.

Names: the first names of the 1990 US census, as shipped by the ``names`` package (MIT licence;
the census lists are public domain). Like makemore, a name becomes a character sequence framed by
one boundary token "." that both starts and ends it: "emma" -> ".emma" as input, "emma." as target.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

__all__ = ["load_names", "split", "CharVocab"]

_NAME_FILES = ("dist.female.first", "dist.male.first")


def load_names(min_length: int = 2) -> list[str]:
    """All distinct US-census first names, lower-case, most frequent first (about 5,000).

    Names shorter than ``min_length`` characters are dropped.
    """
    try:
        root = resources.files("names")
    except ModuleNotFoundError as err:
        raise ImportError("the names data ships in the 'names' package: pip install names") from err
    freq: dict[str, float] = {}
    for file in _NAME_FILES:
        for line in root.joinpath(file).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].isalpha():
                name = parts[0].lower()
                freq[name] = freq.get(name, 0.0) + float(parts[1])
    return sorted((n for n in freq if len(n) >= min_length), key=lambda n: (-freq[n], n))


def split(items: Sequence, val_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """Shuffle with a fixed seed and split into (train, validation)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(items))
    n_val = max(1, int(round(len(items) * val_fraction)))
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


@dataclass
class CharVocab:
    """A character vocabulary with one boundary token at index 0 (printed as ".")."""

    chars: list[str]  # index -> character; chars[0] is the boundary token
    boundary: str = "."

    @classmethod
    def from_texts(cls, texts: Sequence[str], boundary: str = ".") -> "CharVocab":
        letters = sorted(set("".join(texts)))
        if boundary in letters:
            raise ValueError(f"the boundary token {boundary!r} occurs in the data: choose another")
        return cls([boundary] + letters, boundary)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> list[int]:
        index = self.index
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise KeyError(f"characters {unknown} are not in the vocabulary")
        return [index[c] for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pad texts into (inputs, targets, mask), each of shape (N, T) with T = longest + 1.

        inputs[n] = boundary + text, targets[n] = text + boundary; mask is True on real targets.
        Padding positions hold index 0 and mask False.
        """
        T = max(len(t) for t in texts) + 1
        inputs = np.zeros((len(texts), T), dtype=np.int64)
        targets = np.zeros((len(texts), T), dtype=np.int64)
        mask = np.zeros((len(texts), T), dtype=bool)
        for n, text in enumerate(texts):
            ids = self.encode(text)
            inputs[n, 1:len(ids) + 1] = ids
            targets[n, :len(ids)] = ids
            mask[n, :len(ids) + 1] = True
        return inputs, targets, mask
