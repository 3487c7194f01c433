"""Autograde a folder of submissions with nbgrader, and read the scores back as a table.

``collect`` copies ``<dir>/<student>.ipynb`` or ``<dir>/<student>/<lab>.ipynb`` into nbgrader's
``submitted/<student>/<lab>/<lab>.ipynb``; ``autograde`` runs ``NbGraderAPI.autograde`` for
each student with the recorded reference outputs visible to the grading kernel (one bad
notebook is reported and never stops the others); ``score_table`` reads the gradebook into a
student × grade-cell table, the data the demo prints and the mutation tests assert on.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import nbformat

from .course import (DEFAULT_CELL_TIMEOUT, GradingError, failure_reason, gradebook, nbgrader_env,
                     open_api, reference_store)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def student_id(name: str) -> str:
    """A student id nbgrader can use as a folder name ("Copy of Ana" -> "Copy_of_Ana")."""
    sid = _UNSAFE.sub("_", name).strip("._")
    if not sid:
        raise GradingError(f"cannot make a student id from {name!r}: rename the submission")
    return sid


def find_submissions(folder: os.PathLike, lab: str) -> Dict[str, Path]:
    """Student id -> notebook, from ``<folder>/<student>.ipynb`` or ``<folder>/<student>/<lab>.ipynb``
    (a student folder holding a single notebook of another name is accepted too)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(f"submissions folder {folder} not found: pass the folder that holds the notebooks")
    found: Dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".ipynb":
            found[student_id(entry.stem)] = entry
        elif entry.is_dir() and not entry.name.startswith("."):
            notebooks = sorted(entry.glob("*.ipynb"))
            exact = entry / f"{lab}.ipynb"
            if exact.exists():
                found[student_id(entry.name)] = exact
            elif len(notebooks) == 1:
                found[student_id(entry.name)] = notebooks[0]
    if not found:
        raise GradingError(f"no notebooks in {folder}: expected <student>.ipynb or <student>/{lab}.ipynb")
    return found


def collect(folder: os.PathLike, course: os.PathLike, lab: str) -> List[str]:
    """Copy the submissions in ``folder`` into the course; returns the student ids."""
    students = []
    for sid, path in find_submissions(folder, lab).items():
        dest = Path(course) / "submitted" / sid / lab / f"{lab}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        students.append(sid)
    return students


def autograde(course: os.PathLike, lab: str, students: Optional[Iterable[str]] = None, *,
              cell_timeout: int = DEFAULT_CELL_TIMEOUT) -> Dict[str, str]:
    """Autograde ``students`` (default: every submitted one) of ``lab``.

    Returns student id -> problem, for the submissions nbgrader could not grade (empty when all
    went well); their cells keep no score and the others are unaffected.
    """
    course = Path(course).resolve()
    store = reference_store(course, lab)
    if not store.exists():
        raise GradingError(f"no reference outputs at {store}: run `seqlab-grade release {lab} "
                           f"--course {course}` before autograding")
    if students is None:
        students = sorted(p.parent.parent.name for p in (course / "submitted").glob(f"*/{lab}/{lab}.ipynb"))
    problems: Dict[str, str] = {}
    api = open_api(course, cell_timeout=cell_timeout)
    with tempfile.TemporaryDirectory(prefix="seqlab-grade-") as tmp:
        for sid in students:
            # Each kernel gets its own copy of the recorded outputs, in compare mode (MODE unset):
            # a submission that switches itself to record mode can only spoil its own copy.
            copy = Path(tmp) / sid / store.name
            copy.parent.mkdir()
            shutil.copyfile(store, copy)
            with nbgrader_env(SEQLAB_REFERENCE_STORE=str(copy), SEQLAB_REFERENCE_MODE=None):
                result = api.autograde(lab, sid, force=True, create=True)
            if not result.get("success"):
                problems[sid] = failure_reason(result)
    return problems


@dataclass
class ScoreTable:
    """Points per student and grade cell, read from the gradebook.

    ``table[student][grade_id]`` is the points scored (``None``: needs manual grading), and
    ``table[student]["total"]`` their sum; ``rows`` holds the same as a list of dicts.
    """

    lab: str
    cells: List[str]                      # grade ids in notebook order
    max_points: Dict[str, float]          # grade id -> points available
    scores: Dict[str, Dict[str, Optional[float]]] = field(default_factory=dict)
    problems: Dict[str, str] = field(default_factory=dict)   # student -> why not graded

    def __getitem__(self, student: str) -> Dict[str, Optional[float]]:
        return self.scores[student]

    def __contains__(self, student: str) -> bool:
        return student in self.scores

    @property
    def total_max(self) -> float:
        return sum(self.max_points.values())

    @property
    def rows(self) -> List[dict]:
        return [{"student": s, **points} for s, points in self.scores.items()]

    def format(self) -> str:
        """A plain-text table: one row per student, ``points/max`` per grade cell, then total."""
        head = ["student", *self.cells, "total"]
        body = []
        for student, points in self.scores.items():
            cells = [_fmt(points.get(c), self.max_points[c]) for c in self.cells]
            body.append([student, *cells, _fmt(points["total"], self.total_max)])
        widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [head, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines += [f"{s}: not graded: {why}" for s, why in self.problems.items()]
        return "\n".join(lines)


def _fmt(points: Optional[float], most: float) -> str:
    return f"{'?' if points is None else f'{points:g}'}/{most:g}"


def score_table(course: os.PathLike, lab: str, problems: Optional[Dict[str, str]] = None) -> ScoreTable:
    """Read every autograded submission of ``lab`` from the course gradebook."""
    course = Path(course)
    with gradebook(course) as gb:
        notebook = gb.find_notebook(lab, lab)
        max_points = {cell.name: float(cell.max_score) for cell in notebook.grade_cells}
        table = ScoreTable(lab, _in_notebook_order(course, lab, max_points), max_points,
                           problems=dict(problems or {}))
        for submission in sorted(gb.assignment_submissions(lab), key=lambda s: s.student.id):
            sid = submission.student.id
            if sid in table.problems:
                continue
            grades = {g.name: g.score for g in gb.find_submission_notebook(lab, lab, sid).grades}
            row = {cell: _number(grades.get(cell)) for cell in table.cells}
            row["total"] = sum(v for v in row.values() if v is not None)
            table.scores[sid] = row
    return table


def _number(value) -> Optional[float]:
    return None if value is None else float(value)


def _in_notebook_order(course: Path, lab: str, names: Iterable[str]) -> List[str]:
    names = set(names)
    source = course / "source" / lab / f"{lab}.ipynb"
    order: List[str] = []
    if source.exists():
        for cell in nbformat.read(str(source), as_version=4).cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in names and gid not in order:
                order.append(gid)
    return order + sorted(names - set(order))
