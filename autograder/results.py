"""What grading one submission produced: per-test results, repairs, and how it ran.

Every later step reads these records, never a kernel: the gradebook writer, the feedback pages,
the CSV and Gradescope exports and the class report. One ``SubmissionResult`` is saved as JSON
per student and lab under ``<course>/results/<lab>/<student>.json``; a rerun replaces it.

A test is one nbgrader grade cell. Its status is one of ``STATUSES``; a code cell earns its
points only when ``passed`` (all or nothing), a written answer what the TA gives it (``written.py``).

A submission's lateness is a ``Late`` record (``deadlines.py`` fills it in): the fraction of the
lab's points it costs, and why. The ``score`` stays what the tests earned, as nbgrader's does;
``late_penalty`` is that fraction in points (never more than the score) and ``final_score`` the
grade after it. A result saved before deadlines existed has no ``late`` and loads as on time.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

# Status of one test, and what each means (the exports and feedback pages print these words).
STATUSES: Dict[str, str] = {
    "passed": "the visible tests ran without error and every hidden case matched the reference",
    "failed": "a visible test raised an error",
    "hidden_failed": "a hidden case (other shapes or inputs) raised an error or differed from the reference",
    "forbidden": "the part's code calls a test helper or a shortcut the part forbids (checked on the code, "
                 "outside the kernel)",
    "missing": "a hidden case was never reached (the cell stopped early or the check was bypassed)",
    "timeout": "the cell ran past its time limit and was stopped",
    "memory": "the cell ran out of memory",
    "died": "the Python kernel died in this cell (os._exit, a segfault, or killed)",
    "not_run": "the cell was not run (the notebook's time limit was reached, or an earlier crash)",
    "unreadable": "the submitted file is not a notebook that could be read",
    "ungraded": "the cell was not graded because the grader itself failed; rerun autograde",
    "needs_grading": "a written answer, waiting for the TA to grade it by hand",
    "graded": "a written answer, graded by the TA (the message is the TA's comment)",
}


@dataclass
class TestResult:
    """One grade cell of one submission."""

    __test__ = False          # not a pytest test class, despite the name

    name: str                 # the grade cell id, e.g. "test_rnn_step_forward"
    points: float             # points earned
    max_points: float         # points available
    status: str               # a key of STATUSES
    message: str = ""         # for the student: the error or hidden-case verdict (never the hidden source)
    seconds: float = 0.0      # wall-clock time of the cell

    @property
    def passed(self) -> bool:
        return self.status == "passed" or (self.status == "graded" and self.points >= self.max_points)


def penalty_points(fraction: float, max_points: float, score: float) -> float:
    """A late penalty in points: ``fraction`` of the lab's ``max_points``, no more than ``score`` (as
    nbgrader's ``AssignLatePenalties`` keeps it), to the hundredth of a point."""
    return round(max(0.0, min(score, fraction * max_points)), 2)


@dataclass
class Late:
    """When a submission came in against the student's due date, and what that costs."""

    submitted: str = ""          # the submission time (ISO 8601, UTC); "" when none is known
    due: str = ""                # the student's due date, extension included (ISO 8601, UTC)
    extension: str = ""          # the student's extension in words ("24 h"); "" when none
    seconds_late: float = 0.0    # after that due date; 0 when on time
    fraction: float = 0.0        # of the lab's points lost
    reason: str = ""             # "submitted 2 days 3 hours after the due date (extension: 24 h)"
    rule: str = ""               # the policy that set the fraction: "10% a day started, at most 50%"
    problem: str = ""            # why no submission time is known, for the TA


@dataclass
class SubmissionResult:
    """One student's submission of one lab, graded."""

    student: str
    lab: str
    tests: List[TestResult] = field(default_factory=list)
    repairs: List[str] = field(default_factory=list)   # what the repair step changed, one line each
    sandbox: str = ""          # which isolation ran it, e.g. "bubblewrap (uid 64001, no network)"
    seconds: float = 0.0       # wall-clock time of the whole submission
    source: str = ""           # the submitted file, relative to the course
    digest: str = ""           # hash of submission + grading inputs: an unchanged rerun is skipped
    problem: str = ""          # set when the whole submission could not be graded, for the TA
    # Seconds per step of grading it, for benchmarks/grading_phases.py: "read and repair", "sandbox
    # set-up", "kernel start", "cell <index>" (each code cell of the repaired notebook), "scoring" ...
    # (see ``pipeline.grade_one`` and ``runner.run_notebook``); empty in results saved before it.
    phases: Dict[str, float] = field(default_factory=dict)
    late: Optional[Late] = None  # against the due date (None: the lab has none, or saved before deadlines)

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def late_penalty(self) -> float:
        """Points lost for lateness: the ``late`` fraction of the lab's points, at most the score."""
        return penalty_points(self.late.fraction, self.max_score, self.score) if self.late else 0.0

    @property
    def final_score(self) -> float:
        """The grade: the score less the late penalty."""
        return round(self.score - self.late_penalty, 2) if self.late_penalty else self.score

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SubmissionResult":
        data = json.loads(text)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        if data.get("late") is not None:
            data["late"] = Late(**data["late"])
        return cls(**data)


@contextlib.contextmanager
def timed(phases: Dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the ``with`` block takes to ``phases[name]`` (a step may run more than once)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = round(phases.get(name, 0.0) + time.perf_counter() - start, 4)


def results_dir(course: os.PathLike, lab: str) -> Path:
    return Path(course) / "results" / lab


def save_result(course: os.PathLike, result: SubmissionResult) -> Path:
    """Write ``result`` atomically (a crash mid-write leaves the previous file whole)."""
    path = results_dir(course, result.lab) / f"{result.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.to_json() + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_result(course: os.PathLike, lab: str, student: str) -> Optional[SubmissionResult]:
    path = results_dir(course, lab) / f"{student}.json"
    return SubmissionResult.from_json(path.read_text(encoding="utf-8")) if path.exists() else None


def load_results(course: os.PathLike, lab: str) -> List[SubmissionResult]:
    """Every saved result of ``lab``, sorted by student id."""
    folder = results_dir(course, lab)
    return [SubmissionResult.from_json(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
