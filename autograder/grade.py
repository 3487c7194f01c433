"""Read a lab's scores back from nbgrader's gradebook as a student × grade-cell table.

``score_table`` is what ``seqlab-grade autograde`` and the demo print, and what the tests assert
on; grading itself is ``pipeline.autograde``. ``student_id`` makes a safe folder name of a
student's name (``collect`` uses it).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import nbformat

from .course import GradingError, gradebook

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def student_id(name: str) -> str:
    """A student id nbgrader can use as a folder name ("Copy of Ana" -> "Copy_of_Ana")."""
    sid = _UNSAFE.sub("_", name).strip("._")
    if not sid:
        raise GradingError(f"cannot make a student id from {name!r}: rename the submission")
    return sid


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
