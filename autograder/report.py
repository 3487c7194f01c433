"""What goes back to people after grading: feedback pages for students, a grade sheet for TAs.

Feedback is nbgrader's ``generate_feedback`` (HTML per student under ``feedback/``) with our
``HideHiddenTests`` step configured in ``course.nbgrader_config``, since nbgrader 0.9.6 would
otherwise render the hidden tests it restored for grading. The grade sheet is nbgrader's own
``CsvExportPlugin`` over the gradebook, one row per student and lab.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

from .course import check, gradebook, nbgrader_env, open_api


def feedback(course: os.PathLike, lab: str, student: Optional[str] = None) -> List[Path]:
    """Write the feedback pages of ``lab`` (every autograded student, or one); returns them."""
    course = Path(course).resolve()
    with nbgrader_env():
        result = open_api(course).generate_feedback(lab, student_id=student, force=True)
    check(result, f"nbgrader generate_feedback for {lab}",
          f"autograde the submissions first (`seqlab-grade autograde {lab} DIR --course {course}`)")
    pattern = f"{student or '*'}/{lab}/{lab}.html"
    return sorted((course / "feedback").glob(pattern))


def export_csv(course: os.PathLike, dest: Optional[os.PathLike] = None,
               labs: Optional[List[str]] = None) -> Path:
    """Write nbgrader's CSV grade sheet (default ``<course>/grades.csv``); returns its path."""
    from nbgrader.plugins.export import CsvExportPlugin

    course = Path(course).resolve()
    dest = Path(dest) if dest else course / "grades.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    plugin = CsvExportPlugin(to=str(dest), assignment=list(labs or []))
    with gradebook(course) as gb:
        plugin.export(gb)
    return dest
