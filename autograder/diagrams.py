"""The labs' explanatory diagrams: drawn with matplotlib (``drawings.py``), embedded as PNG attachments.

A diagram is a picture a markdown cell cannot draw (an unrolled RNN, the LSTM and GRU cells, the
skip-gram window, an attention decoder step, the transformer blocks, a BiLSTM-CRF tagger). Each one is
ONE function in ``drawings.py``, ``draw_<name>() -> Figure``, registered in ``DIAGRAMS`` with the lab it
belongs to, the ``grade_id`` of the markdown cell it follows, and its alt text. The notebooks carry the
picture as a locked markdown cell, ``![alt](attachment:<name>.png)``, so it shows offline in JupyterLab,
Colab, GitHub and nbconvert's HTML alike, with nothing to fetch.

To edit a diagram, change its drawing function in ``drawings.py`` (or the style there: colours, sizes,
helpers), look at it with ``python -m autograder.diagrams /tmp/diagrams`` (one PNG per diagram),
and run ``seqlab-grade labs``; to move one, change its ``after``; to add one, write a function and
a ``DIAGRAMS`` entry. The cell records a hash of the code that drew it (the function's source plus
the shared style and helpers, ``source_hash``).

How ``seqlab-grade labs`` uses this: for each lab, ``place_diagrams(nb, lab, reuse=<the committed
labs/<lab>.ipynb>)`` on the copy of the source notebook, before nbgrader makes the student version
(so nbgrader records the diagram cells as locked cells). A diagram whose code is unchanged keeps
the PNG already committed, byte for byte; only a new or edited diagram is rendered. ``labs --check``
(``stale_diagrams``) renders nothing: PNG bytes may differ between matplotlib versions and
machines, so only the code's hash decides, and the check gives the same answer everywhere.

Conventions: inches as coordinates (one axes over the whole figure, WIDTH inches wide), one
palette (tensors blue, operations amber, outputs green, gradients red, padding grey), dashed red
for the backward pass, and the labs' own letters and names (checked against ``solutions/``).
Rendering uses matplotlib's Agg with its default style, so a user's matplotlibrc changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import inspect
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import matplotlib
import matplotlib.style
import nbformat
from matplotlib.figure import Figure

from .course import GradingError
from .drawings import (DPI, RC, _KIT, _STYLE, draw_attention_decoder, draw_bilstm_crf, draw_lstm_gru_cells,
                       draw_rnn_unrolled, draw_skipgram_window, draw_transformer_blocks)


# --- the registry and the notebook side ----------------------------------------------------

@dataclass(frozen=True)
class Diagram:
    """Where a diagram goes: its lab (``solutions/<lab>.ipynb``), the ``grade_id`` of the markdown cell
    it follows, its one-sentence alt text, and the function that draws it."""

    lab: str
    after: str
    alt: str
    draw: Callable[[], Figure]


# In order; each follows the markdown cell that introduces its idea (Lab 1: the whole sequence, where
# unrolling starts; Lab 2: the LSTM step, the GRU half previews Part 5; Lab 3: the skip-gram pairs;
# Lab 4: the decoder step; Lab 5: the encoder block, the decoder half previews Part 5; Lab 7: the CRF's
# introduction, which the tagger of Part 3 feeds).
DIAGRAMS: Dict[str, Diagram] = {
    "rnn_unrolled": Diagram(
        "01_rnn", "rnn_forward_md",
        "A tanh RNN unrolled over three steps: each x_t and the previous state h_{t-1} give h_t with the "
        "same W_x, W_h and b, each h_t gives scores s_t through W_out and b_out, and the gradients "
        "flow back from the loss and from step t+1 to step t.",
        draw_rnn_unrolled),
    "lstm_gru_cells": Diagram(
        "02_lstm_gru", "lstm_step_forward_md",
        "The LSTM cell (gates i, f, o, g from x_t and h_{t-1}; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t)) "
        "beside the GRU cell (gates r, z; candidate n; h_t = (1 - z) * n + z * h_{t-1}), with the cell-state "
        "path of the LSTM and the direct path of the GRU highlighted as gradient highways.",
        draw_lstm_gru_cells),
    "skipgram_window": Diagram(
        "03_word_embeddings", "skipgram_pairs_md",
        "A sentence after subsampling: the center word juliet with a window of largest reach 3 and a drawn "
        "reach b_i = 2, arrows to its four context words, the (center, context) pairs they make, and the "
        "noise distribution counts^0.75 that is flatter than the raw counts.",
        draw_skipgram_window),
    "attention_decoder": Diagram(
        "04_attention", "decoder_step_md",
        "One attention decoder step: the previous state h_{t-1} scores each encoder output k_s of a "
        "bidirectional GRU, the softmax weights (0 on padding) average the k_s into the context c_t, a "
        "GRUCell turns the embedded previous token and c_t into h_t, and out maps [h_t ; c_t] to the logits.",
        draw_attention_decoder),
    "transformer_blocks": Diagram(
        "05_transformer", "EncoderBlock_md",
        "The pre-norm encoder block (LayerNorm, multi-head self-attention with a padding mask, residual; "
        "LayerNorm, GELU feed-forward network, residual) beside the pre-norm decoder block (masked causal "
        "self-attention, cross-attention over the encoder memory with the source padding mask, feed-forward), "
        "with the keep-masks drawn as small grids.",
        draw_transformer_blocks),
    "bilstm_crf": Diagram(
        "07_language", "crf_md",
        "A BiLSTM-CRF tagger on Mark Twain visited Paris: each token's embedding x_t feeds a forward and a "
        "backward LSTM, their states give the emissions e_t (one score per tag O, B-NAME, I-NAME), and the CRF "
        "chain above adds start scores pi, transitions A[i, j] between neighbouring tags and end scores omega; "
        "Viterbi's best path is B-NAME I-NAME O B-NAME, since A[O, I-NAME] is strongly negative.",
        draw_bilstm_crf),
}


def render(name: str) -> bytes:
    """The PNG of diagram ``name``: the same bytes on every call on the same machine (fixed size and
    resolution, matplotlib's default style plus RC whatever the user's matplotlibrc, no timestamp or
    software tag). The figure is built without pyplot, so there is nothing global to close."""
    diagram = _diagram(name)
    with matplotlib.rc_context():
        matplotlib.style.use("default")
        matplotlib.rcParams.update(RC)
        fig = diagram.draw()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    fig.clear()
    return buf.getvalue()


def source_hash(name: str) -> str:
    """sha256 of what draws diagram ``name``: its function's source, the helpers and the style constants.
    Whitespace and comments count too: any edit of the code asks for a new picture."""
    parts = [inspect.getsource(_diagram(name).draw)] + [inspect.getsource(f) for f in _KIT] + [repr(_STYLE)]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def cell_id(name: str) -> str:
    return "diagram-" + name.replace("_", "-")


def diagram_cell(name: str, png: bytes) -> nbformat.NotebookNode:
    """The locked markdown cell that shows ``png`` as diagram ``name``, with the hash of its drawing code."""
    diagram = _diagram(name)
    cell = nbformat.v4.new_markdown_cell(f"![{_escape(diagram.alt)}](attachment:{name}.png)")
    cell.id = cell_id(name)
    cell.attachments = {f"{name}.png": {"image/png": base64.b64encode(png).decode("ascii")}}
    cell.metadata = {
        "nbgrader": {"grade": False, "grade_id": f"diagram_{name}", "locked": True, "schema_version": 3,
                     "solution": False, "task": False},
        "seqlab": {"diagram": name, "source_hash": source_hash(name)},
    }
    return nbformat.from_dict(cell)


def place_diagrams(nb: nbformat.NotebookNode, lab: str, render_fn: Callable[[str], bytes] = render,
                   reuse: Optional[nbformat.NotebookNode] = None) -> List[str]:
    """Put every diagram of ``lab`` right after its ``after`` cell in ``nb`` (edited in place); returns
    the names it rendered.

    A diagram cell whose hash is current keeps its PNG (moved, or its alt text updated, if need be);
    so does one found in ``reuse`` (say, the committed ``labs/<lab>.ipynb`` when ``nb`` is a fresh
    copy). Only a missing or outdated diagram is rendered with ``render_fn``. Diagram cells of this
    lab's notebook that no diagram claims any more are removed.
    """
    wanted = [name for name, d in DIAGRAMS.items() if d.lab == lab]
    for name in wanted:
        _anchor(nb, name)                       # every anchor first: fail before changing anything
    old = {}
    for pool in ([reuse] if reuse is not None else []) + [nb]:
        old.update({_name_of(c): c for c in pool.cells if _name_of(c) and _current(c)})
    nb.cells = [c for c in nb.cells if not _name_of(c)]
    rendered = []
    for name in wanted:
        if name in old:
            cell = diagram_cell(name, _png_of(old[name]))
        else:
            cell = diagram_cell(name, render_fn(name))
            rendered.append(name)
        nb.cells.insert(_anchor(nb, name) + 1, cell)
    return rendered


def stale_diagrams(nb: nbformat.NotebookNode, lab: str) -> List[str]:
    """The diagrams of ``lab`` that ``place_diagrams`` would change in ``nb``: missing, misplaced,
    doubled, drawn by older code or with an outdated cell, and diagram cells no diagram of ``lab``
    claims. Renders nothing."""
    stale = []
    for name in (n for n, d in DIAGRAMS.items() if d.lab == lab):
        at = _anchor(nb, name)
        found = [c for c in nb.cells if _name_of(c) == name]
        fine = (len(found) == 1 and at + 1 < len(nb.cells) and nb.cells[at + 1] is found[0]
                and _current(found[0]) and found[0] == diagram_cell(name, _png_of(found[0])))
        if not fine:
            stale.append(name)
    claimed = {n for n, d in DIAGRAMS.items() if d.lab == lab}
    return stale + sorted({_name_of(c) for c in nb.cells if _name_of(c) and _name_of(c) not in claimed})


def _diagram(name: str) -> Diagram:
    try:
        return DIAGRAMS[name]
    except KeyError:
        raise GradingError(f"no diagram named {name!r}: known are {list(DIAGRAMS)}") from None


def _anchor(nb: nbformat.NotebookNode, name: str) -> int:
    """The index of the cell diagram ``name`` follows."""
    after = _diagram(name).after
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == after:
            return index
    raise GradingError(f"diagram {name!r} goes after the cell with grade_id {after!r}, which "
                       f"{_diagram(name).lab} no longer has: give the diagram another `after` in "
                       "autograder/diagrams.py (DIAGRAMS), or put the cell back")


def _name_of(cell) -> Optional[str]:
    """The diagram a cell shows, or None."""
    name = (cell.get("metadata", {}).get("seqlab") or {}).get("diagram")
    return name if isinstance(name, str) else None


def _current(cell) -> bool:
    """Was the cell drawn by today's code, and does it still carry its PNG?"""
    name = _name_of(cell)
    if name not in DIAGRAMS or cell.get("metadata", {}).get("seqlab", {}).get("source_hash") != source_hash(name):
        return False
    return _png_of(cell) is not None


def _png_of(cell) -> Optional[bytes]:
    data = ((cell.get("attachments") or {}).get(f"{_name_of(cell)}.png") or {}).get("image/png")
    if isinstance(data, list):
        data = "".join(data)
    try:
        return base64.b64decode(data, validate=True) if isinstance(data, str) and data else None
    except ValueError:
        return None


def _escape(text: str) -> str:
    """Alt text as literal Markdown: no emphasis, link or maths from its punctuation."""
    return "".join("\\" + ch if ch in "\\`*_[]<>$#!|" else ch for ch in " ".join(text.split()))


def write_previews(folder: os.PathLike) -> List[Path]:
    """Render every diagram to ``folder/<name>.png``, to look at while editing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DIAGRAMS:
        path = folder / f"{name}.png"
        path.write_bytes(render(name))
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m autograder.diagrams /tmp/diagrams
    for written in write_previews(sys.argv[1] if len(sys.argv) > 1 else "diagrams-preview"):
        print(written)
