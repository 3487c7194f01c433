"""The TA side of seqlab: release, autograde, feedback and grade export, on nbgrader's own API.

Modules (each a few small steps; nbgrader is imported lazily, so this import is cheap):
  course        the course folder and the nbgrader configuration shared by every step
  release       student notebooks (+ Colab header and setup cells), reference outputs, labs/ sync
  diagrams      the labs' diagrams as PNG attachments (drawn in ``drawings``), placed at release
  submissions   build submissions from the source: fill_solutions, Bug
  collect       LMS zips and folders -> nbgrader's submitted/, roster, what could not be matched
  timestamps    each submission's time, from the LMS download or the file (nbgrader's timestamp.txt)
  deadlines     due dates, extensions and the late policy (seqlab.toml, ``seqlab-grade deadline``)
  latepenalty   that policy as nbgrader's LateSubmissionPlugin, recorded in the gradebook
  repair        read any notebook a student hands in; rebuild it on the grading template
  sandbox       bubblewrap + process limits around each student's kernel
  runner        run a notebook cell by cell in that sandbox, surviving crashes and timeouts
  scoring       each grade cell's verdict, computed outside the student's kernel
  written       written answers: rubrics for the TA, the TA's grades read back from the gradebook
  pipeline      autograde: repair, run, score in parallel workers; one gradebook writer
  results       per-test results saved per student (what feedback and exports read), with timings
  pages         per-student results pages; exports: per-test CSV, Gradescope, class report
  grade         the score table read back from the gradebook
  preprocessors stderr demotion (autograde); hidden-test and rubric removal (feedback)
  report        feedback pages (only where a result changed) and nbgrader's CSV grade sheet
  lms           Canvas and Moodle grade sheets from a roster
  similarity    similar solution code between submissions (copydetect); similarity_report its pages
  demo          the whole pipeline on Lab 1 (``seqlab-grade demo``)
  cli           the ``seqlab-grade`` command
"""
from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "GradingError": "course",
    "release": "release",
    "sync_labs": "release",
    "fill_solutions": "submissions",
    "Bug": "submissions",
    "collect": "collect",
    "autograde": "pipeline",
    "repair": "repair",
    "score_table": "grade",
    "ScoreTable": "grade",
    "feedback": "report",
    "export_csv": "report",
    "run_demo": "demo",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
