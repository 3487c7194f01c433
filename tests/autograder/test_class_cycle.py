"""A class of 60 through the TA's whole cycle, as a TA runs it: ``seqlab-grade`` commands only.

A Moodle "Download all submissions" zip whose entries carry the submission times, a roster with
LMS ids and one student's ``extension_hours``, a due date with grace, a per-day penalty and a cap;
then ``collect``, ``autograde``, ``feedback``, one resubmission (only it regraded and only its pages
rewritten), ``similarity`` (a planted, disguised copy ranked first, student text escaped) and
``export --roster`` (Canvas and Moodle sheets with every grade after its penalty).
"""
from __future__ import annotations

import csv
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List

import nbformat
import pytest

from autograder import pipeline
from autograder.cli import main
from autograder.collect import collect
from autograder.course import release_notebook
from autograder.deadlines import roster_extensions
from autograder.release import release
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB

CLASS = 60
POINTS = 3.0                                   # add 2, scale 1
WRONG_ADD = "def add(a, b):\n    return a - b"  # fails add's visible test: 1 point of 3
DUE = datetime(2024, 3, 1, 23, 59)              # the course's time zone: UTC
HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
EXTENDED = 11                                  # extension_hours 48 in the roster
# Student -> lateness, against DUE, with 15 minutes' grace, 10% a day started, at most 30%; -> fraction lost.
LATE = {5: (10 * MINUTE, 0.0), 7: (3 * HOUR, 0.1), 13: (20 * HOUR, 0.1), 8: (2 * DAY + HOUR, 0.3),
        10: (6 * DAY, 0.3), 16: (DAY + 2 * MINUTE, 0.2), EXTENDED: (30 * HOUR, 0.0)}
RESUBMITS = 3                                  # added wrongly on time, then right 3 hours late
RESUBMIT_LATE = (3 * HOUR, 0.1)
# A planted copy: the original's add leans on a distinctive helper; the copy renames every name
# and rewrites the comments (one of which a browser would run, were it not escaped).
ORIGINAL, COPY = 22, 41
SCRIPT = "<script>alert('copied')</script>"
HELPER_ADD = '''def _fold_in_turns(values, seed):
    """Add the values in turns, alternating sides, starting from seed."""
    total = seed
    for position, value in enumerate(values):
        # even positions go on the right, odd ones on the left
        if position % 2 == 0:
            total = total + value
        else:
            total = value + total
    return total


def add(a, b):
    # fold both operands onto zero
    return _fold_in_turns([a, b], 0)'''
COPIED_ADD = f'''def _sum_alternately(items, start):
    """My own accumulator. {SCRIPT}"""
    acc = start
    for k, item in enumerate(items):
        # {SCRIPT} put it right or left
        if k % 2 == 0:
            acc = acc + item
        else:
            acc = item + acc
    return acc


def add(a, b):
    # combine the two inputs
    return _sum_alternately([a, b], 0)'''


def score(i: int) -> float:
    """What student i's tests earn: add right (2) unless every third, scale right (1)."""
    return 1.0 if i % 3 == 0 else POINTS


def name(i: int) -> str:
    """Student i's name, as Moodle puts it in the folder name."""
    return f"Student Number{i:02d}"


def sid(i: int) -> str:
    """Student i's id in the roster (and so in the course)."""
    return f"stu{i:02d}"


def handed_in(i: int) -> datetime:
    """Student i's submission time: an hour before the due date, or late as LATE says."""
    return DUE + LATE[i][0] if i in LATE else DUE - HOUR - i * MINUTE


def notebook(released, source, i: int, overrides=None) -> bytes:
    """Student i's notebook: every third adds wrongly, and the copy pair adds through a helper."""
    if overrides is None:
        overrides = {ORIGINAL: {"add": HELPER_ADD}, COPY: {"add": COPIED_ADD}}.get(i)
        overrides = overrides or ({"add": WRONG_ADD} if i % 3 == 0 else None)
    return json.dumps(fill_solutions(released, source, overrides), ensure_ascii=False).encode("utf-8")


def moodle_zip(path: Path, entries: Dict[int, tuple]) -> Path:
    """A Moodle download: student -> (notebook bytes, time), each file dated as Moodle's copy of it."""
    with zipfile.ZipFile(path, "w") as archive:
        for i, (data, when) in entries.items():
            info = zipfile.ZipInfo(f"{name(i)}_{100000 + i}_assignsubmission_file_/{TINY_LAB}.ipynb",
                                   when.timetuple()[:6])
            archive.writestr(info, data)
    return path


def write_roster(path: Path) -> Path:
    """The class roster: ids, names, emails, Moodle user ids, SIS ids, and one extension."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "email", "lms_id", "sis_id", "extension_hours"])
        for i in range(CLASS):
            out.writerow([sid(i), name(i), f"{sid(i)}@uni.example", 100000 + i, f"S{9000 + i}",
                          48 if i == EXTENDED else ""])
    return path


def results(course: Path) -> Dict[str, dict]:
    """Student -> their saved result JSON."""
    found = {}
    for path in (course / "results" / TINY_LAB).glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        found[result["student"]] = result
    return found


def expected_grade(i: int, resubmitted: bool = False) -> float:
    """Student i's grade after the late penalty (a share of the lab's points, all earned here)."""
    if resubmitted:
        return round(POINTS * (1 - RESUBMIT_LATE[1]), 2)
    return round(score(i) * (1 - LATE.get(i, (None, 0.0))[1]), 2)


def sheet(path: Path) -> List[Dict[str, str]]:
    """The rows of an LMS grade sheet."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_a_class_of_sixty_goes_through_collect_grade_feedback_similarity_and_export(tiny_repo, tmp_path, capsys,
                                                                                    monkeypatch):
    """Does a class of 60, some late, one extended, one resubmitting and two copying, come out of the TA's
    commands graded as deserved, with only what changed redone and the copy found?"""
    course = tmp_path / "course"
    release(TINY_LAB, course, repo=tiny_repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    roster = write_roster(tmp_path / "roster.csv")
    first = moodle_zip(tmp_path / "moodle.zip",
                       {i: (notebook(released, source, i), handed_in(i)) for i in range(CLASS)})
    common = ["--course", str(course)]
    graded: List[List[str]] = []          # the students each autograde run sent to a kernel
    run_local = pipeline._run_local

    def recording(jobs, *args):
        graded.append(sorted(job.student for job in jobs))
        return run_local(jobs, *args)
    monkeypatch.setattr(pipeline, "_run_local", recording)

    assert main(["deadline", *common, "--grace", "15m", "--per-day", "10%", "--cap", "30%"]) == 0
    assert main(["deadline", TINY_LAB, *common, "--due", DUE.strftime("%Y-%m-%d %H:%M")]) == 0
    assert main(["collect", TINY_LAB, str(first), *common, "--roster", str(roster)]) == 0
    assert main(["autograde", TINY_LAB, *common, "--workers", "2", "--quiet"]) == 0
    assert main(["feedback", TINY_LAB, *common]) == 0
    printed = capsys.readouterr().out
    assert "60 student(s) given new pages, 0 unchanged" in printed, printed
    assert graded == [sorted(sid(i) for i in range(CLASS))]

    saved = results(course)
    assert sorted(saved) == sorted(sid(i) for i in range(CLASS)), printed
    for i in range(CLASS):
        result = saved[sid(i)]
        assert not result.get("problem"), (i, result)
        assert sum(t["points"] for t in result["tests"]) == score(i), (i, result["tests"])
        assert result["late"]["fraction"] == pytest.approx(LATE.get(i, (None, 0.0))[1]), (i, result["late"])
        assert bool(result["late"]["seconds_late"]) == (i in LATE and i != EXTENDED), (i, result["late"])
    assert saved[sid(EXTENDED)]["late"]["extension"], saved[sid(EXTENDED)]["late"]

    # Student 3 hands in a corrected notebook, 3 hours late: only they are regraded and given new pages.
    again = moodle_zip(tmp_path / "again.zip", {RESUBMITS: (notebook(released, source, RESUBMITS, overrides={}),
                                                            DUE + RESUBMIT_LATE[0])})
    # Without --roster, as a TA would: collect matches it to the roster the first collect stored in the
    # gradebook (stu03), not to a new student named after the file ("Student_Number03").
    assert main(["collect", TINY_LAB, str(again), *common]) == 0
    assert "an earlier `collect --roster`" in capsys.readouterr().out
    assert main(["autograde", TINY_LAB, *common, "--workers", "2", "--quiet"]) == 0
    assert main(["feedback", TINY_LAB, *common]) == 0
    printed = capsys.readouterr().out
    assert graded[1:] == [[sid(RESUBMITS)]], graded[1:]
    assert "1 student(s) given new pages, 59 unchanged" in printed, printed
    written = printed.split("feedback pages written:")[1].split("1 student(s) given")[0]
    assert f"/{sid(RESUBMITS)}/" in written and all(f"/{sid(i)}/" not in written
                                                    for i in range(CLASS) if i != RESUBMITS), written
    resubmitted = results(course)[sid(RESUBMITS)]
    assert sum(t["points"] for t in resubmitted["tests"]) == POINTS
    assert resubmitted["late"]["fraction"] == pytest.approx(RESUBMIT_LATE[1]), resubmitted["late"]
    extended = results(course)[sid(EXTENDED)]["late"]          # a collect of one keeps the others' extensions
    assert extended["fraction"] == 0 and extended["extension"], extended

    # The planted copy is the first pair, and what the students wrote is shown, never run.
    assert main(["similarity", TINY_LAB, *common]) == 0
    printed = capsys.readouterr().out
    top = printed.splitlines()[1].split()
    assert {top[1], top[2]} == {sid(ORIGINAL), sid(COPY)}, printed
    pages = list((course / "similarity" / TINY_LAB).glob("*.html"))
    assert pages and all(SCRIPT not in page.read_text(encoding="utf-8") for page in pages)
    assert any("&lt;script&gt;" in page.read_text(encoding="utf-8") for page in pages)

    # The LMS sheets: all 60, each grade after its penalty.
    assert main(["export", TINY_LAB, *common, "--roster", str(roster)]) == 0
    exports = course / "exports" / TINY_LAB
    canvas = {row["SIS User ID"]: row for row in sheet(exports / "canvas.csv") if row["SIS User ID"].strip()}
    moodle = {row["Email address"]: row for row in sheet(exports / "moodle.csv")}
    assert len(canvas) == CLASS and len(moodle) == CLASS, (list(canvas), list(moodle))
    for i in range(CLASS):
        want = expected_grade(i, resubmitted=i == RESUBMITS)
        canvas_grade = [v for k, v in canvas[f"S{9000 + i}"].items() if TINY_LAB in k]
        moodle_grade = [v for k, v in moodle[f"{sid(i)}@uni.example"].items() if TINY_LAB in k]
        assert [float(g) for g in canvas_grade] == pytest.approx([want]), (i, canvas[f"S{9000 + i}"])
        assert [float(g) for g in moodle_grade] == pytest.approx([want]), (i, moodle[f"{sid(i)}@uni.example"])
    assert float(next(v for k, v in canvas[f"S{9000 + 10}"].items() if TINY_LAB in k)) == pytest.approx(2.1)
    assert float(next(v for k, v in canvas[f"S{9000 + EXTENDED}"].items() if TINY_LAB in k)) == POINTS


def test_a_resubmission_collected_alone_keeps_the_other_students_roster_extensions(tmp_path):
    """Does a second collect holding one student, with the roster or without, keep the extension_hours
    recorded for the students it does not hold (the collect report is their only record)?"""
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,extension_hours\nana,Ana A,48\nbo,Bo B,\n", encoding="utf-8")
    course = tmp_path / "course"
    for folder, students in (("all", ("ana", "bo")), ("bo", ("bo",))):
        for student in students:
            (tmp_path / folder / f"{student}.ipynb").parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / f"{student}.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()),
                                                                 encoding="utf-8")
    assert collect(tmp_path / "all", course, TINY_LAB, roster=roster, update_gradebook=False).extensions == {"ana": 48}
    assert collect(tmp_path / "bo", course, TINY_LAB, roster=roster, update_gradebook=False).extensions == {"ana": 48}
    collect(tmp_path / "bo", course, TINY_LAB, update_gradebook=False)
    assert roster_extensions(course, TINY_LAB) == {"ana": 48}


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
