"""What goes back to people after grading: feedback pages for students, a grade sheet for TAs.

Feedback is nbgrader's ``generate_feedback`` (HTML per student under ``feedback/``) with our
``HideHiddenTests`` step configured in ``course.nbgrader_config``, since nbgrader 0.9.6 would
otherwise render the hidden tests it restored for grading. It renders the autograded notebook,
which ``sanitize.py`` cleaned when it was written; each page then gets ``pages.CSP`` as the first
element of its head, so neither nbconvert's own scripts nor anything a student left can run. The
grade sheet is nbgrader's own ``CsvExportPlugin`` over the gradebook, one row per student and lab.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

from .course import check, gradebook, nbgrader_env, open_api
from .pages import with_csp


def feedback(course: os.PathLike, lab: str, student: Optional[str] = None) -> List[Path]:
    """Write the feedback pages of ``lab`` (every autograded student, or one), each with our
    Content-Security-Policy; returns them."""
    course = Path(course).resolve()
    with nbgrader_env():
        result = open_api(course).generate_feedback(lab, student_id=student, force=True)
    check(result, f"nbgrader generate_feedback for {lab}",
          f"autograde the submissions first (`seqlab-grade autograde {lab} DIR --course {course}`)")
    pages = sorted((course / "feedback").glob(f"{student or '*'}/{lab}/{lab}.html"))
    for page in pages:
        page.write_text(with_csp(page.read_text(encoding="utf-8")), encoding="utf-8")
    return pages


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


def feedback_pages(course: os.PathLike, lab: str, student: Optional[str] = None) -> List[Path]:
    """nbgrader's feedback (the notebook as graded), then our per-test results page beside it
    (in that order: nbgrader clears the student's feedback folder first); returns both kinds."""
    from .pages import write_pages
    from .results import load_results
    from .written import with_written_grades

    course = Path(course).resolve()
    pages = feedback(course, lab, student)
    results = [r for r in with_written_grades(course, lab, load_results(course, lab))
               if student is None or r.student == student]
    return sorted(pages + write_pages(course, lab, results))


def export_all(course: os.PathLike, lab: str) -> Dict[str, Path]:
    """Every export of ``lab``: nbgrader's CSV (all labs), then under ``exports/<lab>/`` the
    per-test CSV, Gradescope results and the class report. Returns name -> path."""
    from .exports import class_report, export_gradescope, export_tests_csv
    from .results import load_results
    from .written import with_written_grades

    course = Path(course).resolve()
    results = with_written_grades(course, lab, load_results(course, lab))
    folder = course / "exports" / lab
    export_gradescope(results, folder / "gradescope")
    return {
        "grades": export_csv(course),
        "tests": export_tests_csv(results, folder / "tests.csv"),
        "gradescope": folder / "gradescope",
        "report": class_report(results, folder / "report", lab=lab),
    }
