"""Tests of autograder/lms.py: Canvas and Moodle grade sheets from saved results, checked against the
files those LMSs write (fixtures/lms/), on synthetic results and no kernel."""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from autograder import cli
from autograder.course import GradingError
from autograder.lms import (CANVAS_COLUMNS, MOODLE_NO_GRADE, SheetOptions, build_sheet, cell, export_lms, lab_grade,
                            parse_columns, write_sheets)
from autograder.report import export_all
from autograder.results import SubmissionResult, save_result
from autograder.results import TestResult as Case  # a Test* name would be collected by pytest
from autograder.roster import Student, add_students
from test_exports import CELLS, LAB, synthetic_class

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
POSSIBLE = sum(points for _, points, _ in CELLS)
# Names, ids and logins a student (or an LMS display name) could bring along.
HOSTILE = ["=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1:A9)", 'Smith, "Jane" O\'Neil', "two\nlines\r\n=evil",
           "\t=tab", "Zoë 👩‍💻 李雷", "\u202e=evil", "\x00\x1b[31mred"]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def roster_of(results: Sequence[SubmissionResult], skip: Sequence[str] = ()) -> List[Student]:
    """A roster with every LMS id for the plain student ids of ``results`` (s000, s001, ...)."""
    ids = [r.student for r in results if re.fullmatch(r"s\d+", r.student) and r.student not in skip]
    return [Student(sid, f"First{sid}", f"Last{sid}", f"{sid}@uni.example", f"{sid}_login", str(5000 + i), f"SIS{i}")
            for i, sid in enumerate(ids)]


def read_rows(path) -> List[List[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def read_canvas(path):
    """A Canvas import file read the way Canvas's importer reads it: the header (student columns, then
    assignments), the Points Possible row (its read-only columns are not assignments), then students.
    Returns (header, {assignment column: points possible}, [student row as a dict])."""
    rows = read_rows(path)
    header, rest = rows[0], rows[1:]
    assert "Student" in header[0] and "ID" in header[1] and "Section" in header[len(CANVAS_COLUMNS) - 1]
    assert "Points Possible" in rest[0][0]
    points = rest[0]
    assignments = {header[i]: points[i] for i in range(len(CANVAS_COLUMNS), len(header)) if points[i] != "(read only)"}
    return header, assignments, [dict(zip(header, row)) for row in rest[1:]]


def sheets(tmp_path, results: Dict[str, Sequence[SubmissionResult]], roster, **options) -> Dict[str, Path]:
    return write_sheets(tmp_path, results, tmp_path / "out", SheetOptions(roster, **options))


@pytest.fixture(scope="module")
def klass():
    return synthetic_class(n=12)


def test_lab_grade_is_final_or_says_why():
    """Is a lab's grade its total points once every test is final, and no grade (with what to do)
    while a written answer waits, the grader failed, or nothing was graded?"""
    done = SubmissionResult("s1", LAB, [Case("a", 2, 2, "passed"), Case("why", 1.5, 2, "graded"),
                                        Case("b", 0, 3, "failed")])
    assert lab_grade(done) == (3.5, "")
    waiting = SubmissionResult("s1", LAB, [Case("a", 2, 2, "passed"), Case("why", 0, 2, "needs_grading")])
    assert lab_grade(waiting)[0] is None and "why" in lab_grade(waiting)[1] and "formgrader" in lab_grade(waiting)[1]
    broken = SubmissionResult("s1", LAB, [Case("a", 0, 2, "ungraded")])
    assert lab_grade(broken)[0] is None and "rerun" in lab_grade(broken)[1]
    assert lab_grade(SubmissionResult("s1", LAB, [], problem="worker died"))[0] is None
    unreadable = SubmissionResult("s1", LAB, [Case("a", 0, 2, "unreadable")])
    assert lab_grade(unreadable) == (0.0, "")


def test_canvas_sheet_has_the_format_canvas_exports(klass, tmp_path):
    """Does canvas.csv have Canvas's own student columns in order, its Points Possible row, a
    parseable number per lab, and each roster student's Canvas ID and SIS ids back?"""
    roster = roster_of(klass)
    fixture_header, fixture_points, fixture_students = read_canvas(FIXTURES / "canvas_export.csv")
    header, points, students = read_canvas(sheets(tmp_path, {LAB: klass}, roster)["canvas"])
    assert header[:len(CANVAS_COLUMNS)] == fixture_header[:len(CANVAS_COLUMNS)] == CANVAS_COLUMNS
    assert list(points) == [LAB] and float(points[LAB]) == POSSIBLE
    assert all(float(p) > 0 for p in fixture_points.values()) and len(fixture_students) == 2
    assert all(row["ID"].isdigit() for row in fixture_students + students)
    assert all(re.fullmatch(r"(\d+(\.\d{1,2})?)?", row[LAB]) for row in students)    # plain decimals or empty
    by_id = {r.student: r for r in klass}
    assert [row["ID"] for row in students] == [s.lms_id for s in roster]
    for s, row in zip(roster, students):
        assert (row["SIS User ID"], row["SIS Login ID"]) == (s.sis_id, s.login)
        assert row["Student"] == f"{s.last_name}, {s.first_name}"
        assert float(row[LAB]) == pytest.approx(by_id[s.id].score)


def test_canvas_column_named_with_assignment_id(klass, tmp_path):
    """Can a lab's column carry the Canvas assignment id the way Canvas's export names columns?"""
    fixture_header, _, _ = read_canvas(FIXTURES / "canvas_export.csv")
    title = next(h for h in fixture_header if h.endswith("(4410)"))
    header, points, _ = read_canvas(sheets(tmp_path, {LAB: klass}, roster_of(klass), columns={LAB: title})["canvas"])
    assert list(points) == [title] and re.fullmatch(r"(.+) \((\d+)\)", header[-1]).group(2) == "4410"


@pytest.mark.parametrize("user_field, label, attr", [
    ("email", "Email address", "email"), ("idnumber", "ID number", "sis_id"), ("username", "Username", "login")])
def test_moodle_sheet_has_the_format_moodle_exports(klass, tmp_path, user_field, label, attr):
    """Does moodle.csv hold Moodle's own user columns (in its export's order), one user field to map,
    a number or Moodle's '-' per lab, and each student's user field back?"""
    roster = roster_of(klass)
    fixture = read_rows(FIXTURES / "moodle_export.csv")[0]
    rows = read_rows(sheets(tmp_path, {LAB: klass}, roster, moodle_user=user_field)["moodle"])
    assert rows[0] == ["First name", "Last name", label, LAB]
    if user_field != "username":           # Moodle's export leaves the username out unless asked
        assert [h for h in fixture if h in rows[0]] == rows[0][:3]
    assert [row[2] for row in rows[1:]] == [getattr(s, attr) for s in roster]
    for row in rows[1:]:
        assert row[3] == MOODLE_NO_GRADE or float(row[3]) >= 0
    assert all(cell == MOODLE_NO_GRADE or float(cell) >= 0 for row in read_rows(FIXTURES / "moodle_export.csv")[1:]
               for cell in row[6:7])


def test_student_not_in_roster_is_reported_and_the_rest_written(klass, tmp_path):
    """Is a graded student missing from the roster named in the report (with what to do), left out
    of both files, and everyone else still written?"""
    roster = roster_of(klass, skip=["s004"])
    paths = sheets(tmp_path, {LAB: klass}, roster)
    report = paths["lms_report"].read_text(encoding="utf-8")
    assert "not in the roster" in report and "'s004'" in report and "add them to the roster" in report
    assert "'@mallory=1+2'" in report and "'corrupt'" in report
    _, _, students = read_canvas(paths["canvas"])
    assert [row["SIS Login ID"] for row in students] == [s.login for s in roster]
    assert len(read_rows(paths["moodle"])) == len(roster) + 1


@pytest.mark.parametrize("zeros, canvas, moodle", [(False, "", "-"), (True, "0", "0")])
def test_no_submission_is_no_grade_unless_zeros(klass, tmp_path, zeros, canvas, moodle):
    """Does a roster student who handed nothing in get no grade (Canvas's empty cell, Moodle's '-'),
    listed in the report, or 0 when the TA asks for zeros?"""
    roster = roster_of(klass) + [Student("ghost", "Casper", "Ghost", "ghost@uni.example", "ghost", "9999", "SIS99")]
    paths = sheets(tmp_path, {LAB: klass}, roster, zeros=zeros)
    _, _, students = read_canvas(paths["canvas"])
    assert students[-1]["ID"] == "9999" and students[-1][LAB] == canvas
    assert read_rows(paths["moodle"])[-1] == ["Casper", "Ghost", "ghost@uni.example", moodle]
    report = paths["lms_report"].read_text(encoding="utf-8")
    assert ("no submission for 01_rnn from 1 roster student(s)" in report) != zeros


def test_ungraded_written_answer_is_no_grade_and_reported(klass, tmp_path):
    """Is a lab with a written answer still waiting for the TA sent as no grade (not its partial
    score, not 0) and listed, while a TA-graded answer counts in the total?"""
    results = [SubmissionResult(r.student, r.lab, list(r.tests), problem=r.problem) for r in klass]
    results[0].tests = results[0].tests + [Case("why_scale", 0.0, 2, "needs_grading")]
    results[1].tests = results[1].tests + [Case("why_scale", 1.5, 2, "graded", "clear")]
    paths = sheets(tmp_path, {LAB: results}, roster_of(results))
    header, points, students = read_canvas(paths["canvas"])
    assert float(points[LAB]) == POSSIBLE + 2
    assert students[0][LAB] == "" and read_rows(paths["moodle"])[1][3] == MOODLE_NO_GRADE
    assert float(students[1][LAB]) == pytest.approx(results[1].score) and results[1].score % 1 == 0.5
    report = paths["lms_report"].read_text(encoding="utf-8")
    assert "no grade sent for 's000' in 01_rnn: written answer(s) why_scale not graded yet" in report


def test_hostile_roster_text_stays_inert(tmp_path):
    """Do formula starts, quotes, commas, line breaks, control and bidi characters in names come out as
    plain one-line text (emoji and accents kept), and is an id that could not be written unchanged
    left empty, or its row left out, rather than sent altered?"""
    results = [SubmissionResult(f"s{i}", LAB, [Case("a", 2, 2, "passed")]) for i in range(len(HOSTILE))]
    roster = [Student(f"s{i}", text, text, f"s{i}@x.edu", text, "=1+2" if i == 0 else str(100 + i), text)
              for i, text in enumerate(HOSTILE)]
    paths = sheets(tmp_path, {LAB: results}, roster)
    canvas, moodle = read_rows(paths["canvas"]), read_rows(paths["moodle"])
    assert len(canvas) == 2 + len(HOSTILE) - 1 and len(moodle) == 1 + len(HOSTILE)    # s0: no usable Canvas id
    text_cells = [c for row in canvas[2:] for c in row[:5]] + [c for row in moodle[1:] for c in row[:3]]
    for c in text_cells:
        assert not c.startswith(_FORMULA) and not re.search(r"[\x00-\x1f\x7f\u202a-\u202e]", c), repr(c)
    assert [row[-1] for row in canvas[2:]] == ["2"] * (len(HOSTILE) - 1)
    kept = {"Zoë 👩‍💻 李雷", 'Smith, "Jane" O\'Neil', "'=cmd|' /C calc'!A0", "two lines =evil", "'=evil"}
    assert kept <= {row[0] for row in moodle[1:]}
    logins = {row[1]: row[3] for row in canvas[2:]}
    assert logins["104"] == HOSTILE[4] and logins["107"] == HOSTILE[7] and logins["101"] == ""
    report = paths["lms_report"].read_text(encoding="utf-8")
    assert "'=1+2' is not a Canvas user id" in report and "left out of canvas.csv: 's0'" in report
    assert "'s1': login '+1+2' cannot go into a spreadsheet unchanged; left empty" in report
    by_login = read_rows(sheets(tmp_path, {LAB: results}, roster, moodle_user="username")["moodle"])
    assert sorted(row[2] for row in by_login[1:]) == sorted(HOSTILE[i] for i in (4, 7))
    assert cell("\u202e=evil") == "'=evil" and cell(" =x") == "'=x" and cell("a\x00\x1b[31mb") == "a [31mb"


def test_students_without_lms_ids_or_sharing_one_are_left_out(tmp_path):
    """Is a roster student with nothing the LMS can match, or an id another student has too, left out
    of that file and named in the report (a wrong match would grade someone else)?"""
    results = [SubmissionResult(s, LAB, [Case("a", 1, 2, "passed")]) for s in ("a", "b", "c", "d")]
    roster = [Student("a", "A", "A", "a@x.edu", lms_id="1"), Student("b", "B", "B", "", lms_id="2"),
              Student("c", "C", "C", "c@x.edu"), Student("d", "D", "D", "c@x.edu", lms_id="1")]
    paths = sheets(tmp_path, {LAB: results}, roster)
    _, _, students = read_canvas(paths["canvas"])
    assert [row["ID"] for row in students] == ["2"]
    assert [row[2] for row in read_rows(paths["moodle"])[1:]] == ["a@x.edu"]
    report = paths["lms_report"].read_text(encoding="utf-8")
    assert "left out of canvas.csv: 'c': the roster has no Canvas id" in report
    assert "left out of moodle.csv: 'b': the roster has no email" in report
    assert "left out of canvas.csv: 'a': another roster student has the same LMS id '1'" in report


def test_build_sheet_skips_a_lab_without_graded_submissions():
    """Is a lab with no graded submission left out (its points are unknown) and said so?"""
    sheet = build_sheet({LAB: [SubmissionResult("a", LAB, [], problem="x")], "02_lstm": []}, [Student("a")])
    assert sheet.labs == [] and len(sheet.report.notes) == 2


def test_parse_columns():
    """Are --lms-column values read as LAB=NAME, and a malformed or clashing one refused with an example?"""
    assert parse_columns(["01_rnn=Lab 1: RNN (4410)", " 02_lstm = Lab 2 "]) == {
        "01_rnn": "Lab 1: RNN (4410)", "02_lstm": "Lab 2"}
    with pytest.raises(GradingError, match="LAB=COLUMN"):
        parse_columns(["01_rnn"])
    with pytest.raises(GradingError, match="same column name"):
        parse_columns(["01_rnn=Lab", "02_lstm=Lab"])


def saved_course(root: Path, labs=(LAB, "02_lstm_gru")) -> Path:
    """A course folder holding the synthetic class's saved results for each of ``labs``."""
    course = root / "course"
    for lab in labs:
        for r in synthetic_class(n=8, seed=len(lab)):
            r.lab = lab
            save_result(course, r)
    return course


def test_export_command_writes_lab_and_course_sheets(tmp_path, capsys):
    """Does `seqlab-grade export --course DIR --roster R` write Canvas and Moodle sheets per lab and
    one with a column per lab, and print the report?"""
    course = saved_course(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,lms_id,sis_id\n" + "".join(
        f"s{i:03d},Student {i},s{i}@x.edu,{700 + i},S{i}\n" for i in range(3)), encoding="utf-8")
    assert cli.main(["export", "--course", str(course), "--roster", str(roster),
                     "--lms-column", "02_lstm_gru=Lab 2 (4411)"]) == 0
    out = capsys.readouterr().out
    for lab in (LAB, "02_lstm_gru"):
        header, _, students = read_canvas(course / "exports" / lab / "canvas.csv")
        assert len(students) == 3 and (course / "exports" / lab / "moodle.csv").is_file()
    header, points, students = read_canvas(course / "exports" / "canvas.csv")
    assert list(points) == [LAB, "Lab 2 (4411)"] and [row["ID"] for row in students] == ["700", "701", "702"]
    assert read_rows(course / "exports" / "moodle.csv")[0] == [
        "First name", "Last name", "Email address", LAB, "Lab 2 (4411)"]
    assert "every lab canvas:" in out and "not in the roster" in out and "'s003'" in out


def test_sheets_use_the_roster_collect_stored(tmp_path):
    """Without --roster, are the students collect --roster put in the gradebook (email, LMS user id)
    the roster, and are no sheets written when the course has no such roster?"""
    course = saved_course(tmp_path, labs=(LAB,))
    assert export_lms(course, [LAB]) == {}
    add_students(course, [Student("s000", "Ann", "Lee", "ann@x.edu", lms_id="4242"), Student("s001", "Bo", "Ng")])
    paths = export_all(course, LAB)
    _, _, students = read_canvas(paths["canvas"])
    assert [(row["Student"], row["ID"]) for row in students] == [("Lee, Ann", "4242")]
    assert read_rows(paths["moodle"])[1][:3] == ["Ann", "Lee", "ann@x.edu"]
    assert "left out of canvas.csv: 's001'" in paths["lms_report"].read_text(encoding="utf-8")
