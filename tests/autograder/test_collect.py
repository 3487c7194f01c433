"""Tests of autograder/collect.py and autograder/roster.py: LMS zips and folders into submitted/, on synthetic files, no kernel."""
from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.collect import CollectReport, collect
from autograder.roster import Student, load_roster
from autograder.course import GradingError, gradebook

LAB = "01_rnn"
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
OLD, NEW = (2024, 1, 1, 10, 0, 0), (2024, 1, 2, 10, 0, 0)


def make_zip(path: Path, files: dict) -> Path:
    """A zip of ``name -> bytes`` or ``name -> (bytes, date_time)`` (default date: OLD)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            data, when = content if isinstance(content, tuple) else (content, OLD)
            archive.writestr(zipfile.ZipInfo(name, when), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def make_folder(root: Path, files: dict) -> Path:
    """A folder of ``relative path -> bytes`` (or ``(bytes, mtime)``)."""
    for name, content in files.items():
        data, mtime = content if isinstance(content, tuple) else (content, 1_700_000_000)
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
    return root


def submitted(course: Path) -> dict:
    """Student id -> bytes of their collected notebook."""
    return {p.parts[-3]: p.read_bytes() for p in sorted((course / "submitted").glob(f"*/{LAB}/{LAB}.ipynb"))}


def run(source, tmp_path, **kw) -> CollectReport:
    return collect(source, tmp_path / "course", LAB, update_gradebook=False, **kw)


def test_canvas_names_give_logins_and_skip_other_files(tmp_path):
    """Does a Canvas zip collect each login's notebook (LATE ones too) and skip non-notebooks?"""
    source = make_zip(tmp_path / "canvas.zip", {
        "smithj_12345_67890_01_rnn.ipynb": NB + b"1",
        "doej_LATE_222_333_01_rnn.ipynb": NB + b"2",
        "doej_222_333_data.csv": b"a,b\n",
        "doej_222_332_01_rnn.ipynb": NB + b"on time",
    })
    report = run(source, tmp_path)
    assert submitted(tmp_path / "course") == {"doej": NB + b"2", "smithj": NB + b"1"}
    assert report.superseded == [("doej_222_332_01_rnn.ipynb",
                                  "'doej_LATE_222_333_01_rnn.ipynb' was kept for doej: it is marked LATE")]
    assert report.collected == {"doej": Path("doej_LATE_222_333_01_rnn.ipynb"),
                                "smithj": Path("smithj_12345_67890_01_rnn.ipynb")}
    assert report.skipped == [("doej_222_333_data.csv", "not a notebook (.csv)")]


def test_stray_file_among_canvas_names_is_reported_not_collected(tmp_path):
    """Is 'notes.ipynb' in a Canvas zip reported as unmatched, with what to do, instead of becoming a student?"""
    source = make_zip(tmp_path / "canvas.zip", {"smithj_1_2_01_rnn.ipynb": NB, "notes.ipynb": NB})
    report = run(source, tmp_path)
    assert list(report.collected) == ["smithj"]
    assert [entry for entry, _ in report.unmatched] == ["notes.ipynb"]
    text = report.format()
    assert "could not match 'notes.ipynb': no student pattern matched" in text
    assert "Canvas" in text and "--roster" in text and "1 could not be matched" in text


def test_moodle_folders_give_student_names(tmp_path):
    """Does a Moodle zip of per-student folders collect each folder's notebook, whatever its name?"""
    source = make_zip(tmp_path / "moodle.zip", {
        "Jane Smith_123456_assignsubmission_file_/01_rnn.ipynb": NB,
        "Bob Lee_123457_assignsubmission_file_/my work.ipynb": NB,
    })
    assert sorted(run(source, tmp_path).collected) == ["Bob_Lee", "Jane_Smith"]


def test_single_moodle_folder_is_not_taken_for_a_wrapper(tmp_path):
    """With one Moodle student holding two notebooks, is the student still found from the folder?"""
    source = make_zip(tmp_path / "moodle.zip", {
        "Jane Smith_123456_assignsubmission_file_/01_rnn.ipynb": (NB + b"lab", NEW),
        "Jane Smith_123456_assignsubmission_file_/scratch.ipynb": (NB, NEW),
    })
    report = run(source, tmp_path)
    assert submitted(tmp_path / "course") == {"Jane_Smith": NB + b"lab"}
    assert "it is named after the lab" in report.superseded[0][1]


def test_wrapper_folder_and_blackboard_attempts(tmp_path):
    """Is a zip's shared top folder ignored, and does the later Blackboard attempt win over a newer file date?"""
    source = make_zip(tmp_path / "bb.zip", {
        "Lab 1/Lab 1_jsmith_attempt_2024-03-01-10-00-00_01_rnn.ipynb": (NB + b"first", NEW),
        "Lab 1/Lab 1_jsmith_attempt_2024-03-02-09-00-00_01_rnn.ipynb": (NB + b"second", OLD),
        "Lab 1/Lab 1_adoe_attempt_2024-03-01-10-00-00_01_rnn.ipynb": NB,
    })
    report = run(source, tmp_path)
    assert submitted(tmp_path / "course") == {"adoe": NB, "jsmith": NB + b"second"}
    assert "it is a later attempt" in report.superseded[0][1]


def test_folder_of_downloads_tolerates_copy_names(tmp_path):
    """Do 'Copy of', ' - Copy', '(2)' and the lab's name come off the student id in a folder of downloads?"""
    source = make_folder(tmp_path / "in", {
        "Copy of ana.ipynb": NB,
        "bo - Copy.ipynb": NB,
        "cy (2).ipynb": NB,
        "dee_01_rnn.ipynb": NB,
        "eve/Copy of 01_rnn (3).ipynb": NB,
        ".ipynb_checkpoints/ana-checkpoint.ipynb": NB,
    })
    report = run(source, tmp_path)
    assert list(report.collected) == ["ana", "bo", "cy", "dee", "eve"]
    assert not report.unmatched and not report.superseded and not report.skipped


def test_copy_rule_newest_first_then_copy_number(tmp_path):
    """Does 'x (1)' supersede 'x' at the same date, while a newer 'x' beats an older 'x (1)'?"""
    same = make_zip(tmp_path / "same.zip", {"ana.ipynb": NB + b"orig", "ana (1).ipynb": NB + b"copy"})
    report = run(same, tmp_path / "a")
    assert submitted(tmp_path / "a" / "course") == {"ana": NB + b"copy"}
    assert report.superseded == [("ana.ipynb", "'ana (1).ipynb' was kept for ana: it is a later copy")]
    newer = make_zip(tmp_path / "newer.zip", {"ana.ipynb": (NB + b"orig", NEW), "ana (1).ipynb": (NB + b"copy", OLD)})
    assert run(newer, tmp_path / "b").collected == {"ana": Path("ana.ipynb")}


def test_copies_in_a_folder_by_mtime_and_checkpoints_last(tmp_path):
    """In a folder, does the newer file win, and does a checkpoint lose even when newer?"""
    source = make_folder(tmp_path / "in", {
        "bo.ipynb": (NB + b"old", 1_700_000_000), "Bo (1).ipynb": (NB + b"new", 1_700_000_500),
        "cy.ipynb": (NB + b"real", 1_700_000_000), "cy-checkpoint.ipynb": (NB + b"ckpt", 1_700_009_999),
    })
    report = run(source, tmp_path)
    assert submitted(tmp_path / "course") == {"Bo": NB + b"new", "cy": NB + b"real"}
    assert dict(report.superseded) == {
        "bo.ipynb": "'Bo (1).ipynb' was kept for Bo: it is newer",
        "cy-checkpoint.ipynb": "'cy.ipynb' was kept for cy: it is not a checkpoint"}


def test_roster_matches_name_email_login_and_lms_id(tmp_path):
    """With a roster, are files matched by full name, email, login and LMS id, and the rest reported?"""
    roster = tmp_path / "roster.csv"
    roster.write_text('id,name,email,login,lms_id\n'
                      's1,"Smith, Jane",jane.smith@uni.edu,,\n'
                      's2,Bob Lee,blee@uni.edu,,\n'
                      's3,Cy Young,,cyoung,\n'
                      's4,Di Park,,,777\n'
                      's5,Ed Missing,,,\n', encoding="utf-8")
    source = make_folder(tmp_path / "in", {
        "jane_smith.ipynb": NB, "BLEE (1).ipynb": NB, "CYoung.ipynb": NB,
        "dpark_777_999_01_rnn.ipynb": NB, "stranger.ipynb": NB,
    })
    report = run(source, tmp_path, roster=roster)
    assert {sid: str(p) for sid, p in report.collected.items()} == {
        "s1": "jane_smith.ipynb", "s2": "BLEE (1).ipynb", "s3": "CYoung.ipynb", "s4": "dpark_777_999_01_rnn.ipynb"}
    assert report.missing == ["s5"]
    assert report.unmatched[0][0] == "stranger.ipynb" and "not in the roster" in report.unmatched[0][1]
    assert "no submission from 1 roster student(s): s5" in report.format()


def test_roster_name_forms_and_ambiguity(tmp_path):
    """Do 'Jane Smith', 'smith_jane' and Canvas's 'smithjane' all find 'Smith, Jane', and is a shared name refused?"""
    students = [Student("s1", "Jane", "Smith"), Student("t1", "Tom", "Ng"), Student("t2", "Tom", "Ng")]
    for name in ("Jane Smith_5_assignsubmission_file_/x.ipynb", "smith_jane.ipynb", "smithjane_5_6_01_rnn.ipynb"):
        source = make_zip(tmp_path / "one.zip", {name: NB})
        assert run(source, tmp_path, roster=students).collected == {"s1": Path(name)}
    report = run(make_zip(tmp_path / "tom.zip", {"Tom Ng.ipynb": NB}), tmp_path, roster=students)
    assert report.unmatched == [("Tom Ng.ipynb", "'Tom Ng' matches 2 roster students (t1, t2); rename it <id>.ipynb")]


@pytest.mark.parametrize("text, message", [
    ("name,email\nJane,j@x.edu\n", "line 1: no 'id' column"),
    ("id,name\ns1,Smith, Jane\n", "line 2: 3 fields where the header has 2"),
    ("id,name\ns1,Jane\n\ns1,Bob\n", "line 4: id 's1' is already on line 2"),
    ("id\nJane Smith\n", "line 2: id 'Jane Smith' is not a usable folder name"),
    ("id,email\ns1,nowhere\n", "line 2: email 'nowhere' has no '@'"),
    ("id\n...\n", "line 2: id '...' is not a usable folder name"),
])
def test_bad_roster_names_file_and_line(tmp_path, text, message):
    """Does a bad roster fail with the file, the line and what is wrong?"""
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GradingError, match=message) as err:
        load_roster(path)
    assert str(path) in str(err.value)


def test_load_roster_reads_names_and_extra_columns(tmp_path):
    """Does load_roster split 'Last, First' and 'First Last', accept a BOM and ignore unknown columns?"""
    path = tmp_path / "roster.csv"
    path.write_bytes('\ufeffID,Name,Section,E-mail\ns1,"Smith, Jane",A,j@x.edu\ns2,Mary Ann Lee,B,\n'.encode())
    assert load_roster(path) == [Student("s1", "Jane", "Smith", "j@x.edu"), Student("s2", "Mary Ann", "Lee")]


def test_gradescope_metadata_names_submission_folders(tmp_path):
    """Are Gradescope's submission_<n>/ folders named after the submitter in submission_metadata.yml?"""
    meta = ("submission_111:\n  :submitters:\n  - :name: Jane Smith\n    :sid: 's1'\n    :email: j@x.edu\n"
            "  :score: 0.0\nsubmission_222:\n  :submitters:\n  - :name: Bob Lee\n    :email: bob@x.edu\n")
    source = make_zip(tmp_path / "gs.zip", {
        "assignment_9_export/submission_metadata.yml": meta.encode(),
        "assignment_9_export/submission_111/01_rnn.ipynb": NB,
        "assignment_9_export/submission_222/01_rnn.ipynb": NB,
    })
    assert sorted(run(source, tmp_path).collected) == ["bob@x.edu", "s1"]
    assert not run(source, tmp_path).skipped


def test_custom_pattern(tmp_path):
    """Does --pattern pick the student from the path, report what it misses, and refuse a pattern with no student group?"""
    source = make_folder(tmp_path / "in", {"hw1-20231234-final.ipynb": NB, "readme.ipynb": NB})
    report = run(source, tmp_path, pattern=r"hw1-(?P<student>\d+)")
    assert list(report.collected) == ["20231234"]
    assert report.unmatched == [("readme.ipynb", "no student pattern matched (--pattern 'hw1-(?P<student>\\\\d+)'); "
                                 "rename it to fit, or change --pattern")]
    with pytest.raises(GradingError, match="no \\(\\?P<student>"):
        run(source, tmp_path, pattern=r"hw1-(\d+)")


@pytest.mark.parametrize("bad", ["..\\..\\x.ipynb", "../evil.ipynb", "/etc/evil.ipynb", "a/../../evil.ipynb",
                                 "C:\\Users\\x.ipynb"])
def test_unsafe_zip_entry_is_skipped_and_the_rest_collected(tmp_path, bad):
    """Is a zip entry with '..', a backslashed '..', an absolute path or a drive skipped and reported (zip
    slip), while the other students are collected and nothing is written outside the course?"""
    source = make_zip(tmp_path / "slip.zip", {"ana.ipynb": NB, "bo/01_rnn.ipynb": NB, bad: NB + b"evil"})
    report = run(source, tmp_path / "a" / "b")
    assert list(report.collected) == ["ana", "bo"]
    assert [entry for entry, _ in report.skipped] == [bad] and "zip slip" in report.skipped[0][1]
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes().endswith(b"evil")
                and p.suffix == ".ipynb" and p.parent != tmp_path]
    assert "skipped" in report.format()


def test_zip_bomb_is_refused(tmp_path):
    """Is a zip that unpacks past the size limit refused before anything is read?"""
    source = make_zip(tmp_path / "bomb.zip", {"ana.ipynb": NB, "bob.ipynb": b"\0" * 4_000_000})
    assert source.stat().st_size < 50_000
    with pytest.raises(GradingError, match="zip bomb"):
        run(source, tmp_path, max_bytes=1_000_000)
    assert not (tmp_path / "course").exists()


def test_links_mac_folders_and_dotfiles_are_not_collected(tmp_path):
    """Are symbolic links (in a zip or a folder) skipped and __MACOSX/ and dot files ignored?"""
    link = zipfile.ZipInfo("bob.ipynb", OLD)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    source = tmp_path / "links.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr(zipfile.ZipInfo("ana.ipynb", OLD), NB)
        archive.writestr(link, "/etc/passwd")
        archive.writestr(zipfile.ZipInfo("__MACOSX/._ana.ipynb", OLD), b"\0")
        archive.writestr(zipfile.ZipInfo(".hidden.ipynb", OLD), NB)
    report = run(source, tmp_path)
    assert list(report.collected) == ["ana"]
    assert report.skipped == [("bob.ipynb", "a symbolic link inside the zip")]
    folder = make_folder(tmp_path / "in", {"ana.ipynb": NB, "__MACOSX/._ana.ipynb": b"", ".x/bob.ipynb": NB})
    (folder / "bob.ipynb").symlink_to(tmp_path / "links.zip")
    report = run(folder, tmp_path / "f")
    assert list(report.collected) == ["ana"] and [e for e, _ in report.skipped] == ["bob.ipynb"]


def test_corrupted_notebook_is_copied_unchanged(tmp_path):
    """Are a notebook's bytes copied as they are, even when they are not valid JSON?"""
    broken = b'{"cells": [ {"cell_type": "code", \xff\xfe truncated'
    report = run(make_zip(tmp_path / "in.zip", {"ana.ipynb": broken}), tmp_path)
    assert report.collected == {"ana": Path("ana.ipynb")}
    assert submitted(tmp_path / "course") == {"ana": broken}


def test_rerun_is_idempotent_and_report_saved(tmp_path):
    """Does a second run give the same files (untouched), the same report, and the saved JSON read back equal?"""
    source = make_zip(tmp_path / "in.zip", {"ana.ipynb": NB, "ana (1).ipynb": NB + b" ", "x.csv": b"",
                                           "bob/scratch.ipynb": NB})
    first = run(source, tmp_path)
    dest = tmp_path / "course" / "submitted" / "ana" / LAB / f"{LAB}.ipynb"
    before = (submitted(tmp_path / "course"), dest.stat().st_mtime_ns)
    second = run(source, tmp_path)
    assert second == first and (submitted(tmp_path / "course"), dest.stat().st_mtime_ns) == before
    assert CollectReport.load(tmp_path / "course", LAB) == first


def test_case_and_space_differences_are_one_student(tmp_path):
    """Without a roster, are 'JSmith' and 'jsmith (1)' one student, spelled as collected before or as the kept file?"""
    make_folder(tmp_path / "course" / "submitted" / "JSmith", {"keep.txt": b""})
    source = make_folder(tmp_path / "in", {"JSmith.ipynb": (NB, 1), "jsmith (1).ipynb": (NB, 2),
                                           "Ann  Lee.ipynb": NB, "ann_lee (1).ipynb": NB})
    report = run(source, tmp_path)
    assert report.collected == {"JSmith": Path("jsmith (1).ipynb"), "ann_lee": Path("ann_lee (1).ipynb")}
    assert len(report.superseded) == 2


def test_dry_run_writes_nothing(tmp_path):
    """Does a dry run report what it would collect without writing files or the report?"""
    report = collect(make_zip(tmp_path / "in.zip", {"ana.ipynb": NB}), tmp_path / "course", LAB, dry_run=True)
    assert list(report.collected) == ["ana"] and "dry run" in report.format()
    assert not (tmp_path / "course").exists()


def test_missing_source_and_not_a_zip(tmp_path):
    """Do a missing source and a file that is not a zip fail with what to pass instead?"""
    with pytest.raises(GradingError, match="not found"):
        run(tmp_path / "nope.zip", tmp_path)
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(GradingError, match="neither a folder nor a zip"):
        run(tmp_path / "x.zip", tmp_path)


def test_gradebook_gets_roster_and_collected_students(tmp_path):
    """Are roster students (names, email, LMS id) added to the gradebook, and, in a course with no roster,
    the collected ids? Once a roster is stored, does a collect without --roster match files to it (a
    resubmission reaches its student) and report a file of someone not in it, instead of adding them?"""
    course, plain = tmp_path / "course", tmp_path / "plain"
    roster = [Student("s1", "Jane", "Smith", "j@x.edu", lms_id="55"), Student("s2", "Bob", "Lee")]
    collect(make_folder(tmp_path / "a", {"s1.ipynb": NB}), course, LAB, roster=roster)
    again = collect(make_folder(tmp_path / "b", {"Jane Smith.ipynb": NB, "walkin.ipynb": NB}), course, LAB)
    assert again.collected == {"s1": Path("Jane Smith.ipynb")} and again.missing == []
    assert again.unmatched[0][0] == "walkin.ipynb" and "not in the roster" in again.unmatched[0][1]
    assert "an earlier `collect --roster`" in again.format()
    for _ in range(2):
        collect(make_folder(tmp_path / "c", {"walkin.ipynb": NB}), plain, LAB)
    with gradebook(course) as gb:
        rows = {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}
    assert rows == {"s1": ("Jane", "Smith", "j@x.edu", "55"), "s2": ("Bob", "Lee", None, None)}
    with gradebook(plain) as gb:
        assert [(s.id, s.email) for s in gb.students] == [("walkin", None)]


def test_roster_match_wins_over_a_file_name_guess(tmp_path):
    """With a roster, does a stray upload whose name only guesses a student (newer or not) never replace the
    file the LMS names as theirs, and is the clash reported as a conflict rather than 'superseded'?"""
    roster = [Student("alice", "Alice", "Smith", lms_id="111"), Student("bob", "Bob", "Lee", lms_id="222")]
    source = make_zip(tmp_path / "canvas.zip", {
        "smithalice_111_900_01_rnn.ipynb": (NB + b"real", OLD),
        "leebob_222_901_01_rnn.ipynb": NB,
        "alice_01_rnn.ipynb": (NB + b"stray", NEW),
    })
    report = run(source, tmp_path, roster=roster)
    assert submitted(tmp_path / "course") == {"alice": NB + b"real", "bob": NB}
    assert report.collected["alice"] == Path("smithalice_111_900_01_rnn.ipynb") and not report.superseded
    assert [entry for entry, _ in report.conflicts] == ["alice_01_rnn.ipynb"]
    assert "smithalice_111_900_01_rnn.ipynb" in report.conflicts[0][1] and "alice" in report.conflicts[0][1]
    assert "1 conflict" in report.format() and "conflict 'alice_01_rnn.ipynb'" in report.format()
    assert CollectReport.load(tmp_path / "course", LAB) == report


def test_non_ascii_names_keep_ids_of_their_own(tmp_path):
    """Without a roster, do 'zoë' and 'zoé' get two ids (their own letters, a short hash where the ASCII fold
    clashes), '李雷' an id at all, the same name in NFD or another case the same id, on every rerun, with
    the original name in the gradebook?"""
    source = make_folder(tmp_path / "in", {
        "zoë.ipynb": (NB + b"1", 1), "Zoe\u0308 (1).ipynb": (NB + b"1b", 2), "zoé.ipynb": NB + b"2",
        "李雷.ipynb": NB + b"3", "zoe.ipynb": NB + b"4", "Ana Lú/01_rnn.ipynb": NB + b"5"})
    report = collect(source, tmp_path / "course", LAB)
    ids = sorted(report.collected)
    assert len(ids) == 5 and "zoe" in ids and "李雷" in ids and "ana_lú" in ids
    zoe_umlaut = next(i for i in ids if i.startswith("zoë-"))
    zoe_acute = next(i for i in ids if i.startswith("zoé-"))
    assert re.fullmatch(r"zoë-[0-9a-f]{6}", zoe_umlaut) and re.fullmatch(r"zoé-[0-9a-f]{6}", zoe_acute)
    assert submitted(tmp_path / "course")[zoe_umlaut] == NB + b"1b" and submitted(tmp_path / "course")["李雷"] == NB + b"3"
    assert sorted(collect(source, tmp_path / "course", LAB).collected) == ids
    alone = make_folder(tmp_path / "later", {"zoë.ipynb": NB + b"resubmitted"})
    assert list(collect(alone, tmp_path / "course", LAB).collected) == [zoe_umlaut]
    with gradebook(tmp_path / "course") as gb:
        names = {s.id: (s.first_name, s.last_name) for s in gb.students}
    assert names["ana_lú"] == ("Ana", "Lú") and names["李雷"] == (None, "李雷") and names["zoe"] == (None, None)


def test_roster_finds_names_in_any_script(tmp_path):
    """With a roster, is '李雷.ipynb' matched to the student named 李雷, and 'Jösé Smith' still to 'jose_smith'?"""
    roster = [Student("s1", "", "李雷"), Student("s2", "Jösé", "Smith")]
    report = run(make_folder(tmp_path / "in", {"李雷.ipynb": NB, "jose_smith.ipynb": NB}), tmp_path, roster=roster)
    assert report.collected == {"s1": Path("李雷.ipynb"), "s2": Path("jose_smith.ipynb")}
