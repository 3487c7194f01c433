"""Late penalties applied: to saved results and to nbgrader's gradebook, by nbgrader's own mechanism.

nbgrader computes lateness from three gradebook fields, the assignment's ``duedate``, the
submission's ``timestamp`` and its ``extension`` (``SubmittedAssignment.total_seconds_late``), and its
``AssignLatePenalties`` preprocessor asks the configured ``LateSubmissionPlugin`` for the penalty,
keeps it between 0 and the score, and stores it as ``SubmittedNotebook.late_submission_penalty``
(summed in ``SubmittedAssignment.late_submission_penalty``). The formgrader, nbgrader's feedback page
and its grades.csv (``raw_score``, ``late_submission_penalty``, ``score``) all read it from there.

seqlab grades outside nbgrader's ``autograde`` (``pipeline.py``), so ``record`` sets those three
fields from the course's deadline (``deadlines.py``) and runs ``AssignLatePenalties`` itself with
``SeqlabLatePenalty``, the course's policy as that plugin. The same plugin is registered in the
course's nbgrader configuration (``course.nbgrader_config``, and ``nbgrader_config.py`` in the
course folder), so an ``nbgrader autograde`` run by hand penalises the same way.

``pipeline.write`` assesses each result it saves (``assess_result``: the time in its ``timestamp.txt``
against the lab's ``deadlines.LabDeadline``) and then ``record``s it; ``refresh`` does both for saved
results, keeping only their ``late`` new, when the configuration or a time changed (``seqlab-grade
deadline``), after autograde for the results it kept, and before each export.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from nbgrader.plugins import LateSubmissionPlugin

from .course import gradebook, nbgrader_config, nbgrader_env
from .deadlines import LabDeadline, assess, lab_deadline, span
from .results import Late, SubmissionResult, load_result, penalty_points, save_result
from .timestamps import read_timestamp

# nbgrader logs every late submission as a warning; the TA gets ``deadlines.summary`` instead.
_QUIET = logging.getLogger("autograder.latepenalty.nbgrader")
_QUIET.setLevel(logging.ERROR)


class SeqlabLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin with the course's policy: the penalty is the policy's fraction
    of the notebook's points for the ``total_seconds_late`` nbgrader computed (past the due date and the
    student's extension); nbgrader keeps it no more than the score. The policy is the one in
    ``seqlab.toml`` under ``CourseDirectory.root``."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> Optional[float]:
        grader = self.parent     # nbgrader's AssignLatePenalties: it knows the assignment, notebook and gradebook
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        policy = lab_deadline(root, grader.assignment_id).policy
        notebook = grader.gradebook.find_notebook(grader.notebook_id, grader.assignment_id)
        return penalty_points(policy.fraction(total_seconds_late), float(notebook.max_score), float(score))


def naive_utc(when: Union[None, str, datetime]) -> Optional[datetime]:
    """A time (ISO text or aware) as the gradebook stores it: naive, in UTC (nbgrader's ``parse_utc``)."""
    if not when:
        return None
    when = datetime.fromisoformat(when) if isinstance(when, str) else when
    return when.astimezone(timezone.utc).replace(tzinfo=None)


def record(course: os.PathLike, lab: str, results: Sequence[SubmissionResult], deadline: LabDeadline) -> List[str]:
    """Bring the gradebook in line with ``results``' lateness: the assignment's ``duedate``, each
    submission's ``timestamp`` (its recorded time, with or without a due date) and ``extension``, then
    ``AssignLatePenalties`` for each student whose penalty there is not already right. Returns those
    students. A course without a gradebook, a lab or a student not in it is left alone."""
    course = Path(course).resolve()
    if not (course / "gradebook.db").is_file():
        return []
    todo = []
    with nbgrader_env(), gradebook(course) as gb:
        try:
            assignment = gb.find_assignment(lab)
        except Exception:            # not released into this gradebook
            return []
        assignment.duedate = naive_utc(deadline.due)
        for r in results:
            try:
                submission = gb.find_submission(lab, r.student)
                notebook = gb.find_submission_notebook(lab, lab, r.student)
            except Exception:        # never autograded into this gradebook
                continue
            late = r.late
            submission.timestamp = naive_utc(submission_time(course, lab, r.student)[0])   # shown, due date or not
            submission.extension = (deadline.extension(r.student) if late else timedelta(0)) or None
            want = penalty_points(late.fraction, float(notebook.max_score), float(notebook.score)) if late else 0.0
            have = notebook.late_submission_penalty
            if abs((have or 0.0) - want) > 1e-9 or (want and have is None):
                todo.append(r.student)
        gb.db.commit()
    if todo:
        _assign_penalties(course, lab, todo)
    return todo


def _assign_penalties(course: Path, lab: str, students: Sequence[str]) -> None:
    """nbgrader's ``AssignLatePenalties`` with ``SeqlabLatePenalty``, on each student's submission of ``lab``
    (it reads only the gradebook, so it is given an empty notebook)."""
    from nbformat.v4 import new_notebook
    from nbgrader.preprocessors import AssignLatePenalties

    config = nbgrader_config(course)
    url = f"sqlite:///{course / 'gradebook.db'}"
    with nbgrader_env():
        for student in students:
            step = AssignLatePenalties(config=config, plugin_class=SeqlabLatePenalty, log=_QUIET)
            step.preprocess(new_notebook(), {"nbgrader": {"notebook": lab, "assignment": lab,
                                                          "student": student, "db_url": url}})


# ---- saved results ----------------------------------------------------------------------------------

def submission_time(course: os.PathLike, lab: str, student: str) -> Tuple[Optional[datetime], str]:
    """The time in ``submitted/<student>/<lab>/timestamp.txt``, or (None, why there is none)."""
    when, problem = read_timestamp(Path(course) / "submitted" / student / lab)
    if when is None:
        from .collect import report_path
        try:
            source = json.loads(report_path(course, lab).read_text(encoding="utf-8"))["time_sources"][student]
            problem = f"{problem}; collect: {source}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return when, problem


def assess_result(course: os.PathLike, result: SubmissionResult,
                  deadline: Optional[LabDeadline] = None) -> Optional[Late]:
    """The lateness of a graded submission, from its recorded time and the course's configuration."""
    deadline = deadline or lab_deadline(course, result.lab)
    if deadline.due is None:
        return None
    return assess(deadline, result.student, *submission_time(course, result.lab, result.student))


def refresh(course: os.PathLike, lab: str, results: Optional[Sequence[SubmissionResult]] = None,
            deadline: Optional[LabDeadline] = None) -> List[SubmissionResult]:
    """``results`` (default: every saved result of ``lab``) with their lateness assessed afresh: a result
    whose lateness changed is saved again (only its ``late``), and the gradebook is brought in line."""
    from .results import load_results

    deadline = deadline or lab_deadline(course, lab)
    results = load_results(course, lab) if results is None else list(results)
    for r in results:
        late = assess_result(course, r, deadline)
        if late != r.late:
            r.late = late
            saved = load_result(course, lab, r.student)
            if saved is not None:
                saved.late = late
                save_result(course, saved)
    record(course, lab, results, deadline)
    return results


def summary(results: Sequence[SubmissionResult]) -> str:
    """For the TA after autograde or deadline: who lost points for lateness, whose time is unknown."""
    penalised = [r for r in results if r.late and r.late.fraction]
    unknown = [r for r in results if r.late and r.late.problem]
    lines = []
    if penalised:
        lines.append(f"late penalties ({len(penalised)}): " + ", ".join(
            f"{r.student} −{r.late_penalty:g} ({span(r.late.seconds_late)} late)" for r in penalised))
    if unknown:
        lines.append(f"no submission time, so no late penalty ({len(unknown)}): " + ", ".join(
            f"{r.student} ({r.late.problem})" for r in unknown)
                     + "; if they were late, write the time in submitted/<student>/<lab>/timestamp.txt "
                       "(e.g. 2025-03-01 23:10:00 UTC) and run `seqlab-grade deadline LAB` again")
    return "\n".join(lines)
