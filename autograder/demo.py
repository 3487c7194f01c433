"""The main job: one command that shows the whole grading pipeline on a real lab.

``run_demo()`` builds a course (a fresh temporary folder unless one is given), releases the lab,
makes three example submissions (``reference``: the released notebook answered with the
reference solution; ``blank``: the released notebook untouched; ``buggy``: the reference with
one plausible bug), autogrades them, prints the per-cell score table, writes the feedback pages
and the CSV grade sheet, and says where everything is. The lab and the bug are parameters so the
tests can run the same pipeline on a tiny lab in seconds.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import nbformat

from .course import DEFAULT_CELL_TIMEOUT, find_repo, release_notebook, source_notebook
from .grade import ScoreTable, score_table
from .release import release, write_notebook
from .report import export_all, feedback_pages
from .submissions import Bug, example_submissions

DEFAULT_LAB = "01_rnn"
# Lab 1's bug: the input and hidden-to-hidden weights swapped in the RNN step. (Swapping every
# Wx and Wh would swap the parameter names too, giving a correct function.)
# The classic BPTT slip: the gradient arriving from step t + 1 is dropped, so only dh[:, t] flows in.
DEFAULT_BUG = Bug("rnn_backward_code", "rnn_step_backward(dh[:, t] + dprev_h, cache[t])",
                  "rnn_step_backward(dh[:, t], cache[t])",
                  what="rnn_backward forgets the gradient flowing back from later steps")


@dataclass
class Demo:
    """Inputs and results of a demo run, filled in step by step."""

    course: Path
    repo: Path
    lab: str = DEFAULT_LAB
    bug: Bug = DEFAULT_BUG
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    echo: Callable[[str], None] = print
    submissions: Dict[str, Path] = field(default_factory=dict)
    problems: Dict[str, str] = field(default_factory=dict)
    table: Optional[ScoreTable] = None
    feedback: List[Path] = field(default_factory=list)
    grade_sheet: Optional[Path] = None
    exports: Dict[str, Path] = field(default_factory=dict)
    sandbox: str = ""


def step_release(d: Demo) -> None:
    d.echo(f"releasing {d.lab} from {source_notebook(d.repo, d.lab)} (runs the reference once) ...")
    release(d.lab, d.course, repo=d.repo, cell_timeout=d.cell_timeout)


def step_make_submissions(d: Demo) -> None:
    released = nbformat.read(str(release_notebook(d.course, d.lab)), as_version=4)
    source = nbformat.read(str(source_notebook(d.repo, d.lab)), as_version=4)
    folder = d.course / "examples"
    for student, nb in example_submissions(released, source, d.bug).items():
        d.submissions[student] = folder / f"{student}.ipynb"
        write_notebook(nb, d.submissions[student])
    d.echo(f"example submissions in {folder}: reference, blank, buggy ({d.bug.what or d.bug})")


def step_autograde(d: Demo) -> None:
    from .collect import collect
    from .pipeline import autograde
    from .sandbox import Limits
    students = list(collect(d.course / "examples", d.course, d.lab).collected)
    d.echo(f"autograding {', '.join(students)} (sandboxed, in parallel) ...")
    results = autograde(d.course, d.lab, students, limits=Limits(cell_seconds=d.cell_timeout),
                        progress=False)
    d.problems = {r.student: r.problem for r in results if r.problem}
    d.sandbox = results[0].sandbox if results else ""
    d.table = score_table(d.course, d.lab, d.problems)
    d.echo("\n" + d.table.format() + "\n")
    d.echo(f"isolation: {d.sandbox}")


def step_feedback(d: Demo) -> None:
    d.feedback = feedback_pages(d.course, d.lab)


def step_export(d: Demo) -> None:
    d.exports = export_all(d.course, d.lab)
    d.grade_sheet = d.exports["grades"]


# Ordering: release records the reference and writes release/, which the submissions copy;
# feedback and export read what autograde stored (autograded/ and the gradebook).
DEMO_STEPS: List[Tuple[str, Callable[[Demo], None]]] = [
    ("release", step_release),
    ("make_submissions", step_make_submissions),
    ("autograde", step_autograde),
    ("feedback", step_feedback),
    ("export", step_export),
]


def run_demo(course: Optional[os.PathLike] = None, *, repo: Optional[os.PathLike] = None,
             lab: str = DEFAULT_LAB, bug: Bug = DEFAULT_BUG,
             cell_timeout: int = DEFAULT_CELL_TIMEOUT, echo: Callable[[str], None] = print) -> Demo:
    """Run every step of ``DEMO_STEPS``; returns the filled-in ``Demo``."""
    repo = find_repo(repo)
    source_notebook(repo, lab)  # fail before making a course when the lab does not exist
    course = Path(course) if course else Path(tempfile.mkdtemp(prefix="seqlab-course-"))
    d = Demo(course=course.resolve(), repo=repo, lab=lab, bug=bug, cell_timeout=cell_timeout, echo=echo)
    d.echo(f"course folder: {d.course}")
    for _, step in DEMO_STEPS:
        step(d)
    d.echo("feedback pages:\n  " + "\n  ".join(str(p) for p in d.feedback))
    d.echo("exports:\n" + "\n".join(f"  {name}: {path}" for name, path in d.exports.items()))
    d.echo(f"gradebook: {d.course / 'gradebook.db'} (to browse it: `jupyter lab` from {d.course}, "
           "then Nbgrader > Formgrader)")
    return d
