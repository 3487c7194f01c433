"""Exports of the saved grading results: a per-test CSV, Gradescope ``results.json``, a class report.

All three read ``results.SubmissionResult`` records (``results.load_results(course, lab)``), never
the gradebook or a kernel; nbgrader's own per-student CSV stays in ``report.export_csv``.

A late penalty (``deadlines.py``) shows in each: the CSV's ``late_penalty``, ``final_total`` and
``late`` (the reason) columns, Gradescope's top-level ``score`` (after the penalty, the tests keep
what they earned) and ``output``, and the class report's table of late submissions.

- ``export_tests_csv``: one row per student and test, for a spreadsheet. Cells that a spreadsheet
  would run as a formula (starting ``= + - @``, tab or CR: OWASP's CSV-injection list) get a
  leading ``'``, since messages are written by the student's code.
- ``export_gradescope`` / ``write_gradescope_result``: Gradescope's autograder output format
  (gradescope-autograders.readthedocs.io, "Autograder Specifications": top-level ``score``,
  ``execution_time``, ``output``, ``stdout_visibility``, and ``tests`` with ``name``, ``score``,
  ``max_score``, ``status`` "passed"/"failed", ``output``, ``visibility``). Outputs are plain text
  (``output_format: "text"``) and go through ``pages.student_text``; the grader's stdout stays
  hidden from students.
- ``class_report``: ``index.html`` and three PNG plots (matplotlib, Agg) that show a TA where the
  class struggled: the score distribution, the pass rate per test (hardest first), the statuses
  per test, and each test's most common failure message.
"""
from __future__ import annotations

import csv
import json
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence

from .course import GradingError
from .deadlines import describe
from .pages import STATUS_COLOURS, check_student_id, class_html, fmt_points, student_text
from .results import STATUSES, SubmissionResult

# Where a Gradescope autograder container expects its results.
GRADESCOPE_RESULTS = Path("/autograder/results/results.json")
CSV_MESSAGE_CHARS = 300
TESTS_CSV_COLUMNS = ["student", "lab", "test", "status", "points", "max_points", "seconds", "message",
                     "total", "max_total", "late_penalty", "final_total", "late"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


# ---- per-test CSV -----------------------------------------------------------------------------

def csv_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it but never runs it: a leading ``'`` before a formula start."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def one_line(text: str, limit: int = CSV_MESSAGE_CHARS) -> str:
    """``student_text(text)`` on one line (lines joined by `` | ``), cut to ``limit`` characters."""
    line = " | ".join(part.strip() for part in student_text(text).splitlines() if part.strip())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def export_tests_csv(results: Sequence[SubmissionResult], dest: os.PathLike) -> Path:
    """Write one row per student and test (students sorted, tests in notebook order); returns ``dest``.

    A submission that could not be graded and has no tests gets one row with an empty test and
    ``not graded: <problem>`` as its message."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in sorted(results, key=lambda r: (r.student, r.lab)):
        total = [fmt_points(r.score), fmt_points(r.max_score), fmt_points(r.late_penalty), fmt_points(r.final_score),
                 one_line(describe(r))]
        for t in r.tests:
            rows.append([r.student, r.lab, t.name, t.status, fmt_points(t.points), fmt_points(t.max_points),
                         f"{t.seconds:.2f}", one_line(t.message), *total])
        if not r.tests:
            rows.append([r.student, r.lab, "", "", "", "", "", one_line(f"not graded: {r.problem or 'no tests'}"), *total])
    with open(dest, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(TESTS_CSV_COLUMNS)
        writer.writerows([csv_safe(cell) for cell in row] for row in rows)
    return dest


# ---- Gradescope --------------------------------------------------------------------------------

def gradescope_json(result: SubmissionResult) -> dict:
    """``result`` in Gradescope's ``results.json`` format (a dict ready for ``json.dump``)."""
    r = result
    summary = [f"{r.lab}: {fmt_points(r.final_score)} / {fmt_points(r.max_score)} points."]
    if r.late_penalty:
        summary.append(f"Late penalty: −{fmt_points(r.late_penalty)} points (the tests earned {fmt_points(r.score)}).")
    if describe(r):
        summary.append(student_text(describe(r), 500))
    if r.problem:
        summary.append("This submission could not be graded automatically; your TA has the details.")
    if r.repairs:
        summary.append("Repairs made to your notebook before grading:")
        summary += [f"- {student_text(line, 500)}" for line in r.repairs]
    if r.sandbox:
        summary.append(f"Ran in: {r.sandbox}")
    tests = []
    for t in r.tests:
        text = f"{t.status}: {STATUSES.get(t.status, 'unknown status')}"
        message = student_text(t.message)
        tests.append({"name": t.name, "score": float(t.points), "max_score": float(t.max_points),
                      "status": "passed" if t.passed else "failed",
                      "output": text + (f"\n\n{message}" if message else ""),
                      "output_format": "text", "visibility": "visible"})
    return {"score": float(r.final_score), "execution_time": int(round(r.seconds)), "output": "\n".join(summary),
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope_result(result: SubmissionResult, path: os.PathLike = GRADESCOPE_RESULTS) -> Path:
    """Write ``result`` as Gradescope's ``results.json`` (default: where a Gradescope autograder
    container looks for it); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(gradescope_json(result), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def export_gradescope(results: Sequence[SubmissionResult], dest_dir: os.PathLike) -> List[Path]:
    """Write ``<dest_dir>/<student>/results.json`` for each result (one lab at a time); returns them."""
    seen: Dict[str, str] = {}
    for r in results:
        check_student_id(r.student)
        if r.student in seen:
            raise GradingError(f"two results for student {r.student} (labs {seen[r.student]} and {r.lab}): "
                               "export one lab at a time, e.g. results.load_results(course, LAB)")
        seen[r.student] = r.lab
    return [write_gradescope_result(r, Path(dest_dir) / r.student / "results.json")
            for r in sorted(results, key=lambda r: r.student)]


# ---- class report ------------------------------------------------------------------------------

@dataclass
class CellStats:
    """How the class did on one test (grade cell)."""

    name: str
    max_points: float
    statuses: Counter = field(default_factory=Counter)      # status -> submissions
    failures: Counter = field(default_factory=Counter)      # message pattern -> submissions
    examples: Dict[str, Counter] = field(default_factory=dict)  # pattern -> its first lines as written
    seconds: List[float] = field(default_factory=list)

    @property
    def graded(self) -> int:
        return sum(self.statuses.values())

    @property
    def pass_rate(self) -> float:
        return self.statuses["passed"] / self.graded if self.graded else 0.0

    def common_failure(self) -> "tuple[str, int]":
        """The most common first line of a failure message (numbers aside), and how many had it."""
        if not self.failures:
            return "", 0
        pattern, count = self.failures.most_common(1)[0]
        return self.examples[pattern].most_common(1)[0][0], count


def failure_line(status: str, message: str) -> str:
    """The first line of a failure's message, or its status explained when it has none."""
    lines = [ln.strip() for ln in student_text(message, 2000).splitlines() if ln.strip()]
    return lines[0][:200] if lines else f"{status}: {STATUSES.get(status, 'unknown status')} (no message)"


def cell_stats(results: Sequence[SubmissionResult]) -> List[CellStats]:
    """Per-test statistics in notebook order (that of the submission with the most tests)."""
    order: Dict[str, CellStats] = {}
    for r in sorted(results, key=lambda r: -len(r.tests)):
        for t in r.tests:
            s = order.setdefault(t.name, CellStats(t.name, t.max_points))
            s.statuses[t.status] += 1
            s.seconds.append(t.seconds)
            if not t.passed:
                line = failure_line(t.status, t.message)
                pattern = _NUMBER.sub("#", line)   # "h[1] = 0.12" and "h[2] = 0.5" are one mistake
                s.failures[pattern] += 1
                s.examples.setdefault(pattern, Counter())[line] += 1
    return list(order.values())


def hardest_first(stats: Sequence[CellStats]) -> List[CellStats]:
    """Tests by pass rate, lowest first (notebook order among equals)."""
    return sorted(stats, key=lambda s: s.pass_rate)


def class_report(results: Sequence[SubmissionResult], dest_dir: os.PathLike, *, lab: str) -> Path:
    """Write ``<dest_dir>/index.html`` and its PNG plots for the results of ``lab``; returns the page."""
    results = sorted((r for r in results if r.lab == lab), key=lambda r: r.student)
    if not results:
        raise GradingError(f"no results of lab {lab} to report on: autograde it first "
                           f"(`seqlab-grade autograde {lab} DIR --course COURSE`)")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    graded = [r for r in results if r.tests]
    stats = hardest_first(cell_stats(graded))
    max_score = max((r.max_score for r in graded), default=0.0)
    images = {"score_distribution.png": plot_scores([r.score for r in graded], max_score, lab),
              "pass_rates.png": plot_pass_rates(stats, lab),
              "status_breakdown.png": plot_statuses(stats, lab)}
    for name, fig in images.items():
        fig.savefig(dest_dir / name, dpi=110)
    index = dest_dir / "index.html"
    index.write_text(class_html(lab, results, stats, list(images)), encoding="utf-8")
    return index



# ---- plots (matplotlib's object API on the Agg canvas: no pyplot state, no display needed) ----

def new_figure(width: float, height: float):
    """A matplotlib Figure of ``width`` x ``height`` inches on its own Agg canvas (the report pages' plots)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_scores(scores: Sequence[float], max_score: float, lab: str):
    """Histogram of total scores, with the maximum and the mean marked."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(8, 3.8)
    ax = fig.add_subplot()
    step = _score_step([*scores, max_score])
    if step:   # one bar per possible score, centred on it
        bins = np.arange(-step / 2, max_score + step, step)
    else:
        bins = np.linspace(0, max(max_score, 1e-9), 21)
    if scores:
        ax.hist(scores, bins=bins, color="#5c6bc0", edgecolor="white")
        mean = statistics.mean(scores)
        ax.axvline(mean, color="#333", linestyle=":", linewidth=1.5, label=f"mean {fmt_points(mean)}")
    else:
        say_on_axes(ax, "no graded submissions")
    ax.axvline(max_score, color="#c62828", linestyle="--", linewidth=1.5, label=f"max {fmt_points(max_score)}")
    pad = max(step or 0, 0.05 * max_score)
    ax.set_xlim(-pad, max_score + pad)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("total score (points)")
    ax.set_ylabel("students")
    ax.set_title(f"{lab}: score distribution ({len(scores)} graded)")
    fig.legend(loc="outside right upper", frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _score_step(values: Sequence[float]) -> float:
    """The coarsest of 1, 1/2, 1/4, 1/10 points that every value is a multiple of (at most 60
    steps to the maximum), or 0 when there is none."""
    top = max(values, default=0.0)
    for step in (1.0, 0.5, 0.25, 0.1):
        if top / step <= 60 and all(abs(v / step - round(v / step)) < 1e-6 for v in values):
            return step
    return 0.0


def say_on_axes(ax, text: str) -> None:
    """Write ``text`` in the middle of an empty plot."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_yticks([])


def plot_pass_rates(stats: Sequence[CellStats], lab: str):
    """Horizontal bars of the pass rate per test, hardest at the top, red below 50% and amber below 80%."""
    fig = new_figure(8, 1.3 + 0.34 * max(len(stats), 1))
    ax = fig.add_subplot()
    names = [s.name for s in stats][::-1]            # barh draws bottom-up: hardest goes on top
    rates = [100 * s.pass_rate for s in stats][::-1]
    colours = ["#c62828" if r < 50 else "#f9a825" if r < 80 else "#2e7d32" for r in rates]
    ax.barh(names, rates, color=colours)
    for y, (s, r) in enumerate(zip(stats[::-1], rates)):
        ax.text(r + 1, y, f"{r:.0f}%  ({s.statuses['passed']}/{s.graded})", va="center", fontsize=8)
    if not stats:
        say_on_axes(ax, "no graded submissions")
    ax.set_xlim(0, 118)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("submissions that passed (%)")
    ax.set_title(f"{lab}: pass rate per test, hardest first")
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_statuses(stats: Sequence[CellStats], lab: str):
    """Stacked horizontal bars: how many submissions ended in each status, per test (hardest on top)."""
    fig = new_figure(8, 1.8 + 0.34 * max(len(stats), 1))
    ax = fig.add_subplot()
    names = [s.name for s in stats][::-1]
    present = [k for k in STATUS_COLOURS if any(s.statuses.get(k) for s in stats)]
    present += sorted({k for s in stats for k in s.statuses} - set(STATUS_COLOURS))
    left = [0] * len(names)
    for status in present:
        counts = [s.statuses.get(status, 0) for s in stats][::-1]
        ax.barh(names, counts, left=left, color=STATUS_COLOURS.get(status, "#000000"), label=status,
                edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, counts)]
    if not stats:
        say_on_axes(ax, "no graded submissions")
    ax.set_xlabel("submissions")
    ax.set_title(f"{lab}: status of each test, hardest first")
    ax.tick_params(axis="y", labelsize=8)
    if present:  # one column at the right, in stacking order, read top to bottom
        fig.legend(loc="outside right upper", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
