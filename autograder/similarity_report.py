"""The similarity report's pages: the ranked pairs, a histogram of every pair's score, side-by-side views.

``write_report`` turns a ``similarity.Similarity`` into ``<course>/similarity/<lab>/``:

  index.html     what was compared and how, the histogram (``scores.png``, matplotlib on the Agg
                 canvas as ``exports.py`` draws), the code pairs most similar first (the flagged ones
                 and at least ``top``), the written answers' pairs, and the files left out;
  pair-NNN.html  one per listed pair: both students' cells side by side, aligned by grade id, with
                 the regions found in the other highlighted (``<mark>``).

Student text (code, answers, ids, the reason a file was left out) is only ever HTML-escaped
(``pages.esc``), and every page carries the grader's Content-Security-Policy (``pages.page``), so
nothing a student wrote can run in a TA's browser. Pages are numbered in the order listed, never
named after an id.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .pages import esc, fmt_points, page, student_text, table
from .similarity import TOP, Comparison, Document, Pair, Similarity

EXTRA_CSS = """<style>
body { max-width: 1500px; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: .4em 1em; align-items: start; }
.side h3 { grid-column: 1 / -1; margin: .8em 0 0; font-size: 1em; }
.who { position: sticky; top: 0; background: #fff; border-bottom: 2px solid #5c6bc0; font-weight: 600;
       padding: .3em 0; z-index: 1; }
.side pre { max-height: 40em; }
mark { background: #ffd54f; padding: 0; } .flag { color: #c62828; font-weight: 600; }
.empty { color: #777; font-style: italic; }
</style>"""
_PAIR_PAGE = re.compile(r"^pair-\d+\.html$")


def listed(comparison: Comparison, threshold: float, top: int) -> List[Pair]:
    """The pairs worth listing: every one at or above ``threshold``, and at least the ``top`` best that
    share anything."""
    shared = [p for p in comparison.pairs if p.score > 0]
    return [p for i, p in enumerate(shared) if i < top or p.score >= threshold]


def write_report(result: Similarity, dest_dir: os.PathLike, *, top: int = TOP) -> Path:
    """Write the report of ``result`` into ``dest_dir``; returns its ``index.html``."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():        # pages of an earlier run's pairs
        if _PAIR_PAGE.match(old.name):
            old.unlink()
    code, written = listed(result.code, result.threshold, top), listed(result.written, result.threshold, top)
    names: Dict[Tuple[str, str], str] = {}
    for pair in code + written:
        names.setdefault((pair.a, pair.b), f"pair-{len(names) + 1:03d}.html")
    code_pairs = {(p.a, p.b): p for p in result.code.pairs}
    written_pairs = {(p.a, p.b): p for p in result.written.pairs if p.score > 0}
    for key, name in names.items():
        (dest / name).write_text(pair_html(result, code_pairs[key], written_pairs.get(key)), encoding="utf-8")
    figure = plot_scores([p.score for p in result.code.pairs], result.threshold, result.lab)
    figure.savefig(dest / "scores.png", dpi=110)
    index = dest / "index.html"
    index.write_text(index_html(result, code, written, names), encoding="utf-8")
    return index


def summary(result: Similarity, top: int = TOP) -> str:
    """The pairs worth a look as lines of text (what ``seqlab-grade similarity`` prints)."""
    flagged = result.flagged()
    left_out = f"; {len(result.skipped)} left out" if result.skipped else ""
    lines = [f"{result.lab}: {len(result.code.documents)} submissions, {len(result.code.pairs)} pairs, "
             f"{len(flagged)} at or above {result.threshold:g}{left_out}"]
    lines += [f"  {p.score:.2f}  {p.a}  {p.b}  ({_percent(p.a_share)} of {p.a}'s code in {p.b}'s, "
              f"{_percent(p.b_share)} of {p.b}'s in {p.a}'s)" for p in listed(result.code, result.threshold, top)]
    lines += [f"  left out {s}: {student_text(why, 300).splitlines()[0]}" for s, why in sorted(result.skipped.items())]
    return "\n".join(lines)


# --- the index ---------------------------------------------------------------------------------

def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def _rows(pairs: Sequence[Pair], comparison: Comparison, threshold: float, names: Dict[Tuple[str, str], str]):
    for rank, p in enumerate(pairs, start=1):
        score = f"{p.score:.2f}" + (' <span class="flag">flagged</span>' if p.score >= threshold else "")
        yield [str(rank), esc(p.a), esc(p.b), score, _percent(p.a_share), _percent(p.b_share),
               f"{p.a_matched} of {comparison.fingerprinted[p.a]}, "
               f"{p.b_matched} of {comparison.fingerprinted[p.b]}",
               f'<a href="{names[(p.a, p.b)]}">side by side</a>']


def index_html(result: Similarity, code: Sequence[Pair], written: Sequence[Pair],
               names: Dict[Tuple[str, str], str]) -> str:
    """The report's first page."""
    c, n = result.code, len(result.code.documents)
    flagged = result.flagged()
    body = [EXTRA_CSS, f"<h1>{esc(result.lab)}: similarity between submissions</h1>",
            f'<p class="meta">{n} submissions compared in {len(c.pairs)} pairs'
            + (f"; {len(result.skipped)} left out (listed below)" if result.skipped else "") +
            f". Starter code, excluded: <code>{esc(result.starter)}</code>. Runs of fewer than "
            f"{c.k} tokens in common are ignored, and so is any run found in more than {result.common} "
            "submissions (the class's common idiom).</p>",
            f'<p class="score">{len(flagged)} pair{"s" * (len(flagged) != 1)} at or above '
            f"{fmt_points(result.threshold)}</p>",
            '<div class="note"><b>A lead, not proof.</b> A pair\'s score is the larger of two shares: how much '
            "of one student's own code (starter removed, names, comments and layout set aside) is also in "
            "the other's. Open a pair, read both sides, and talk to the students before concluding anything: "
            "short or standard solutions can match by themselves, and a rewrite by hand is not found.</div>",
            "<h2>All pairs</h2>",
            f'<p><img src="scores.png" alt="histogram of the similarity score of all {len(c.pairs)} pairs"></p>',
            "<h2>Code, most similar first</h2>"]
    header = ["#", "student A", "student B", "score", "A's code in B", "B's code in A",
              "matched tokens (A, B)", "pair"]
    body.append(table(header, _rows(code, c, result.threshold, names), numeric=[0, 3, 4, 5])
                if code else "<p>No two submissions share any code beyond the starter.</p>")
    w = result.written
    body += ["<h2>Written answers, most similar first</h2>",
             f'<p class="explain">A separate comparison: the markdown answer cells, word by word (runs of '
             f"{w.k} words or more), the notebook's own text excluded.</p>",
             table(header, _rows(written, w, result.threshold, names), numeric=[0, 3, 4, 5])
             if written else "<p>No two written answers share a run of words beyond the notebook's text.</p>"]
    body.append(f"<h2>Left out ({len(result.skipped)})</h2>")
    skipped = ([esc(s), f"<pre>{esc(student_text(why, 1000))}</pre>"] for s, why in sorted(result.skipped.items()))
    body.append(table(["student", "why"], skipped) if result.skipped else "<p>Every submission was read.</p>")
    notes = [(s, d.note) for s, d in sorted(c.documents.items()) if d.note]
    if notes:
        body.append("<h2>Cut to size</h2>" + table(["student", "what"], ([esc(s), esc(note)] for s, note in notes)))
    return page(f"{result.lab}: similarity", body)


# --- one pair ----------------------------------------------------------------------------------

def pair_html(result: Similarity, code: Pair, written: Optional[Pair]) -> str:
    """Both students' cells side by side, the regions found in the other highlighted."""
    a, b = code.a, code.b
    body = [EXTRA_CSS, '<p><a href="index.html">all pairs</a></p>',
            f"<h1>{esc(result.lab)}: {esc(a)} and {esc(b)}</h1>",
            f'<p class="score">code score {code.score:.2f}: {_percent(code.a_share)} of {esc(a)}\'s code is '
            f"in {esc(b)}'s, {_percent(code.b_share)} of {esc(b)}'s in {esc(a)}'s</p>",
            '<p class="explain">Highlighted: runs of at least '
            f"{result.code.k} tokens found in the other submission once names, comments, strings and layout are set "
            "aside. Starter code is never highlighted, nor a run only the class's common idiom makes.</p>",
            "<h2>Code</h2>", side_by_side(result.code.documents[a], result.code.documents[b], code)]
    if written is not None:
        body += ["<h2>Written answers</h2>",
                 f'<p class="score">written score {written.score:.2f}</p>',
                 side_by_side(result.written.documents[a], result.written.documents[b], written)]
    return page(f"{result.lab}: {a} and {b}", body)


def side_by_side(left: Document, right: Document, pair: Pair) -> str:
    """A two-column grid: each label (grade id, or added cell) once, A's cell left, B's right."""
    marks = (_spans(left, pair.a_regions), _spans(right, pair.b_regions))
    cells = ({c.label: i for i, c in enumerate(left.cells)}, {c.label: i for i, c in enumerate(right.cells)})
    labels = list(dict.fromkeys([c.label for c in left.cells] + [c.label for c in right.cells]))
    out = ['<div class="side">', *(f'<div class="who">{esc(d.student)}</div>' for d in (left, right))]
    for label in labels:
        out.append(f"<h3><code>{esc(label)}</code></h3>")
        for doc, found, spans in ((left, cells[0], marks[0]), (right, cells[1], marks[1])):
            i = found.get(label)
            out.append(f"<pre>{_marked(doc.cells[i].source, spans.get(i, []))}</pre>" if i is not None
                       else '<p class="empty">no such cell</p>')
    out.append("</div>")
    return "\n".join(out)


def _spans(doc: Document, regions: Sequence[Tuple[int, int]]) -> Dict[int, List[Tuple[int, int]]]:
    """Cell -> character spans of the tokens in the token ``regions`` [start, end) of ``doc``."""
    spans: Dict[int, List[Tuple[int, int]]] = {}
    for start, end in regions:
        for i in range(start, min(end, len(doc.tokens))):
            token = doc.tokens[i]
            if token.end > token.start:
                spans.setdefault(token.cell, []).append((token.start, token.end))
    return spans


def _marked(text: str, spans: Sequence[Tuple[int, int]]) -> str:
    """``text`` escaped, with the ``spans`` in ``<mark>``: neighbours on one line (only spaces or
    punctuation between them) share one mark."""
    joined: List[Tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and (start <= joined[-1][1] or "\n" not in text[joined[-1][1]:start]):
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    out, at = [], 0
    for start, end in joined:
        out += [esc(text[at:start]), "<mark>", esc(text[start:end]), "</mark>"]
        at = end
    out.append(esc(text[at:]))
    return "".join(out)


# --- the histogram -----------------------------------------------------------------------------

def plot_scores(scores: Sequence[float], threshold: float, lab: str):
    """Histogram of every pair's score, the pairs at or above ``threshold`` in red; on a log scale
    once the common scores dwarf the rare ones, so that outliers stay visible."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    from .exports import new_figure, say_on_axes

    fig = new_figure(8, 3.8)
    ax = fig.add_subplot()
    if scores:
        below, above = [s for s in scores if s < threshold], [s for s in scores if s >= threshold]
        counts, _, _ = ax.hist([below, above], bins=np.linspace(0, 1, 51), stacked=True, color=["#5c6bc0", "#c62828"],
                               edgecolor="white", label=["pairs", "flagged pairs"])
        if np.max(counts) > 20:
            ax.set_yscale("log")
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        say_on_axes(ax, "no pairs")
    ax.axvline(threshold, color="#c62828", linestyle="--", linewidth=1.2, label=f"threshold {fmt_points(threshold)}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("similarity score of a pair (0: nothing shared, 1: the same code)")
    ax.set_ylabel("pairs")
    ax.set_title(f"{lab}: similarity of all {len(scores)} pairs of submissions")
    fig.legend(loc="outside right upper", frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
