"""The labs' diagrams, drawn: one ``draw_<name>() -> Figure`` per diagram, and the style they share.

``diagrams.py`` registers each one (which lab, after which cell, its alt text) and embeds the PNGs;
this module only draws. Coordinates are inches (one axes over the whole figure, ``WIDTH`` wide); one
palette (tensors blue, operations amber, outputs green, gradients red, padding grey); dashed red for
the backward pass; the labs' own letters and names. Every name here that a drawing uses is part of
the hash that says when a diagram must be drawn again (``_KIT``, ``_STYLE``).
"""
from __future__ import annotations

from typing import Tuple

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath

# --- the shared style (part of every diagram's hash) ---------------------------------------

WIDTH = 9.0                # inches: every diagram has the same width, so they sit alike in the labs
DPI = 160                  # 1440 pixels wide: sharp on high-density screens, legible at 800
FONT, SMALL, TITLE = 10.5, 9.0, 12.0   # point sizes
INK, LINE, GRAD, MUTED = "#1f2933", "#52606d", "#c0392b", "#9aa5b1"   # text, arrows, gradients, muted text
HIGHWAY, PALE = "#f6d06f", "#d5dbe1"   # the band under a gradient highway; a secondary bar
MASKED = ("#eef0f2", "#c8ced4")        # a masked-out cell of a mask: fill, edge
KINDS = {                  # box kind -> (fill, edge)
    "tensor": ("#e3edf7", "#4a6fa5"),
    "op": ("#fdf0dc", "#c47f17"),
    "out": ("#e6f2e6", "#4f8a4f"),
    "pad": ("#f0f2f4", "#9aa5b1"),
}
RC = {"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "path.simplify": False}


def _canvas(height: float) -> Tuple[Figure, "matplotlib.axes.Axes"]:
    """A white figure WIDTH x height inches whose data coordinates are inches from the bottom left."""
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _text(ax, x, y, s, size=FONT, color=INK, ha="center", va="center", **kw):
    return ax.text(x, y, s, fontsize=size, color=color, ha=ha, va=va, zorder=5, **kw)


def _code(ax, x, y, s, size=SMALL, color=INK, **kw):
    """A name from the labs' code (``dh[:, t]``), in the monospaced font."""
    return _text(ax, x, y, s, size=size, color=color, family="DejaVu Sans Mono", **kw)


def _box(ax, x, y, w, h, text="", kind="tensor", size=FONT, note=None, note_size=SMALL, lw=1.2):
    """A rounded box centred on (x, y); ``note`` is a smaller second line (a shape, a detail)."""
    fill, edge = KINDS[kind]
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.07",
                                fc=fill, ec=edge, lw=lw, zorder=3))
    if note is None:
        _text(ax, x, y, text, size=size)
    else:
        _text(ax, x, y + h * 0.19, text, size=size)
        _text(ax, x, y - h * 0.23, note, size=note_size, color=LINE)


def _node(ax, x, y, op, r=0.13):
    """An elementwise operation drawn as its symbol: "*" is the product (a circle with a dot), "+" the sum."""
    ax.add_patch(Circle((x, y), r, fc="white", ec=INK, lw=1.2, zorder=4))
    if op == "*":
        ax.add_patch(Circle((x, y), r * 0.22, fc=INK, ec=INK, zorder=5))
    else:
        ax.plot([x - r * 0.6, x + r * 0.6], [y, y], color=INK, lw=1.3, zorder=5, solid_capstyle="butt")
        ax.plot([x, x], [y - r * 0.6, y + r * 0.6], color=INK, lw=1.3, zorder=5, solid_capstyle="butt")


def _arrow(ax, *points, color=LINE, lw=1.4, dashed=False):
    """A polyline through ``points`` (inches) with an arrow head at the last one. A dashed line is
    drawn apart and keeps a solid head (matplotlib would dash the head too)."""
    if dashed:
        ax.plot(*zip(*points), color=color, lw=lw, ls=(0, (4, 2.5)), zorder=2, dash_capstyle="butt")
        (x0, y0), (x1, y1) = points[-2:]
        k = 0.09 / max(np.hypot(x1 - x0, y1 - y0), 1e-9)
        points = ((x1 - (x1 - x0) * k, y1 - (y1 - y0) * k), (x1, y1))   # just the head
    path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>,head_length=0.55,head_width=0.28", mutation_scale=12,
                                 color=color, lw=lw, zorder=2, joinstyle="miter", capstyle="butt"))


def _curve(ax, start, end, rad, color=LINE, lw=1.4):
    """A curved arrow from ``start`` to ``end`` (``rad`` > 0 bends it to the right of its direction)."""
    ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", mutation_scale=12,
                                 arrowstyle="-|>,head_length=0.55,head_width=0.28", color=color, lw=lw,
                                 shrinkA=0, shrinkB=0, zorder=2))


def _band(ax, *points, width=13):
    """The highlight under a gradient highway."""
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=HIGHWAY, lw=width, alpha=0.55, zorder=1, solid_capstyle="round")


def _grid(ax, x, y, keep, cell=0.13, label=None):
    """A small boolean matrix (rows = queries, columns = keys) with its top left corner at (x, y):
    filled where attention is allowed (True), pale where it is masked out."""
    keep = np.asarray(keep, dtype=bool)
    for i, row in enumerate(keep):
        for j, allowed in enumerate(row):
            fill, edge = (KINDS["tensor"][1], "white") if allowed else MASKED
            ax.add_patch(Rectangle((x + j * cell, y - (i + 1) * cell), cell, cell, fc=fill, ec=edge,
                                   lw=0.8, zorder=3))
    if label:
        _text(ax, x + keep.shape[1] * cell / 2, y - keep.shape[0] * cell - 0.08, label, size=SMALL - 1,
              color=LINE, va="top", linespacing=1.25)


def _step(ax, x, y, n):
    """A numbered step marker (the order in which a lab's text takes the steps)."""
    ax.add_patch(Circle((x, y), 0.11, fc=INK, ec=INK, zorder=6))
    _text(ax, x, y - 0.005, str(n), size=SMALL - 1, color="white", weight="bold").set_zorder(7)


# Every helper a drawing may call: their source is part of each diagram's hash.
_KIT = (_canvas, _text, _code, _box, _node, _arrow, _curve, _band, _grid, _step)
_STYLE = (WIDTH, DPI, FONT, SMALL, TITLE, INK, LINE, GRAD, MUTED, HIGHWAY, PALE, MASKED, KINDS, RC)


# --- the diagrams: one function each -------------------------------------------------------

def draw_rnn_unrolled() -> Figure:
    """Lab 1: a tanh RNN unrolled over time, its output layer and loss, and BPTT's two gradient paths."""
    fig, ax = _canvas(5.4)
    cols, y_x, y_h, y_s, y_loss = (2.45, 4.55, 6.65), 0.95, 2.2, 3.5, 4.6
    cw, ch = 1.05, 0.62                                  # a step's box
    # h0, the steps, and what leaves the last one
    _box(ax, 0.75, y_h, 0.9, 0.56, "$h_0$", note="(N, H)")
    for t, x in enumerate(cols, start=1):
        _box(ax, x, y_x, 0.9, 0.5, f"$x_{t}$", note="(N, D)" if t == 1 else None)
        _arrow(ax, (x, y_x + 0.25), (x, y_h - ch / 2))
        _text(ax, x - 0.08, (y_x + y_h) / 2 - 0.05, "$W_x$", size=SMALL, ha="right")
        _box(ax, x, y_h, cw, ch, r"$\tanh$", kind="op", note="$W_x,\\ W_h,\\ b$")
        _arrow(ax, (x, y_h + ch / 2), (x, y_s - 0.25))
        _text(ax, x - 0.08, (y_h + y_s) / 2 + 0.02, "$W_{out}, b_{out}$", size=SMALL, ha="right")
        _box(ax, x, y_s, 0.9, 0.5, f"$s_{t}$", kind="out", note="(N, V)" if t == 1 else None)
        _arrow(ax, (x, y_s + 0.25), (x, y_loss - 0.24))
    # the recurrence, forward (above the middle) and backward (below, dashed red)
    starts = [0.75 + 0.45] + [x + cw / 2 for x in cols]
    ends = [x - cw / 2 for x in cols] + [8.3]
    for k, (a, b) in enumerate(zip(starts, ends)):
        _arrow(ax, (a, y_h + 0.13), (b, y_h + 0.13))
        _text(ax, (a + b) / 2, y_h + 0.3, f"$h_{k}$" + (" (N, H)" if k == 1 else ""), size=SMALL)
        _arrow(ax, (b, y_h - 0.15), (a, y_h - 0.15), color=GRAD, dashed=True)
        _code(ax, (a + b) / 2, y_h - 0.34, "dh0" if k == 0 else "dprev_h", color=GRAD, size=SMALL - 0.5)
    _text(ax, 8.55, y_h + 0.1, r"$\cdots$", size=TITLE)
    _text(ax, 8.55, y_h - 0.42, "to step T", size=SMALL - 1, color=LINE)
    # each output's own gradient, dh[:, t]
    for x in cols:
        _arrow(ax, (x + 0.28, y_s - 0.25), (x + 0.28, y_h + ch / 2), color=GRAD, dashed=True)
        _code(ax, x + 0.34, (y_h + y_s) / 2 + 0.02, "dh[:, t]", color=GRAD, size=SMALL - 0.5, ha="left")
        _arrow(ax, (x + 0.28, y_loss - 0.24), (x + 0.28, y_s + 0.25), color=GRAD, dashed=True)
    _box(ax, 4.55, y_loss, 5.6, 0.48, r"loss $L$: mean of $-\log\,p_t[y_t]$ over the real (unmasked) tokens",
         kind="out", size=SMALL + 0.5)
    # the legend, and the step's equation
    _arrow(ax, (0.25, 5.1), (0.75, 5.1))
    _text(ax, 0.85, 5.1, "forward", size=SMALL, ha="left")
    _arrow(ax, (2.05, 5.1), (1.55, 5.1), color=GRAD, dashed=True)
    _text(ax, 2.15, 5.1, "backward (BPTT): step $t$ adds its own dh[:, t] to the dprev_h of step $t+1$",
          size=SMALL, ha="left", color=GRAD)
    _text(ax, WIDTH / 2, 0.28, r"every step: $h_t = \tanh(x_t W_x + h_{t-1} W_h + b)$ with the same "
          r"$W_x$ (D, H), $W_h$ (H, H), $b$ (H,); their gradients are summed over $t$", size=SMALL)
    return fig


def draw_lstm_gru_cells() -> Figure:
    """Lab 2: the LSTM cell (blocks i, f, o, g) and the GRU cell (blocks r, z, n; z keeps the old
    state), side by side, each with its gradient highway."""
    fig, ax = _canvas(6.05)
    y_top, y_gate, y_in, gw, gh = 4.85, 3.05, 2.15, 0.46, 0.42

    def gate(x, y, text, letter, at=(0.07, 0.34)):
        _box(ax, x, y, gw, gh, text, kind="op")
        _text(ax, x + at[0], y + at[1], f"${letter}$", size=SMALL + 0.5, ha="left")

    def highway(x0, x1, dlabel):
        _band(ax, (x0, y_top), (x1, y_top))
        _arrow(ax, (x1, y_top + 0.25), (x0, y_top + 0.25), color=GRAD, dashed=True)
        _text(ax, (x0 + x1) / 2, y_top + 0.47, dlabel, size=SMALL, color=GRAD)

    # LSTM, left panel (X: a panel's own coordinate -> inches)
    X = lambda u: 0.15 + u
    _text(ax, X(1.9), 5.72, "LSTM cell (Parts 1–4)", size=TITLE, weight="bold")
    highway(X(0.45), X(3.65), r"gradient highway: dprev_c = dc $\odot\, f$")
    _arrow(ax, (X(0.45), y_top), (X(0.92), y_top))
    _arrow(ax, (X(1.18), y_top), (X(1.87), y_top))
    _arrow(ax, (X(2.13), y_top), (X(3.65), y_top))
    _text(ax, X(0.4), y_top, "$c_{t-1}$", ha="right")
    _text(ax, X(3.7), y_top, "$c_t$", ha="left")
    _node(ax, X(1.05), y_top, "*")
    _node(ax, X(2.0), y_top, "+")
    _node(ax, X(2.0), 4.0, "*")
    _arrow(ax, (X(2.0), 4.13), (X(2.0), y_top - 0.13))
    _box(ax, X(1.925), y_in, 2.65, 0.56, "$a = x_t W_x + h_{t-1} W_h + b$", note="(N, 4H): blocks i | f | o | g")
    for u, text, letter in ((1.05, r"$\sigma$", "f"), (1.6, r"$\sigma$", "i"), (2.4, r"$\tanh$", "g"),
                            (2.95, r"$\sigma$", "o")):
        gate(X(u), y_gate, text, letter)
        _arrow(ax, (X(u), y_in + 0.28), (X(u), y_gate - gh / 2))
    _arrow(ax, (X(1.05), y_gate + gh / 2), (X(1.05), y_top - 0.13))
    _arrow(ax, (X(1.6), y_gate + gh / 2), (X(1.6), 4.0), (X(1.87), 4.0))
    _arrow(ax, (X(2.4), y_gate + gh / 2), (X(2.4), 4.0), (X(2.13), 4.0))
    _arrow(ax, (X(2.95), y_top), (X(2.95), 4.43))
    _box(ax, X(2.95), 4.28, gw, 0.3, r"$\tanh$", kind="op", size=SMALL)
    _node(ax, X(2.95), 3.72, "*")
    _arrow(ax, (X(2.95), 4.13), (X(2.95), 3.85))
    _arrow(ax, (X(2.95), y_gate + gh / 2), (X(2.95), 3.59))
    _arrow(ax, (X(3.08), 3.72), (X(3.4), 3.72), (X(3.4), y_in), (X(3.65), y_in))
    _text(ax, X(3.7), y_in, "$h_t$", ha="left")
    _text(ax, X(0.0), y_in, "$h_{t-1}$", ha="left")
    _arrow(ax, (X(0.4), y_in), (X(0.6), y_in))
    _arrow(ax, (X(1.925), 1.5), (X(1.925), y_in - 0.28))
    _text(ax, X(1.925), 1.37, "$x_t$")
    for k, line in enumerate((r"$i, f, o = \sigma(a_i), \sigma(a_f), \sigma(a_o), \quad g = \tanh(a_g)$",
                              r"$c_t = f \odot c_{t-1} + i \odot g, \quad h_t = o \odot \tanh(c_t)$",
                              r"$W_x$ (D, 4H), $W_h$ (H, 4H), $b$ (4H,): blocks in the order i, f, o, g")):
        _text(ax, X(1.9), 0.95 - 0.32 * k, line, size=SMALL)

    # GRU, right panel
    X = lambda u: 4.45 + u
    _text(ax, X(2.2), 5.72, "GRU cell (Parts 5–6)", size=TITLE, weight="bold")
    highway(X(0.45), X(4.1), r"gradient highway: dprev_h gets dnext_h $\odot\, z$ directly")
    _arrow(ax, (X(0.45), y_top), (X(1.07), y_top))
    _arrow(ax, (X(1.33), y_top), (X(3.42), y_top))
    _arrow(ax, (X(3.68), y_top), (X(4.1), y_top))
    _text(ax, X(0.4), y_top, "$h_{t-1}$", ha="right")
    _text(ax, X(4.15), y_top, "$h_t$", ha="left")
    _node(ax, X(1.2), y_top, "*")
    _node(ax, X(3.55), y_top, "+")
    _arrow(ax, (X(0.55), y_top), (X(0.55), y_in), (X(0.75), y_in))            # h_{t-1} to the inputs
    ax.add_patch(Circle((X(0.55), y_top), 0.04, color=INK, zorder=4))
    # the input box, in three compartments: the r and z pre-activations, and n's two halves
    _box(ax, X(2.5), y_in, 3.5, 0.56)
    for u in (2.25, 3.2):
        ax.plot([X(u), X(u)], [y_in - 0.28, y_in + 0.28], color=KINDS["tensor"][1], lw=0.9, zorder=4)
    _text(ax, X(1.5), y_in + 0.1, "$x_tW_x + h_{t-1}W_h + b$", size=SMALL)
    _text(ax, X(1.5), y_in - 0.15, "blocks r, z", size=SMALL - 0.5, color=LINE)
    _text(ax, X(2.72), y_in + 0.1, "$h_{t-1}W_{h,n}$", size=SMALL)
    _text(ax, X(3.72), y_in + 0.1, "$x_tW_{x,n} + b_n$", size=SMALL)
    for u in (2.72, 3.72):
        _text(ax, X(u), y_in - 0.15, "block n", size=SMALL - 0.5, color=LINE)
    _arrow(ax, (X(2.5), 1.5), (X(2.5), y_in - 0.28))
    _text(ax, X(2.5), 1.37, "$x_t$")
    for u, letter, at in ((1.2, "z", (0.07, 0.34)), (1.85, "r", (0.33, 0.13))):
        gate(X(u), y_gate, r"$\sigma$", letter, at)
        _arrow(ax, (X(u), y_in + 0.28), (X(u), y_gate - gh / 2))
    _arrow(ax, (X(1.2), y_gate + gh / 2), (X(1.2), y_top - 0.13))            # z keeps the old state
    ax.add_patch(Circle((X(1.2), 4.2), 0.04, color=INK, zorder=4))
    _arrow(ax, (X(1.2), 4.2), (X(2.12), 4.2))
    _box(ax, X(2.4), 4.2, 0.56, 0.3, "$1 - z$", kind="op", size=SMALL)
    _arrow(ax, (X(2.68), 4.2), (X(3.42), 4.2))
    _node(ax, X(2.72), y_gate, "*")                                           # r scales h_{t-1} W_{h,n}
    _arrow(ax, (X(1.85 + gw / 2), y_gate), (X(2.59), y_gate))
    _arrow(ax, (X(2.72), y_in + 0.28), (X(2.72), y_gate - 0.13))
    _node(ax, X(3.55), y_gate, "+")
    _arrow(ax, (X(2.85), y_gate), (X(3.42), y_gate))
    _arrow(ax, (X(3.55), y_in + 0.28), (X(3.55), y_gate - 0.13))
    _box(ax, X(3.55), 3.6, 0.55, 0.34, r"$\tanh$", kind="op", size=SMALL)
    _arrow(ax, (X(3.55), y_gate + 0.13), (X(3.55), 3.43))
    _text(ax, X(3.62), 3.97, "$n$", size=SMALL + 0.5, ha="left")
    _node(ax, X(3.55), 4.2, "*")
    _arrow(ax, (X(3.55), 3.77), (X(3.55), 4.07))
    _arrow(ax, (X(3.55), 4.33), (X(3.55), y_top - 0.13))
    for k, line in enumerate((r"$r = \sigma(x_tW_{x,r} + h_{t-1}W_{h,r} + b_r)$, and $z$ alike",
                              r"$n = \tanh(x_tW_{x,n} + b_n + r \odot (h_{t-1}W_{h,n}))$",
                              r"$h_t = (1 - z) \odot n + z \odot h_{t-1}$;  blocks in the order r, z, n")):
        _text(ax, X(2.2), 0.95 - 0.32 * k, line, size=SMALL)
    return fig


def draw_skipgram_window() -> Figure:
    """Lab 3: subsampling, then a dynamic window of reach b_i <= window around one center word,
    the (center, context) pairs it yields, and the unigram^0.75 noise distribution."""
    fig, ax = _canvas(5.1)
    words = ["it", "is", "the", "east", "and", "juliet", "is", "the", "sun"]
    dropped, center = 4, 5                                 # "and" is subsampled away this epoch
    window, reach = 3, 2
    x_of = [0.72 + 0.95 * k for k in range(len(words))]
    y_w, bw, bh = 3.7, 0.82, 0.46
    kept = [k for k in range(len(words)) if k != dropped]
    dist = {k: abs(kept.index(k) - kept.index(center)) for k in kept}   # distances count kept tokens
    _text(ax, 0.3, 4.8, "One center position $i$, after subsampling (each occurrence of a word $w$ is kept "
          r"with probability $P_{keep}(w)$):", size=SMALL + 0.5, ha="left")
    for k, word in enumerate(words):
        x = x_of[k]
        if k == dropped:
            _box(ax, x, y_w, bw, bh, word, kind="pad")
            ax.plot([x - 0.28, x + 0.28], [y_w, y_w], color=MUTED, lw=1.3, zorder=5)
            _text(ax, x, y_w - 0.36, "subsampled\naway", size=SMALL - 1, color=MUTED, va="top")
            continue
        d = dist[k]
        kind = "op" if k == center else ("out" if d <= reach else "tensor")
        _box(ax, x, y_w, bw, bh, word, kind=kind, lw=2.0 if k == center else 1.2)
        _text(ax, x, y_w - 0.36, "center" if k == center else f"d = {d}", size=SMALL - 0.5,
              color=INK if d <= reach else MUTED, va="top")
        if 0 < d <= reach:                                  # a context word of this draw: an arc above
            side = 1 if k > center else -1
            _curve(ax, (x_of[center] + 0.15 * side, y_w + bh / 2), (x - 0.1 * side, y_w + bh / 2 + 0.02),
                   -0.42 * side)
    # the reach: this position's draw, and the largest window
    left = lambda d: x_of[kept[kept.index(center) - d]]
    right = lambda d: x_of[kept[kept.index(center) + d]]
    drew = (f"$b_i = {reach}$: this position's reach, drawn uniformly from "
            r"$\{1, \dots, \mathrm{window}\}$, the same on both sides")
    largest = (f"window = {window}, the largest reach: a word at distance $d$ is used with probability "
               r"$(\mathrm{window} - d + 1) / \mathrm{window}$")
    for d, y, color, style, text in ((reach, 2.97, KINDS["out"][1], "-", drew),
                                     (window, 2.37, MUTED, (0, (3, 2)), largest)):
        x0, x1 = left(d) - 0.32, right(d) + 0.32
        ax.plot([x0, x0, x1, x1], [y + 0.1, y, y, y + 0.1], color=color, lw=1.5, ls=style, zorder=2)
        _text(ax, x_of[center] - 0.6, y - 0.1, text, size=SMALL - 0.5, color=color if d == reach else LINE,
              va="top")
    # the pairs, and the noise words of negative sampling
    _text(ax, 0.3, 1.6, "(center, context) pairs, as word ids:", size=SMALL, ha="left")
    for j, k in enumerate(k for k in kept if 0 < dist[k] <= reach):
        _box(ax, 1.05 + 1.5 * (j % 2), 1.1 - 0.46 * (j // 2), 1.38, 0.36, f"(juliet, {words[k]})",
             kind="out", size=SMALL)
    _text(ax, 3.6, 1.6, r"each pair also gets $K$ noise words, from $P_n(w) \propto \mathrm{counts}[w]^{0.75}$:",
          size=SMALL, ha="left")
    counts = {"the": 1000, "and": 700, "is": 400, "sun": 90, "east": 40, "juliet": 15}  # illustrative
    c = np.array(list(counts.values()), dtype=float)
    p1, p75 = c / c.sum(), c ** 0.75 / (c ** 0.75).sum()
    x_bar, base, scale = 4.0, 0.42, 0.95 / p1.max()
    for j, word in enumerate(counts):
        x = x_bar + 0.6 * j
        ax.add_patch(Rectangle((x - 0.19, base), 0.18, p1[j] * scale, fc=PALE, ec="none", zorder=3))
        ax.add_patch(Rectangle((x + 0.01, base), 0.18, p75[j] * scale, fc=KINDS["tensor"][1], ec="none", zorder=3))
        _text(ax, x, base - 0.08, word, size=SMALL - 1, va="top")
    ax.plot([x_bar - 0.3, x_bar + 0.6 * 5 + 0.3], [base, base], color=LINE, lw=0.8, zorder=3)
    for y, fill, label in ((1.2, PALE, "counts (power 1)"), (0.95, KINDS["tensor"][1], "power 0.75: flatter")):
        ax.add_patch(Rectangle((7.5, y - 0.07), 0.14, 0.14, fc=fill, ec="none"))
        _text(ax, 7.7, y, label, size=SMALL - 1, ha="left", color=LINE)
    return fig

def draw_attention_decoder() -> Figure:
    """Lab 4: one decoder step with attention (Part 3): the previous state h_{t-1} scores every encoder
    output k_s, the softmax weights (0 on padding) average the k_s into c_t, then GRUCell and out."""
    fig, ax = _canvas(5.8)
    src = ["k", "n", "i", "g", "h", "t", "pad", "pad"]
    alpha = [0.03, 0.04, 0.66, 0.17, 0.06, 0.04, 0.0, 0.0]      # illustrative: AY looks at "i"
    xs = [0.45 + 0.55 * s for s in range(len(src))]
    real = [tok != "pad" for tok in src]
    y_tok, y_enc, y_e, y_a, y_c = 0.75, 1.6, 2.4, 2.72, 4.35
    _text(ax, 0.15, 5.45, r"One decoder step $t$ (writing AY of $\it{knight}$ $\to$ N AY T): look first, "
          "then update, then score", size=SMALL + 1, ha="left")
    for s, (x, tok, ok) in enumerate(zip(xs, src, real)):
        _box(ax, x, y_tok, 0.38, 0.36, tok if ok else "pad", kind="tensor" if ok else "pad",
             size=FONT if ok else SMALL - 1.5)
        _arrow(ax, (x, y_tok + 0.18), (x, y_enc - 0.3), lw=1.0)
        _box(ax, x, y_enc, 0.38, 0.6, f"$k_{s + 1}$" if ok else "0", kind="tensor" if ok else "pad", size=SMALL)
        if ok and s + 1 < len(src) and real[s + 1]:           # the two directions of the encoder
            _arrow(ax, (x + 0.19, y_enc + 0.15), (x + 0.36, y_enc + 0.15), lw=1.0)
            _arrow(ax, (x + 0.36, y_enc - 0.15), (x + 0.19, y_enc - 0.15), lw=1.0)
        _text(ax, x, y_e, "$e_{%d}$" % (s + 1) if ok else r"$-\infty$", size=SMALL - 0.5,
              color=INK if ok else GRAD)
        if ok:
            height = 0.85 * alpha[s] / max(alpha)
            ax.add_patch(Rectangle((x - 0.14, y_a), 0.28, height, fc=KINDS["op"][1], ec="none", zorder=3))
            ax.plot([x, 2.25], [y_a + height + 0.03, y_c - 0.28], color=LINE, lw=0.4 + 3 * alpha[s], zorder=2)
        else:
            _text(ax, x, y_a + 0.1, "0", size=SMALL, color=GRAD)
    ax.plot([xs[0] - 0.25, xs[-1] + 0.25], [y_a, y_a], color=LINE, lw=0.8, zorder=3)
    _text(ax, 0.15, 0.22, "source, padded to T_src; mask (N, T_src) is False on pad. Encoder: a bidirectional "
          "GRU, H/2 each way, so $k_s$ = enc_out[:, s] has size D = H (0 on padding)", size=SMALL - 1,
          ha="left", color=LINE)
    x_lab = xs[-1] + 0.35
    _text(ax, x_lab, y_enc, "keys $k_s$\n(N, T_src, D)", size=SMALL - 0.5, ha="left", color=LINE)
    _text(ax, x_lab, y_a + 0.45, r"$\alpha_{t,s}$ = softmax" "\nover $s$; pad" r" $\to 0$", size=SMALL - 0.5,
          ha="left", color=LINE)
    _box(ax, 2.25, y_c, 2.3, 0.56, r"$c_t = \sum_s \alpha_{t,s}\, k_s$", kind="tensor", note="context (N, D)")
    # the decoder
    x_h, x_y, x_cell = 6.3, 8.3, 7.3
    _box(ax, x_h, y_enc, 0.95, 0.56, "$h_{t-1}$", note="(N, H)")
    _text(ax, x_h, y_enc - 0.42, "($h_0$: the encoder's final\nstates, through the bridge)", size=SMALL - 1,
          color=LINE, va="top")
    _arrow(ax, (x_h, y_enc + 0.28), (x_h, 2.87))
    ax.add_patch(Circle((x_h, y_e), 0.04, color=INK, zorder=4))
    _arrow(ax, (x_h, y_e), (xs[-1] + 0.3, y_e))
    _text(ax, (x_h + xs[-1]) / 2 + 0.15, y_e + 0.17, "query: $e_s$ = score($h_{t-1}$, $k_s$)", size=SMALL - 0.5)
    _step(ax, x_h - 0.2, y_e - 0.2, 1)
    _box(ax, x_y, y_tok, 0.55, 0.36, "N", kind="tensor")
    _text(ax, x_y + 0.35, y_tok, "$y_{t-1}$", size=SMALL, ha="left")
    _arrow(ax, (x_y, y_tok + 0.18), (x_y, y_enc - 0.25))
    _box(ax, x_y, y_enc, 0.95, 0.5, "embed", kind="op", size=SMALL, note="(N, E)")
    _arrow(ax, (x_y, y_enc + 0.25), (x_y, 2.87))
    _box(ax, x_cell, 3.15, 2.3, 0.56, "GRUCell", kind="op", size=SMALL + 0.5,
         note="input [embed($y_{t-1}$) ; $c_t$], state $h_{t-1}$")
    _step(ax, x_cell - 1.3, 3.45, 2)
    _box(ax, x_cell, y_c, 2.3, 0.56, "out", kind="op", size=SMALL + 0.5, note="input [$h_t$ ; $c_t$]")
    _step(ax, x_cell - 1.3, y_c + 0.3, 3)
    _arrow(ax, (x_cell, 3.43), (x_cell, y_c - 0.28))
    _text(ax, x_cell + 0.08, (3.43 + y_c - 0.28) / 2, "$h_t$ (N, H)", size=SMALL - 0.5, ha="left")
    _arrow(ax, (x_cell + 1.15, 3.15), (8.85, 3.15))
    _text(ax, 8.85, 3.32, "to $t{+}1$", size=SMALL - 1.5, ha="right", color=LINE)
    _arrow(ax, (2.25 + 1.15, y_c), (x_cell - 1.15, y_c))                   # c_t into out ...
    ax.add_patch(Circle((5.65, y_c), 0.04, color=INK, zorder=4))
    _arrow(ax, (5.65, y_c), (5.65, 3.15), (x_cell - 1.15, 3.15))            # ... and into the GRUCell
    _box(ax, x_cell, 5.1, 1.6, 0.42, "logits$_t$ (N, V)", kind="out", size=SMALL)
    _arrow(ax, (x_cell, y_c + 0.28), (x_cell, 5.1 - 0.21))
    _text(ax, x_cell + 0.9, 5.1, r"$\to$ AY", size=SMALL, ha="left")
    return fig


def draw_transformer_blocks() -> Figure:
    """Lab 5: the pre-norm encoder block (Part 4) and decoder block (Part 5) with GELU feed-forward
    networks, and the keep-masks their attentions use."""
    fig, ax = _canvas(7.2)
    ys = [0.45 + 0.56 * k for k in range(11)]            # the rows of the decoder, bottom to top
    half = lambda kind: {"+": 0.13, "ln": 0.16, "tensor": 0.19}.get(kind, 0.23)   # half a row's height

    def stack(x, rows, side):
        """The main line up through ``rows`` (kind, text, note), residuals on ``side`` (-1 left, +1 right)."""
        w = 2.5                                            # a sublayer's width
        for k, (kind, text, note) in enumerate(rows):
            y = ys[k]
            if kind == "+":
                _node(ax, x, y, "+")
            else:
                _box(ax, x, y, {"ln": 1.2, "tensor": 1.9}.get(kind, w), 2 * half(kind), text,
                     kind="tensor" if kind == "tensor" else "op", size=SMALL if kind == "ln" else SMALL + 0.5,
                     note=note, note_size=SMALL - 1)
            if k + 1 < len(rows):
                _arrow(ax, (x, y + half(kind)), (x, ys[k + 1] - half(rows[k + 1][0])))
        for k, (kind, _, _) in enumerate(rows):              # a residual around each sublayer
            if kind == "+":
                y0 = ys[k - 3] + half(rows[k - 3][0]) + 0.035
                xr = x + side * (w / 2 + 0.25)
                ax.add_patch(Circle((x, y0), 0.035, color=INK, zorder=4))
                _arrow(ax, (x, y0), (xr, y0), (xr, ys[k]), (x + side * 0.13, ys[k]))

    _text(ax, WIDTH / 2, 6.95, r"pre-norm: every sublayer is $x \leftarrow x + \mathrm{sublayer}(\mathrm{LN}(x))$,"
          " LN a LayerNorm; the feed-forward network is Linear(E, F_ff), GELU, Linear(F_ff, E)",
          size=SMALL, color=LINE)
    xe, xd = 1.75, 5.95
    _text(ax, xe, 6.5, "Encoder block (Part 4)", size=TITLE, weight="bold")
    _text(ax, xd, 6.5, "Decoder block (Part 5)", size=TITLE, weight="bold")
    stack(xe, [("tensor", "$x$  (N, T, E)", None), ("ln", "LN$_1$", None),
               ("sub", "multi-head self-attention", "Q, K, V = LN$_1(x)$; h heads, $d_k$ = E / h"),
               ("+", "", None), ("ln", "LN$_2$", None), ("sub", "feed-forward", "E $\\to$ F_ff $\\to$ E, GELU"),
               ("+", "", None), ("tensor", "$y$  (N, T, E)", None)], side=-1)
    stack(xd, [("tensor", "$x$  (N, T_tgt, E)", None), ("ln", "LN$_1$", None),
               ("sub", "masked multi-head self-attention", "Q, K, V = LN$_1(x)$, causal=True"),
               ("+", "", None), ("ln", "LN$_2$", None),
               ("sub", "multi-head cross-attention", "Q = LN$_2(x)$; K, V = memory"),
               ("+", "", None), ("ln", "LN$_3$", None), ("sub", "feed-forward", "E $\\to$ F_ff $\\to$ E, GELU"),
               ("+", "", None), ("tensor", "$y$  (N, T_tgt, E)", None)], side=+1)
    # memory: the encoder stack's output (more blocks, a final LayerNorm) is the cross-attention's K, V
    _arrow(ax, (xe, ys[7] + half("tensor")), (xe, 5.05))
    _box(ax, xe, 5.3, 2.5, 0.5, "more blocks, final LayerNorm", kind="pad", size=SMALL,
         note="memory (N, T_src, E)", note_size=SMALL - 0.5)
    _arrow(ax, (xe + 1.25, 5.3), (4.2, 5.3), (4.2, ys[5]), (xd - 1.25, ys[5]), color=KINDS["tensor"][1], lw=1.8)
    # the masks (True = may attend), beside the attentions that use them
    pad_keys = [[j < 3 for j in range(5)] for _ in range(5)]
    causal = [[j <= i and j < 4 for j in range(5)] for i in range(5)]
    src = [[j < 4 for j in range(6)] for _ in range(4)]
    for (x, y, keep, label) in (
            (3.1, ys[2] + 0.35, pad_keys, "padding mask\n(N, 1, T): the same\nfor every query"),
            (7.75, ys[2] + 0.35, causal, "causal (tril)\nand target padding\n(N, 1, T_tgt)"),
            (7.75, ys[5] + 0.3, src, "source padding\n(N, 1, T_src)")):
        _grid(ax, x, y, keep, label=label)
    for k, (keep, text) in enumerate(((True, "True: may attend"), (False, r"False: masked, score $-\infty$"))):
        _grid(ax, 3.0, 0.52 - 0.27 * k, [[keep]], cell=0.14)
        _text(ax, 3.2, 0.45 - 0.27 * k, text, size=SMALL - 1, ha="left", color=LINE)
    _text(ax, 3.1, ys[2] + 0.5, "rows: queries\ncolumns: keys", size=SMALL - 1, ha="left", color=MUTED)
    return fig


def draw_bilstm_crf() -> Figure:
    """Lab 7: the BiLSTM tagger (Part 3) under the linear-chain CRF (Part 4): tokens, embeddings, the two
    LSTM directions, one emission vector per token, and the tag trellis with its transitions, start and end
    scores and the best path that Viterbi finds."""
    fig, ax = _canvas(7.0)
    words, tags = ["Mark", "Twain", "visited", "Paris"], ["B-NAME", "I-NAME", "O"]   # trellis rows, top down
    emissions = [[2.3, 0.4, 0.9], [0.6, 1.9, 1.2], [0.1, 0.3, 2.4], [1.6, 1.9, 0.7]]   # illustrative, rows as tags
    # Viterbi's path for these emissions when A[O, I-NAME] = pi[I-NAME] = -8 and the other scores lie in [-1, 1.5]
    # (brute force agrees); a per-token argmax would end on I-NAME instead
    best = [0, 1, 2, 0]
    xs = [2.45 + 1.3 * t for t in range(len(words))]
    y_w, y_x, y_h, y_e = 0.5, 1.25, 2.2, 3.35
    y_tag = {k: 5.5 - 0.55 * k for k in range(len(tags))}
    x_start, x_end, r = 1.45, xs[-1] + 1.05, 0.15
    green, ok_fill = KINDS["out"][1], KINDS["out"][0]
    _text(ax, 0.15, 6.72, r"A CRF scores whole tag sequences: $s(y) = \pi_{y_1} + \sum_t e_t[y_t] + \sum_t "
          r"A[y_{t-1}, y_t] + \omega_{y_L}$", size=SMALL + 1, ha="left")
    for label, y in (("tokens $w_t$", y_w), ("$x_t$ = Embed($w_t$)", y_x), ("LSTM states", y_h),
                     ("emissions $e_t$", y_e + 0.12)):
        _text(ax, 0.15, y, label, size=SMALL, ha="left", color=LINE)
    _text(ax, 0.15, y_e - 0.12, r"$[\overrightarrow{h}_t ; \overleftarrow{h}_t]\, W^\top + b$", size=SMALL,
          ha="left", color=LINE)
    # the tagger: a column per token
    for t, (x, word) in enumerate(zip(xs, words), start=1):
        _box(ax, x, y_w, 0.95, 0.4, word, size=SMALL + 0.5)
        _arrow(ax, (x, y_w + 0.2), (x, y_x - 0.2), lw=1.0)
        _box(ax, x, y_x, 0.7, 0.4, f"$x_{t}$", size=SMALL + 0.5)
        _arrow(ax, (x, y_x + 0.2), (x, y_h - 0.4), lw=1.0)
        _box(ax, x, y_h, 0.7, 0.8, kind="op")
        ax.plot([x - 0.35, x + 0.35], [y_h, y_h], color=KINDS["op"][1], lw=0.9, zorder=4)
        _text(ax, x, y_h + 0.2, r"$\overrightarrow{h}_%d$" % t, size=SMALL + 0.5)
        _text(ax, x, y_h - 0.2, r"$\overleftarrow{h}_%d$" % t, size=SMALL + 0.5)
        if t < len(words):                                # forward reads left to right, backward right to left
            _arrow(ax, (x + 0.35, y_h + 0.2), (xs[t] - 0.35, y_h + 0.2), lw=1.0)
            _arrow(ax, (xs[t] - 0.35, y_h - 0.2), (x + 0.35, y_h - 0.2), lw=1.0)
        _arrow(ax, (x, y_h + 0.4), (x, y_e - 0.36), lw=1.0)
        for k, score in enumerate(emissions[t - 1]):       # e_t as K = 3 cells, in the trellis's row order
            ax.add_patch(Rectangle((x - 0.3, y_e + 0.12 - 0.24 * k), 0.6, 0.24, fc=ok_fill, ec=green, lw=1.0,
                                   zorder=3))
            _text(ax, x, y_e + 0.24 - 0.24 * k, f"{score:.1f}", size=SMALL - 0.5)
            if t == 1:
                _code(ax, x - 0.38, y_e + 0.24 - 0.24 * k, tags[k], size=SMALL - 1.5, color=LINE, ha="right")
        _arrow(ax, (x, y_e + 0.36), (x, y_tag[2] - r), lw=1.0)
    _text(ax, xs[-1] + 0.5, y_h + 0.2, r"forward: has read $w_1 \dots w_t$", size=SMALL, ha="left", color=LINE)
    _text(ax, xs[-1] + 0.5, y_h - 0.2, r"backward: has read $w_L \dots w_t$", size=SMALL, ha="left", color=LINE)
    _text(ax, xs[-1] + 0.5, y_e - 0.12, "$K$ = 3 tag scores\nper token", size=SMALL - 0.5, ha="left",
          color=LINE, linespacing=1.3)
    # the CRF: every transition between neighbouring tags, thin; O -> I-NAME in red; the best path in green
    for k, tag in enumerate(tags):
        _code(ax, 0.15, y_tag[k], tag, ha="left")
    for t in range(len(words) - 1):
        for i in range(len(tags)):
            for j in range(len(tags)):
                if best[t] == i and best[t + 1] == j:
                    continue
                bad = tags[i] == "O" and tags[j].startswith("I-")
                ax.plot([xs[t] + r, xs[t + 1] - r], [y_tag[i], y_tag[j]], color=GRAD if bad else MUTED,
                        lw=1.3 if bad else 0.8, ls=(0, (4, 2.5)) if bad else "-", zorder=2)
        _arrow(ax, (xs[t] + r, y_tag[best[t]]), (xs[t + 1] - r, y_tag[best[t + 1]]), color=green, lw=2.4)
    for k in range(len(tags)):                              # start scores pi, end scores omega
        for (a, b), on in ((((x_start + 0.28, 5.0), (xs[0] - r, y_tag[k])), k == best[0]),
                           (((xs[-1] + r, y_tag[k]), (x_end - 0.28, 5.0)), k == best[-1])):
            if on:
                _arrow(ax, a, b, color=green, lw=2.4)
            else:
                ax.plot(*zip(a, b), color=MUTED, lw=0.8, zorder=2)
    _box(ax, x_start, 5.0, 0.56, 0.36, "start", kind="op", size=SMALL)
    _box(ax, x_end, 5.0, 0.56, 0.36, "end", kind="op", size=SMALL)
    _text(ax, x_start + 0.5, 5.55, r"$\pi_k$", size=SMALL)
    _text(ax, x_end - 0.5, 5.55, r"$\omega_k$", size=SMALL)
    for t, x in enumerate(xs):
        for k in range(len(tags)):
            on = best[t] == k
            ax.add_patch(Circle((x, y_tag[k]), r, fc=ok_fill if on else "white", ec=green if on else LINE,
                                lw=2.0 if on else 1.0, zorder=4))
        _box(ax, x, 6.15, 0.95, 0.34, tags[best[t]], kind="out", size=SMALL)
    _text(ax, (xs[1] + xs[2]) / 2, 5.8, "transitions $A[i, j]$: tag $j$ after tag $i$", size=SMALL - 0.5,
          color=LINE)
    _text(ax, 0.15, 3.95, "node $(t, k)$ adds $e_t[k]$", size=SMALL - 0.5, ha="left", color=LINE)
    _text(ax, x_end - 0.4, 4.45, "A[O, I-NAME] = −8 (red):\nO → I-X is strongly negative,\nso Paris gets B-NAME, "
          "not\nits higher-scoring I-NAME", size=SMALL - 1, color=GRAD, ha="left", va="top", linespacing=1.25)
    _text(ax, x_end + 0.4, 6.15, r"$\hat y$: Viterbi's" "\nbest path", size=SMALL - 0.5, ha="left",
          color=green, linespacing=1.3)
    return fig
