"""Tests of due dates, extensions and late penalties (autograder/deadlines.py, latepenalty.py, timestamps.py,
and the submission times collect.py records), on synthetic downloads, results and an nbgrader gradebook
built without a kernel."""
from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Optional

import pytest

from autograder import cli, deadlines, timestamps
from autograder.collect import CollectReport, collect
from autograder.course import LATE_PLUGIN, GradingError, gradebook, nbgrader_config, nbgrader_env, write_course_config
from autograder.deadlines import LatePolicy, configure, describe, lab_deadline
from autograder.exports import gradescope_json
from autograder.latepenalty import refresh
from autograder.lms import SheetOptions, write_sheets
from autograder.pages import student_html
from autograder.pipeline import Graded, write
from autograder.report import export_all
from autograder.results import SubmissionResult, load_result
from autograder.results import TestResult as Case  # a Test* name would be collected by pytest
from autograder.roster import Student, load_roster
from test_collect import NB, make_folder, make_zip
from test_exports import CELLS, LAB

POINTS = sum(points for _, points, _ in CELLS)          # 13
DUE = datetime(2024, 3, 1, 22, 59, tzinfo=timezone.utc)  # 23:59 in Paris
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def full_marks(student: str, lost: float = 0.0) -> SubmissionResult:
    """All tests passed, but for ``lost`` points off the first one."""
    tests = [Case(name, points, points, "passed") for name, points, _ in CELLS]
    if lost:
        tests[0] = Case(CELLS[0][0], 0.0, CELLS[0][1], "failed", "AssertionError")
        tests[1] = Case(CELLS[1][0], CELLS[1][1] - (lost - CELLS[0][1]), CELLS[1][1], "passed")
    return SubmissionResult(student, LAB, tests)


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> Path:
    """A gradebook holding the lab, its notebook and grade cells (what release puts there), made once:
    making one costs about 2 s, copying it nothing."""
    folder = tmp_path_factory.mktemp("blank")
    with nbgrader_env(), gradebook(folder) as gb:
        gb.update_or_create_assignment(LAB)
        gb.update_or_create_notebook(LAB, LAB)
        for name, points, _ in CELLS:
            gb.update_or_create_grade_cell(name, LAB, LAB, max_score=points, cell_type="code")
    return folder / "gradebook.db"


def gradebook_course(root: Path, blank: Path) -> Path:
    """A course with a copy of the ``blank`` gradebook."""
    course = root / "course"
    course.mkdir(parents=True)
    shutil.copyfile(blank, course / "gradebook.db")
    return course


def hand_in(course: Path, student: str, when: Optional[datetime], lost: float = 0.0) -> SubmissionResult:
    """``student``'s collected notebook with ``when`` in its timestamp.txt, graded through the single writer."""
    folder = course / "submitted" / student / LAB
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{LAB}.ipynb").write_bytes(NB)
    timestamps.write_timestamp(folder, when)
    result = full_marks(student, lost)
    write(course, Graded(result))
    return result


# Late by these, against DUE, with 10% a day, 15 minutes' grace, and a cap of 25% or none.
WHEN = {"on_time": DUE - HOUR, "in_grace": DUE + timedelta(minutes=10), "one_day": DUE + 20 * HOUR,
        "three_days": DUE + 2 * DAY + 3 * HOUR, "extended": DUE + 20 * HOUR, "unknown": None}


@pytest.fixture(scope="module")
def late_course(tmp_path_factory, blank):
    """A course with a due date, 10% a day, 15 min grace, a 25% cap, a 24 h extension for 'extended',
    and one student per case of ``WHEN``, graded through ``pipeline.write``."""
    course = gradebook_course(tmp_path_factory.mktemp("late"), blank)
    configure(course, LAB, due="2024-03-01 23:59", timezone_name="Europe/Paris",
              policy={"per_day": "10%", "grace": "15m", "cap": "25%"}, extend=["extended=24h"])
    for student, when in WHEN.items():
        hand_in(course, student, when)
    return course


def penalties(course: Path) -> Dict[str, float]:
    """Student -> the late penalty in nbgrader's gradebook (what the formgrader shows)."""
    with nbgrader_env(), gradebook(course) as gb:
        return {s.student.id: s.late_submission_penalty for s in gb.assignment_submissions(LAB)}


# ---- the policy, pure ---------------------------------------------------------------------------

@pytest.mark.parametrize("late, cap, expected", [
    (-HOUR, 1.0, 0.0), (timedelta(minutes=15), 1.0, 0.0),          # on time; within the grace
    (timedelta(minutes=16), 1.0, 0.1), (DAY, 1.0, 0.1),           # just after it: a day started
    (DAY + timedelta(seconds=1), 1.0, 0.2),                        # a second into the second day
    (2 * DAY + 3 * HOUR, 1.0, 0.3), (2 * DAY + 3 * HOUR, 0.25, 0.25),   # 3 days started, with and without a cap
    (40 * DAY, 0.5, 0.5)])
def test_policy_counts_days_started_after_the_grace_up_to_the_cap(late, cap, expected):
    """Is lateness free within the grace, then 10% for each day started (from the due date), at most the cap?"""
    policy = LatePolicy(grace=timedelta(minutes=15), per_day=0.1, cap=cap)
    assert policy.fraction(late.total_seconds()) == pytest.approx(expected)


def test_policy_per_hour_and_no_credit_after():
    """Does a per-hour rate count hours started, and is everything lost after zero_after?"""
    policy = LatePolicy(per_hour=0.02, zero_after=3 * DAY)
    assert policy.fraction(90 * 60) == pytest.approx(0.04)
    assert policy.fraction((3 * DAY).total_seconds()) == pytest.approx(min(1.0, 72 * 0.02))
    assert policy.fraction((3 * DAY + HOUR).total_seconds()) == 1.0
    assert policy.rule((4 * DAY).total_seconds()) == "no credit after 3 days"


def test_penalty_words_say_how_late_the_extension_and_the_points():
    """Does the reason read "submitted 2 days 3 hours after the due date (extension: 24 h): −30% of 13
    points = −3.9 (...)", and say so when the score is too low for the whole penalty?"""
    deadline = deadlines.LabDeadline(LAB, DUE, LatePolicy(per_day=0.1, cap=0.5), {"s": DAY})
    result = full_marks("s")
    result.late = deadlines.assess(deadline, "s", DUE + DAY + 2 * DAY + 3 * HOUR)
    assert describe(result) == ("submitted 2 days 3 hours after the due date (extension: 24 h): −30% of 13 points "
                                "= −3.9 (10% a day started, at most 50%)")
    assert (result.late_penalty, result.final_score, result.score) == (3.9, 9.1, 13)
    poor = full_marks("s", lost=12)
    poor.late = result.late
    assert poor.score == 1 and poor.late_penalty == 1 and poor.final_score == 0
    assert describe(poor).endswith("no lower than 0 points, so −1")


# ---- the gradebook, the nbgrader way --------------------------------------------------------------

def test_penalties_are_nbgraders_own(late_course):
    """Does each case get its penalty in nbgrader's gradebook (late_submission_penalty), beside an untouched
    score, with the due date, timestamp and extension nbgrader computes lateness from?"""
    expected = {"on_time": 0, "in_grace": 0, "one_day": 1.3, "three_days": 3.25, "extended": 0, "unknown": 0}
    assert {s: p or 0 for s, p in penalties(late_course).items()} == expected
    with nbgrader_env(), gradebook(late_course) as gb:
        assert gb.find_assignment(LAB).duedate == DUE.replace(tzinfo=None)
        one_day, extended = gb.find_submission(LAB, "one_day"), gb.find_submission(LAB, "extended")
        assert one_day.score == POINTS and one_day.total_seconds_late == pytest.approx(20 * 3600)
        assert extended.extension == DAY and extended.total_seconds_late == 0
        assert gb.find_submission(LAB, "unknown").timestamp is None
    for student, penalty in expected.items():
        saved = load_result(late_course, LAB, student)
        assert saved.late_penalty == penalty and saved.score == POINTS and saved.final_score == POINTS - penalty


def test_the_plugin_is_registered_in_the_course_config(late_course):
    """Is SeqlabLatePenalty nbgrader's late plugin in the course's config and nbgrader_config.py, so that
    nbgrader's AssignLatePenalties, as configured, gives the same penalty?"""
    from nbformat.v4 import new_notebook
    from nbgrader.preprocessors import AssignLatePenalties

    assert nbgrader_config(late_course).AssignLatePenalties.plugin_class == LATE_PLUGIN
    assert LATE_PLUGIN in write_course_config(late_course).read_text()
    step = AssignLatePenalties(config=nbgrader_config(late_course))
    with nbgrader_env():
        step.preprocess(new_notebook(), {"nbgrader": {"notebook": LAB, "assignment": LAB, "student": "three_days",
                                                      "db_url": f"sqlite:///{late_course.resolve() / 'gradebook.db'}"}})
    assert type(step.plugin_inst).__name__ == "SeqlabLatePenalty" and penalties(late_course)["three_days"] == 3.25


def test_penalty_shows_in_every_export_and_the_student_page(late_course):
    """Do grades.csv (nbgrader's), tests.csv, Gradescope's results.json, the class report, the Canvas and
    Moodle sheets and the student's page all carry the penalty (and its reason) for the late student?"""
    paths = export_all(late_course, LAB)
    grades = {r["student_id"]: r for r in csv.DictReader(paths["grades"].read_text().splitlines())}
    assert (grades["one_day"]["raw_score"], grades["one_day"]["late_submission_penalty"], grades["one_day"]["score"]) \
        == ("13.0", "1.3", "11.7")
    rows = [r for r in csv.DictReader(paths["tests"].read_text(encoding="utf-8").splitlines()) if r["student"] == "one_day"]
    assert {(r["total"], r["late_penalty"], r["final_total"]) for r in rows} == {("13", "1.3", "11.7")}
    assert rows[0]["late"].startswith("submitted 20 hours after the due date: −10% of 13 points = −1.3")
    gradescope = json.loads((paths["gradescope"] / "three_days" / "results.json").read_text())
    assert gradescope["score"] == 9.75 and sum(t["score"] for t in gradescope["tests"]) == POINTS
    assert "Late penalty: −3.25 points" in gradescope["output"] and "2 days 3 hours" in gradescope["output"]
    report = paths["report"].read_text(encoding="utf-8")
    assert "Late (3)" in report and "one_day" in report and "−3.25" in report and "no submission time" in report
    results = {r.student: r for r in refresh(late_course, LAB)}
    roster = [Student(s, "A", s, f"{s}@x.edu", lms_id=str(100 + i)) for i, s in enumerate(WHEN)]
    sheets = write_sheets(late_course, {LAB: list(results.values())}, late_course / "sheets", SheetOptions(roster))
    canvas = {row[0]: row[-1] for row in csv.reader(sheets["canvas"].read_text(encoding="utf-8-sig").splitlines())}
    moodle = {row[2]: row[-1] for row in csv.reader(sheets["moodle"].read_text(encoding="utf-8-sig").splitlines())}
    assert canvas["three_days, A"] == "9.75" and moodle["one_day@x.edu"] == "11.7" and moodle["on_time@x.edu"] == "13"
    page = student_html(results["three_days"])
    assert "9.75 / 13 points" in page and "Late penalty: −3.25 points (the tests earned 13)" in page
    assert "within the 15 minutes of grace: no penalty" in student_html(results["in_grace"])
    assert "extension: 24 h" in student_html(results["extended"])


def test_a_new_deadline_reaches_results_and_gradebook_without_regrading(late_course, tmp_path, capsys):
    """Does `seqlab-grade deadline` with a later due date take the penalties off the saved results and the
    gradebook (and put them back), and print who is late?"""
    assert cli.main(["deadline", LAB, "--course", str(late_course), "--due", "2024-03-05 12:00"]) == 0
    assert "01_rnn due 2024-03-05 12:00 Europe/Paris (2024-03-05 11:00 UTC)" in capsys.readouterr().out
    assert not any(penalties(late_course).values()) and load_result(late_course, LAB, "three_days").late_penalty == 0
    assert cli.main(["deadline", LAB, "--course", str(late_course), "--due", "2024-03-01 23:59"]) == 0
    out = capsys.readouterr().out
    assert "late penalties (2): one_day −1.3 (20 hours late), three_days −3.25 (2 days 3 hours late)" in out
    assert "no submission time, so no late penalty (1): unknown" in out
    assert penalties(late_course)["three_days"] == 3.25


def test_resubmission_after_the_deadline_is_late_and_clipped_at_the_score(tmp_path, blank):
    """Is a resubmission after the due date (new bytes, new time) penalised on its own time, and is a penalty
    never more than the score, in the result and in nbgrader's gradebook alike?"""
    course = gradebook_course(tmp_path, blank)
    configure(course, LAB, due="2024-03-01T22:59:00Z", policy={"per_day": "50%"})
    assert hand_in(course, "ana", DUE - HOUR).late_penalty == 0
    again = hand_in(course, "ana", DUE + 30 * HOUR, lost=12)          # 1 point left, 2 days started: −100%
    assert (again.score, again.late_penalty, again.final_score) == (1, 1, 0)
    assert penalties(course)["ana"] == 1


def test_old_results_without_late_load_and_export(tmp_path):
    """Does a result saved before deadlines existed (no "late" key) load as on time, and export as before?"""
    data = json.loads(full_marks("old").to_json())
    del data["late"]
    old = SubmissionResult.from_json(json.dumps(data))
    assert old.late is None and old.late_penalty == 0 and old.final_score == POINTS
    assert gradescope_json(old)["score"] == POINTS and "Late" not in student_html(old)


# ---- timestamps: collect records them, a bad one never crashes ---------------------------------------

def read_back(course: Path, student: str) -> datetime:
    """The time in a collected submission's timestamp.txt, read by nbgrader's own code."""
    from nbgrader.coursedir import CourseDirectory
    return CourseDirectory().get_existing_timestamp(str(course / "submitted" / student / LAB))


def test_gradescope_created_at_is_the_submission_time(tmp_path):
    """Is a Gradescope folder's own :created_at: (not its history's) written to timestamp.txt in nbgrader's
    format, and reported?"""
    meta = ("submission_111:\n  :submitters:\n  - :name: Jane Smith\n    :sid: 's1'\n"
            "  :created_at: 2024-03-02 01:30:00.123456000 -08:00\n  :score: 3.0\n  :history:\n"
            "  - :autograder_score: 1.0\n    :created_at: 2024-02-01 10:00:00.000000000 -08:00\n"
            "submission_222:\n  :submitters:\n  - :sid: 's2'\n  :created_at: 2024-03-01 10:00:00 +00:00\n")
    source = make_zip(tmp_path / "gs.zip", {"export/submission_metadata.yml": meta.encode(),
                                            "export/submission_111/01_rnn.ipynb": NB,
                                            "export/submission_222/01_rnn.ipynb": NB})
    report = collect(source, tmp_path / "course", LAB, update_gradebook=False)
    assert read_back(tmp_path / "course", "s1") == datetime(2024, 3, 2, 9, 30, 0, 123456)
    text = (tmp_path / "course" / "submitted" / "s1" / LAB / "timestamp.txt").read_text()
    assert text == "2024-03-02 09:30:00.123456 UTC\n"
    assert report.submitted == {"s1": "2024-03-02 09:30 UTC", "s2": "2024-03-01 10:00 UTC"}
    assert report.time_sources["s1"] == "Gradescope's :created_at:" and not report.time_problems


def test_blackboard_time_is_read_in_the_course_time_zone_and_a_zip_date_is_utc_when_it_says_so(tmp_path):
    """Is a Blackboard attempt time (no offset) read in the course's time zone, a zip entry's extended
    timestamp as UTC, and its DOS date in the course's time zone?"""
    course = tmp_path / "course"
    course.mkdir()
    configure(course, timezone_name="Europe/Paris")
    ut = zipfile.ZipInfo("bob/01_rnn.ipynb", (2024, 3, 1, 9, 0, 0))
    ut.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(datetime(2024, 3, 2, 12, 0, tzinfo=timezone.utc).timestamp()))
    with zipfile.ZipFile(tmp_path / "bb.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo("Lab 1_jsmith_attempt_2024-03-01-23-30-00_01_rnn.ipynb", (2024, 3, 9, 0, 0, 0)), NB)
        archive.writestr(ut, NB)
        archive.writestr(zipfile.ZipInfo("cy/01_rnn.ipynb", (2024, 3, 1, 23, 0, 0)), NB)
    report = collect(tmp_path / "bb.zip", course, LAB, update_gradebook=False)
    assert read_back(course, "jsmith") == datetime(2024, 3, 1, 22, 30)
    assert report.time_sources["jsmith"] == "Blackboard's attempt time, read as Europe/Paris"
    assert read_back(course, "bob") == datetime(2024, 3, 2, 12, 0) and report.time_sources["bob"] == "zip entry date (UTC)"
    assert read_back(course, "cy") == datetime(2024, 3, 1, 22, 0)


def test_canvas_zip_gives_no_time_and_says_so(tmp_path, blank):
    """Is a Canvas download given no time (its zip dates are the download's), with LATE noted, and is that
    submission then not penalised, with the reason in its result?"""
    course = gradebook_course(tmp_path, blank)
    configure(course, LAB, due="2024-03-01T22:59:00Z", policy={"per_day": "10%"})
    source = make_zip(tmp_path / "canvas.zip", {"doej_LATE_222_333_01_rnn.ipynb": (NB, (2024, 5, 1, 0, 0, 0))})
    report = collect(source, course, LAB, update_gradebook=False)
    assert report.submitted == {}
    assert report.time_sources["doej"] == "Canvas downloads hold no submission time, but Canvas marks it LATE"
    assert "submission time unknown (Canvas downloads hold no submission time" in report.format()
    assert not (course / "submitted" / "doej" / LAB / "timestamp.txt").exists()
    result = full_marks("doej")
    write(course, Graded(result))
    assert result.late_penalty == 0 and "Canvas downloads hold no submission time" in result.late.problem


@pytest.mark.parametrize("created_at, zip_date, problem", [
    ("not a date", (2024, 3, 1, 12, 0, 0), "is not a time"),
    ("2024-13-45 99:00:00 +00:00", (2024, 3, 1, 12, 0, 0), "month must be in 1..12"),
    ("99999-01-01 00:00:00 +00:00", (2024, 3, 1, 12, 0, 0), "is not a time"),
    ("2999-01-01 00:00:00 +00:00", (2024, 3, 1, 12, 0, 0), "is in the future"),
    ("'" + "9" * 5000 + "'", (1980, 1, 1, 0, 0, 0), "too long")])
def test_a_malformed_time_is_reported_and_the_next_one_used(tmp_path, created_at, zip_date, problem):
    """Is a malformed, impossible, future or oversized Gradescope time reported and the zip date used instead
    (and no time at all when that is the DOS epoch), with every student still collected?"""
    meta = (f"submission_1:\n  :submitters:\n  - :sid: 'a1'\n  :created_at: {created_at}\n"
            "submission_2:\n  :submitters:\n  - :sid: 'b2'\n  :created_at: 2024-03-01 10:00:00 +00:00\n")
    source = make_zip(tmp_path / "gs.zip", {"submission_metadata.yml": meta.encode(),
                                            "submission_1/01_rnn.ipynb": (NB, zip_date), "submission_2/x.ipynb": NB})
    report = collect(source, tmp_path / "course", LAB, update_gradebook=False)
    assert sorted(report.collected) == ["a1", "b2"] and report.submitted["b2"] == "2024-03-01 10:00 UTC"
    [(entry, why)] = [p for p in report.time_problems if "created_at" in p[1]]
    assert entry == "submission_1/01_rnn.ipynb" and problem in why
    if zip_date[0] == 1980:
        assert "a1" not in report.submitted and "before 2000" in report.time_problems[-1][1]
    else:
        assert read_back(tmp_path / "course", "a1") == datetime(*zip_date)


@pytest.mark.parametrize("content", [b"garbage", b"\x00\xff\xfe", b"2024-03-01 10:00:00 UTC" * 50,
                                     b"9999-12-31 23:59:59 UTC", b"1970-01-01 00:00:00 UTC", b"", "link", "fifo", "dir"])
def test_a_hostile_timestamp_file_is_reported_never_penalised_never_a_crash(tmp_path, blank, content):
    """Is a timestamp.txt that is garbage, binary, oversized, far future, 1970, empty, a link, a FIFO or a
    folder read as no time (with why), leaving the submission unpenalised and the others graded?"""
    course = gradebook_course(tmp_path, blank)
    configure(course, LAB, due="2024-03-01T22:59:00Z", policy={"per_day": "10%"})
    folder = course / "submitted" / "eve" / LAB
    folder.mkdir(parents=True)
    (folder / f"{LAB}.ipynb").write_bytes(NB)
    target = folder / "timestamp.txt"
    if content == "link":
        (tmp_path / "elsewhere.txt").write_text("2024-03-09 10:00:00 UTC")
        target.symlink_to(tmp_path / "elsewhere.txt")
    elif content == "fifo":
        os.mkfifo(target)
    elif content == "dir":
        target.mkdir()
    else:
        target.write_bytes(content)
    when, why = timestamps.read_timestamp(folder)
    assert when is None and why
    eve = full_marks("eve")
    write(course, Graded(eve))
    late = hand_in(course, "late", DUE + 2 * HOUR)
    assert eve.late_penalty == 0 and eve.late.problem and "no submission time is known" in describe(eve)
    assert late.late_penalty == 1.3 and penalties(course) == {"eve": 0.0, "late": 1.3}


def test_same_bytes_keep_their_time_new_bytes_get_theirs(tmp_path):
    """On a second collect, does an unchanged file keep the time written first (or by the TA), and a
    resubmitted one get its new time?"""
    course = tmp_path / "course"
    make_folder(tmp_path / "in1", {"ana.ipynb": (NB, 1_709_330_000), "bo.ipynb": (NB, 1_709_330_000)})
    collect(tmp_path / "in1", course, LAB, update_gradebook=False)
    timestamps.write_timestamp(course / "submitted" / "bo" / LAB, datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc))
    make_folder(tmp_path / "in2", {"ana.ipynb": (NB + b" ", 1_709_500_000), "bo.ipynb": (NB, 1_709_400_000)})
    report = collect(tmp_path / "in2", course, LAB, update_gradebook=False)
    assert read_back(course, "ana") == datetime(2024, 3, 3, 21, 6, 40)
    assert read_back(course, "bo") == datetime(2024, 3, 1, 8, 0)
    assert report.time_sources == {"ana": "file modification time",
                                   "bo": "timestamp.txt kept: this file was collected before"}


def test_roster_extension_hours_are_recorded_and_kept(tmp_path):
    """Does the roster's extension_hours reach the collect report and the lab's deadline, survive a collect
    without the roster, and does a lab's own extension win over it?"""
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,extension_hours\nana,Ana A,48\nbo,Bo B,\n", encoding="utf-8")
    assert [s.extension_hours for s in load_roster(roster)] == [48.0, 0.0]
    course = tmp_path / "course"
    make_folder(tmp_path / "in", {"ana.ipynb": NB, "bo.ipynb": NB})
    report = collect(tmp_path / "in", course, LAB, roster=roster, update_gradebook=False)
    assert report.extensions == {"ana": 48.0} and "extensions from the roster: ana +48 h" in report.format()
    assert CollectReport.load(course, LAB).extensions == {"ana": 48.0}
    collect(tmp_path / "in", course, LAB, update_gradebook=False)
    configure(course, LAB, due="2024-03-01T22:59:00Z")
    assert lab_deadline(course, LAB).extension("ana") == 48 * HOUR
    configure(course, LAB, extend=["ana=2024-03-02T22:59:00Z", "bo=3h"])
    assert lab_deadline(course, LAB).extensions == {"ana": DAY, "bo": 3 * HOUR}
    roster.write_text("id,extension_hours\nana,lots\n", encoding="utf-8")
    with pytest.raises(GradingError, match="line 2: extension_hours 'lots' is not a number of hours"):
        load_roster(roster)


@pytest.mark.parametrize("args, message", [
    (["--per-day", "10"], "--per-day '10' is not a share of the lab's points: write 10% or 0.1"),
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--due", "next friday"], "--due: 'next friday' is not a time"),
    (["--grace", "soon"], "--grace 'soon' is not a duration"),
    (["--extend", "ana=2024-02-01 10:00"], "is before the lab's due date"),
    (["--per-day", "10%", "--per-hour", "1%"], "per_day and per_hour are both set")])
def test_deadline_command_refuses_what_it_cannot_read(tmp_path, capsys, args, message):
    """Does `seqlab-grade deadline` say what was wrong (and write nothing) for a bad share, zone, date,
    duration, an extension before the due date, or two rates?"""
    course = tmp_path / "course"
    course.mkdir()
    assert cli.main(["deadline", LAB, "--course", str(course), "--due", "2024-03-01 23:59"]) == 0
    before = (course / "seqlab.toml").read_text()
    assert cli.main(["deadline", LAB, "--course", str(course), *args]) == 1
    assert message in capsys.readouterr().err and (course / "seqlab.toml").read_text() == before


def test_hand_edited_settings_with_a_typo_stop_autograde_before_grading(tmp_path):
    """Is an unknown key or broken TOML in seqlab.toml reported with the file and what to fix?"""
    course = tmp_path / "course"
    course.mkdir()
    (course / "seqlab.toml").write_text('[labs."01_rnn"]\ndue = "2024-03-01 23:59"\nper_dya = 0.1\n')
    with pytest.raises(GradingError, match=r"unknown setting\(s\) \['per_dya'\]"):
        lab_deadline(course, LAB)
    (course / "seqlab.toml").write_text("[labs\n")
    with pytest.raises(GradingError, match="is not valid TOML"):
        lab_deadline(course, LAB)


def test_autograde_applies_a_new_deadline_to_an_unchanged_submission_without_running_it(graded, tmp_path):
    """On a copy of the graded tiny-lab course, does `autograde` after a deadline is set leave an unchanged
    submission ungraded again, yet give it its late penalty, in its result and nbgrader's gradebook?"""
    from autograder.pipeline import autograde
    from labfactory import TINY_LAB

    course = tmp_path / "course"
    shutil.copytree(graded.course, course, symlinks=True)
    configure(course, TINY_LAB, due="2024-03-01T22:59:00Z", policy={"per_day": "50%"})
    timestamps.write_timestamp(course / "submitted" / "sneaky" / TINY_LAB, DUE + 30 * HOUR)
    before = load_result(course, TINY_LAB, "sneaky")
    [sneaky] = autograde(course, TINY_LAB, ["sneaky"], progress=False)   # graded by conftest with these limits
    assert (sneaky.digest, sneaky.seconds) == (before.digest, before.seconds)      # not graded again
    assert sneaky.late.fraction == 1.0 and sneaky.late_penalty == sneaky.score > 0 and sneaky.final_score == 0
    assert load_result(course, TINY_LAB, "sneaky").late_penalty == sneaky.score
    with nbgrader_env(), gradebook(course) as gb:
        assert gb.find_submission(TINY_LAB, "sneaky").late_submission_penalty == sneaky.score
        assert gb.find_assignment(TINY_LAB).duedate == DUE.replace(tzinfo=None)
