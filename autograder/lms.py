"""Grade sheets an LMS imports as they are: Canvas's Gradebook CSV and Moodle's CSV grade import.

Both sheets hold one row per roster student and one column per lab, made from the saved results
(``results.load_results`` with the TA's written grades, ``written.with_written_grades``): a lab's
grade is the sum of its tests' points, TA-graded written answers included, less its late penalty
(``results.SubmissionResult.final_score``, ``deadlines.py``).

Canvas, as documented in the Instructure Community guide "How do I import grades in the
Gradebook?" (community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807,
its 2021–2023 text as quoted in PrairieLearn#4547 and ucfopen/Materia#1071: columns Student, ID,
SIS User ID, SIS Login ID, Section, then assignments), each rule checked against the importer
itself (instructure/canvas-lms ``app/models/gradebook_importer.rb``, 2025):

- columns ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one per lab.
  Canvas finds the student by ``ID`` (the Canvas user id: the roster's ``lms_id``, digits only), then
  ``SIS User ID`` (``sis_id``), then ``SIS Login ID`` (``login``); ``Student`` ("Last, First") is
  only shown. ``Section`` must be there but is not read on import, so it is left empty;
- a lab column named ``Title (assignment id)`` updates that assignment; any other name is matched by
  title or offered as a new assignment on the import page (default name: the lab id; ``columns``);
- a second row whose first cell is ``    Points Possible`` (as Canvas's own export writes it), with
  each lab's points, which the import gives the assignment (a new one, or one with other points).

Moodle, as documented in "Grade import" (docs.moodle.org/405/en/Grade_import, Moodle 4.5), checked
against ``grade/import/csv/classes/load_data.php`` (moodle/moodle): the TA maps one column to a
user field ("Map from" / "Map to": ``useremail``, ``username`` or ``useridnumber``) and each lab
column to a grade item or a new one. The columns are those of Moodle's own export ("First name",
"Last name", then the one user field: "Email address", "Username" or "ID number"), then the labs.
A row whose user is not found stops the whole import, and a row with an empty user field gets the
previous row's user, so a student without that field is left out of the file (and reported).

Cells. Grades are plain decimals (``18``, ``17.5``; at most two places, as Canvas shows them).
"No grade" is what each LMS writes for it in its own export: an empty cell in Canvas, ``-`` in
Moodle (which reads ``-`` as no grade for new and existing items, an empty cell only for existing
ones). It goes to:

- a roster student with no submission (``zeros=True`` writes 0 instead);
- a lab that is not final: a written answer still ``needs_grading``, a test the grader failed on
  (``ungraded``), or no tests at all. A partial score would read as the grade, so none is sent, and
  the report lists each one with what to do (grade it in the formgrader, or rerun autograde).

Names are one line (control and bidi characters dropped, whitespace runs as one space) and never a
formula (``exports.csv_safe``). An id that would not survive that unchanged is not written altered,
since it would no longer match: its cell is left empty, or the row left out where it is the only
one, and the report says so. Files are UTF-8 with a byte-order mark: both importers read it
(Moodle strips it; Canvas's header test looks for "Student" within the first cell, and its own
exports carry one when the user's "Include Byte-Order Mark" option is on), and Excel needs it to
show accented names right when a TA opens the file to check it.

``write_sheets`` writes ``canvas.csv``, ``moodle.csv`` and ``lms_report.txt`` (who was left out or
left without a grade, and why) for a set of labs; ``export_lms`` does it for a course's labs.
"""
from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .course import GradingError
from .exports import csv_safe
from .pages import fmt_points
from .results import SubmissionResult
from .roster import Student, gradebook_roster, load_roster

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "    Points Possible"
# Moodle's "Map to" choice -> the column Moodle's export names it, and the roster field it holds.
MOODLE_USER_FIELDS: Dict[str, Tuple[str, str]] = {
    "email": ("Email address", "email"), "username": ("Username", "login"), "idnumber": ("ID number", "sis_id")}
MOODLE_NAME_COLUMNS = ["First name", "Last name"]
MOODLE_NO_GRADE = "-"
# Highest grade Moodle imports unless the site allows more (Note 2 of the Grade import page).
MOODLE_DEFAULT_MAX = 100.0
ENCODING = "utf-8-sig"
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")

Roster = Union[None, os.PathLike, Sequence[Student]]


@dataclass(frozen=True)
class SheetOptions:
    """What the TA chose for the LMS sheets (``seqlab-grade export`` options)."""

    roster: Roster = None            # a roster CSV or students; None: the students collect added
    zeros: bool = False              # 0 for a roster student with no submission, not "no grade"
    moodle_user: str = "email"       # the Moodle user field of the sheet: email, username or idnumber
    columns: Mapping[str, str] = field(default_factory=dict)   # lab -> column name, e.g. "Lab 1 (4410)"


@dataclass
class SheetReport:
    """What the TA should know before importing: who is missing from the files or has no grade."""

    labs: List[str] = field(default_factory=list)
    students: int = 0
    not_in_roster: Dict[str, List[str]] = field(default_factory=dict)   # student -> labs with results
    not_final: List[Tuple[str, str, str]] = field(default_factory=list)  # (student, lab, why)
    no_submission: Dict[str, List[str]] = field(default_factory=dict)   # lab -> roster students
    left_out: List[Tuple[str, str, str]] = field(default_factory=list)   # (file, student, why)
    notes: List[str] = field(default_factory=list)

    def format(self) -> str:
        """One line per thing to look at, after a summary line."""
        lines = [f"LMS grade sheets: {self.students} roster student(s), labs {', '.join(self.labs) or 'none'}"]
        if self.not_in_roster:
            who = ", ".join(f"{sid!r} ({', '.join(labs)})" for sid, labs in sorted(self.not_in_roster.items()))
            lines.append(f"not in the roster, left out of both sheets ({len(self.not_in_roster)}): {who}; add them "
                         "to the roster (id, name and their LMS ids) and export again")
        for sid, lab, why in self.not_final:
            lines.append(f"no grade sent for {sid!r} in {lab}: {why}")
        for lab, sids in sorted(self.no_submission.items()):
            lines.append(f"no submission for {lab} from {len(sids)} roster student(s), left without a grade "
                         f"(--zeros gives them 0): {', '.join(repr(s) for s in sids)}")
        lines += [f"left out of {name}: {sid!r}: {why}" for name, sid, why in self.left_out]
        return "\n".join(lines + self.notes) + "\n"


def lab_grade(result: SubmissionResult) -> Tuple[Optional[float], str]:
    """What ``result`` sends to an LMS: (its total points less any late penalty, "") once every test is
    final, else (None, why not and what to do)."""
    if not result.tests:
        problem = " ".join(result.problem.split())[:200] or "no tests"
        return None, f"not graded ({problem}); rerun seqlab-grade autograde"
    broken = [t.name for t in result.tests if t.status == "ungraded"]
    if broken:
        return None, f"the grader failed on {', '.join(broken)}; rerun seqlab-grade autograde"
    waiting = [t.name for t in result.tests if t.status == "needs_grading"]
    if waiting:
        return None, (f"written answer(s) {', '.join(waiting)} not graded yet; grade them in the formgrader "
                      "and export again")
    return result.final_score, ""


@dataclass
class Sheet:
    """The grades both files hold: ``grades[student][lab]`` is points or None (no grade)."""

    labs: List[str]
    points_possible: Dict[str, float]
    students: List[Student]
    grades: Dict[str, Dict[str, Optional[float]]]
    report: SheetReport


def build_sheet(results: Mapping[str, Sequence[SubmissionResult]], roster: Sequence[Student],
                zeros: bool = False) -> Sheet:
    """The grades of ``roster`` in each lab of ``results`` (lab -> its saved results), with a report."""
    report = SheetReport(students=len(roster))
    known = {s.id for s in roster}
    grades: Dict[str, Dict[str, Optional[float]]] = {s.id: {} for s in roster}
    labs, possible = [], {}
    for lab, lab_results in results.items():
        maxima = sorted({r.max_score for r in lab_results if r.tests})
        if not maxima:
            report.notes.append(f"{lab}: no graded submission, so its points are unknown; left out of both sheets")
            continue
        if len(maxima) > 1:
            totals = ", ".join(map(fmt_points, maxima))
            report.notes.append(f"{lab}: submissions were graded out of different totals ({totals}), so some were "
                                "graded before a re-release; the sheets say the largest: regrade with --force")
        labs.append(lab)
        possible[lab] = maxima[-1]
        by_student = {r.student: r for r in lab_results}
        for sid in sorted(set(by_student) - known):
            report.not_in_roster.setdefault(sid, []).append(lab)
        for s in roster:
            if s.id not in by_student:
                grades[s.id][lab] = 0.0 if zeros else None
                if not zeros:
                    report.no_submission.setdefault(lab, []).append(s.id)
                continue
            grades[s.id][lab], why = lab_grade(by_student[s.id])
            if why:
                report.not_final.append((s.id, lab, why))
    report.labs = labs
    return Sheet(labs, possible, list(roster), grades, report)


def cell(text: str) -> str:
    """``text`` as one inert spreadsheet cell: no control or bidi characters, one line, no formula."""
    text = _BIDI.sub("", "".join(c if unicodedata.category(c) != "Cc" else " " for c in str(text)))
    return csv_safe(" ".join(text.split()))


def number(points: Optional[float], none: str) -> str:
    """Points as a plain decimal ("18", "17.5"), or ``none`` for no grade."""
    return none if points is None else fmt_points(abs(points) if points == 0 else points)


def _unique(file: str, keyed: List[Tuple[Student, Tuple[str, ...]]], report: SheetReport) -> List[Student]:
    """The students whose LMS keys no other student shares; the others reported and left out."""
    counts = Counter(k for _, keys in keyed for k in keys if k)
    kept = []
    for s, keys in keyed:
        shared = [k for k in keys if k and counts[k] > 1]
        if shared:
            report.left_out.append((file, s.id, f"another roster student has the same LMS id {shared[0]!r}; "
                                                "fix the roster"))
        else:
            kept.append(s)
    return kept


def canvas_id(s: Student) -> str:
    """The Canvas user id of a roster student (``lms_id`` when it is digits, as Canvas's are)."""
    return s.lms_id if s.lms_id.isascii() and s.lms_id.isdigit() else ""


def usable(value: str) -> bool:
    """Can this id go into a sheet unchanged? (One that ``cell`` would change, a formula start or a
    line break, would no longer match the LMS's, so it is not written.)"""
    return cell(value) == value


def write_canvas(sheet: Sheet, dest: os.PathLike, columns: Optional[Mapping[str, str]] = None) -> Path:
    """Write ``sheet`` as a Canvas Gradebook import file (lab columns named by ``columns``, default
    the lab id); returns ``dest``."""
    report, keyed, columns, ids = sheet.report, [], columns or {}, {}
    for s in sheet.students:
        if s.lms_id and not canvas_id(s):
            report.notes.append(f"{s.id!r}: lms_id {s.lms_id!r} is not a Canvas user id (digits); its ID cell is "
                                "left empty and Canvas matches the SIS ids")
        for what, value in (("sis_id", s.sis_id), ("login", s.login)):
            if not usable(value):
                report.notes.append(f"{s.id!r}: {what} {value!r} cannot go into a spreadsheet unchanged; left empty")
        ids[s.id] = (canvas_id(s), s.sis_id if usable(s.sis_id) else "", s.login if usable(s.login) else "")
        keys = (ids[s.id][0], ids[s.id][1] and f"sis:{ids[s.id][1]}", ids[s.id][2] and f"login:{ids[s.id][2]}")
        if any(keys):
            keyed.append((s, keys))
        else:
            report.left_out.append(("canvas.csv", s.id, "the roster has no Canvas id for them: add lms_id (the "
                                    "Canvas user id), sis_id (SIS User ID) or login (SIS Login ID)"))
    rows = [CANVAS_COLUMNS + [cell(columns.get(lab, lab)) for lab in sheet.labs],
            [CANVAS_POINTS_POSSIBLE] + [""] * (len(CANVAS_COLUMNS) - 1)
            + [number(sheet.points_possible[lab], "") for lab in sheet.labs]]
    for s in _unique("canvas.csv", keyed, report):
        name = ", ".join(p for p in (s.last_name, s.first_name) if p) or s.id
        rows.append([cell(name), *ids[s.id], ""]
                    + [number(sheet.grades[s.id][lab], "") for lab in sheet.labs])
    return _write(rows, dest)


def write_moodle(sheet: Sheet, dest: os.PathLike, user_field: str = "email",
                 columns: Optional[Mapping[str, str]] = None) -> Path:
    """Write ``sheet`` as a Moodle CSV grade import file keyed by ``user_field``; returns ``dest``."""
    columns = columns or {}
    if user_field not in MOODLE_USER_FIELDS:
        raise GradingError(f"Moodle user field {user_field!r} is not one of {', '.join(MOODLE_USER_FIELDS)}")
    label, attr = MOODLE_USER_FIELDS[user_field]
    report, keyed = sheet.report, []
    for s in sheet.students:
        if getattr(s, attr) and not usable(getattr(s, attr)):
            report.left_out.append(("moodle.csv", s.id, f"their {attr} {getattr(s, attr)!r} cannot go into a "
                                    "spreadsheet unchanged, and Moodle stops the import at a user it cannot find"))
        elif getattr(s, attr):
            keyed.append((s, (getattr(s, attr),)))
        else:
            report.left_out.append(("moodle.csv", s.id, f"the roster has no {attr} for them, and the sheet identifies "
                                    f"students by Moodle {user_field}: add it, or pick another --moodle-user"))
    top = max(sheet.points_possible.values(), default=0.0)
    if top > MOODLE_DEFAULT_MAX:
        report.notes.append(f"moodle.csv: a lab is worth {fmt_points(top)} points; Moodle refuses grades above "
                            f"{fmt_points(MOODLE_DEFAULT_MAX)} unless the site allows them (unlimitedgrades)")
    rows = [MOODLE_NAME_COLUMNS + [label] + [cell(columns.get(lab, lab)) for lab in sheet.labs]]
    for s in _unique("moodle.csv", keyed, report):
        rows.append([cell(s.first_name), cell(s.last_name), getattr(s, attr)]
                    + [number(sheet.grades[s.id][lab], MOODLE_NO_GRADE) for lab in sheet.labs])
    return _write(rows, dest)


def _write(rows: List[List[str]], dest: os.PathLike) -> Path:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "w", newline="", encoding=ENCODING) as f:
        csv.writer(f).writerows(rows)
    tmp.replace(dest)
    return dest


def parse_columns(pairs: Optional[Sequence[str]]) -> Dict[str, str]:
    """``["01_rnn=Lab 1 (4410)", ...]`` (the ``--lms-column`` options) as lab -> column name."""
    columns: Dict[str, str] = {}
    for pair in pairs or []:
        lab, _, name = pair.partition("=")
        if not lab.strip() or not name.strip():
            raise GradingError(f"--lms-column {pair!r}: write LAB=COLUMN, e.g. 01_rnn='Lab 1: RNN (4410)' "
                               "(the number is the Canvas assignment id, in its URL)")
        columns[lab.strip()] = name.strip()
    names = Counter(columns.values())
    if any(n > 1 for n in names.values()):
        clashes = [name for name, n in names.items() if n > 1]
        raise GradingError(f"--lms-column gives two labs the same column name: {clashes}; give each lab its own")
    return columns


def course_roster(course: os.PathLike, roster: Roster = None) -> Optional[List[Student]]:
    """The students to put in the sheets: ``roster`` (a CSV path or students), else those in the
    course's gradebook (``collect --roster`` adds them, with email and LMS user id) when any has an
    LMS id; None when there is no roster to go on."""
    if roster is not None:
        return load_roster(roster) if isinstance(roster, (str, os.PathLike)) else list(roster)
    return gradebook_roster(course)


def write_sheets(course: os.PathLike, results: Mapping[str, Sequence[SubmissionResult]], dest_dir: os.PathLike,
                 options: SheetOptions = SheetOptions()) -> Dict[str, Path]:
    """Write ``canvas.csv``, ``moodle.csv`` and ``lms_report.txt`` under ``dest_dir`` for the labs of
    ``results`` (lab -> results with written grades); nothing when there is no roster. Returns
    name -> path."""
    roster = course_roster(course, options.roster)
    if roster is None:
        return {}
    sheet = build_sheet(results, roster, zeros=options.zeros)
    dest_dir = Path(dest_dir)
    paths = {"canvas": write_canvas(sheet, dest_dir / "canvas.csv", options.columns),
             "moodle": write_moodle(sheet, dest_dir / "moodle.csv", options.moodle_user, options.columns)}
    report = dest_dir / "lms_report.txt"
    report.write_text(sheet.report.format(), encoding="utf-8")
    return {**paths, "lms_report": report}


def export_lms(course: os.PathLike, labs: Sequence[str], options: SheetOptions = SheetOptions(),
               dest_dir: Optional[os.PathLike] = None) -> Dict[str, Path]:
    """One Canvas and one Moodle sheet for all ``labs`` (a column each), by default under
    ``<course>/exports/``; returns name -> path (empty when there is no roster)."""
    from .results import load_results
    from .written import with_written_grades

    course = Path(course).resolve()
    results = {lab: with_written_grades(course, lab, load_results(course, lab)) for lab in labs}
    return write_sheets(course, results, dest_dir or course / "exports", options)
