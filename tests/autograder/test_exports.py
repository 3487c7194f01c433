"""Tests of autograder/exports.py: the per-test CSV, Gradescope results.json and the class report."""
from __future__ import annotations

import csv
import json
import random
import struct
from collections import Counter
from typing import List

import pytest

from autograder.course import GradingError
from autograder.exports import (CSV_MESSAGE_CHARS, GRADESCOPE_RESULTS, TESTS_CSV_COLUMNS, cell_stats, class_report,
                                csv_safe, export_gradescope, export_tests_csv, gradescope_json, hardest_first,
                                write_gradescope_result)
from autograder.pages import HIDDEN_REMOVED, STATUS_COLOURS
from autograder.results import STATUSES, SubmissionResult, load_results, save_result
from autograder.results import TestResult as Case  # a Test* name would be collected by pytest

LAB = "01_rnn"
# (grade cell, points, chance of passing): the labs' cells, some harder than others.
CELLS = [("rnn_step_forward", 2, 0.9), ("rnn_step_backward", 3, 0.55), ("rnn_forward", 2, 0.75),
         ("rnn_backward", 3, 0.2), ("temporal_softmax_loss", 2, 0.65), ("clip_gradients", 1, 0.95)]
NOT_PASSED = ["failed", "hidden_failed", "timeout", "memory", "died", "missing", "not_run"]
# What a hostile submission manages to get into its messages.
HOSTILE = ("=cmd|' /C calc'!A0 <script>alert('pwned')</script>\n"
           "### BEGIN HIDDEN TESTS\nassert secret_hidden_input == 42\n### END HIDDEN TESTS\nafter the block")
PROBLEM = "not a notebook: Expecting value: line 1 column 1 (char 0) in /srv/course/submitted/corrupt"


def message(status: str, name: str, rng: random.Random) -> str:
    """A grader-like message: numbers vary between students, the first line names the mistake."""
    if status == "failed":
        return (f"AssertionError: {name}: out[{rng.randint(0, 3)}, 0] = {rng.random():.3f} but expected "
                f"{rng.random():.3f}\nlikely cause: the hidden state is not carried forward")
    if status == "hidden_failed":
        return f"ReferenceMismatch: hidden case {rng.randint(1, 4)} of {name} differs (batch size 1)"
    return {"timeout": "the cell ran for 60 s and was stopped", "memory": "MemoryError"}.get(status, "")


def synthetic_class(n: int = 30, seed: int = 0) -> List[SubmissionResult]:
    """``n`` graded students plus one whose notebook was unreadable, with a hostile message and repairs."""
    rng = random.Random(seed)
    results = []
    for i in range(n):
        tests = []
        for name, points, chance in CELLS:
            status = "passed" if rng.random() < chance else rng.choice(NOT_PASSED)
            tests.append(Case(name, points if status == "passed" else 0.0, points, status,
                              message(status, name, rng), round(rng.uniform(0.1, 3.0), 2)))
        results.append(SubmissionResult(f"s{i:03d}", LAB, tests, sandbox="bubblewrap (uid 64001, no network)",
                                        seconds=rng.uniform(20, 90), source=f"submitted/s{i:03d}/{LAB}.ipynb"))
    results[3].tests[0].message = HOSTILE
    results[3].tests[0].status, results[3].tests[0].points = "failed", 0.0
    results[5].student = "@mallory=1+2"
    results[7].repairs = ["restored test cell rnn_forward from the release (it was deleted)",
                          "matched solution cell rnn_backward_code by content (its metadata was stripped)"]
    results.append(SubmissionResult("corrupt", LAB, [], problem=PROBLEM, seconds=0.1))
    return results


@pytest.fixture(scope="module")
def klass():
    return synthetic_class()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_one_row_per_student_and_test(klass, tmp_path):
    """Does the per-test CSV hold one row per student and test, in student then notebook order,
    with points that add up to each student's total?"""
    rows = read_csv(export_tests_csv(list(reversed(klass)), tmp_path / "tests.csv"))
    assert list(rows[0]) == TESTS_CSV_COLUMNS
    graded = [r for r in klass if r.tests]
    assert len(rows) == sum(len(r.tests) for r in graded) + 1          # + the unreadable one
    first = [r for r in rows if r["student"] == "s000"]
    assert [r["test"] for r in first] == [name for name, _, _ in CELLS]
    students = [r["student"] for r in rows]
    assert students == sorted(students, key=lambda s: s.lstrip("'"))  # "'@mallory" sorts as "@mallory"
    for r in graded:
        mine = [row for row in rows if row["student"].lstrip("'") == r.student]
        assert sum(float(row["points"]) for row in mine) == pytest.approx(r.score)
        assert {float(row["total"]) for row in mine} == {r.score}
        assert {row["status"] for row in mine} <= set(STATUSES)


def test_exports_read_saved_results(klass, tmp_path):
    """Do results saved as JSON and loaded back export exactly as the records they came from?"""
    for r in klass:
        save_result(tmp_path / "course", r)
    loaded = load_results(tmp_path / "course", LAB)
    assert export_tests_csv(loaded, tmp_path / "a.csv").read_text() == export_tests_csv(klass, tmp_path / "b.csv").read_text()
    assert [gradescope_json(r) for r in loaded] == [gradescope_json(r) for r in sorted(klass, key=lambda r: r.student)]


def test_csv_neutralises_formulas_and_hides_hidden_tests(klass, tmp_path):
    """Can a student's message or id run as a spreadsheet formula, span lines, or leak a hidden test?"""
    rows = read_csv(export_tests_csv(klass, tmp_path / "tests.csv"))
    hostile = next(r for r in rows if r["student"] == "s003" and r["test"] == CELLS[0][0])
    assert hostile["message"].startswith("'=cmd|")
    assert "secret_hidden_input" not in hostile["message"] and "HIDDEN TESTS" not in hostile["message"]
    assert HIDDEN_REMOVED in hostile["message"] and "after the block" in hostile["message"]
    assert {r["student"] for r in rows if "mallory" in r["student"]} == {"'@mallory=1+2"}
    for row in rows:
        assert "\n" not in row["message"] and len(row["message"]) <= CSV_MESSAGE_CHARS
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values()), row
    corrupt = [r for r in rows if r["student"] == "corrupt"]
    assert len(corrupt) == 1 and corrupt[0]["message"].startswith("not graded: not a notebook")


@pytest.mark.parametrize("text, safe", [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("\t=1", "'\t=1"), ("a=1", "a=1"), ("", "")])
def test_csv_safe(text, safe):
    """Is a cell quoted exactly when a spreadsheet would read it as a formula?"""
    assert csv_safe(text) == safe


def test_gradescope_schema(klass, tmp_path):
    """Does each results.json have Gradescope's fields with the right types, and a score that is
    the sum of its tests' scores?"""
    paths = export_gradescope(klass, tmp_path / "gradescope")
    assert len(paths) == len(klass)
    by_student = {r.student: r for r in klass}
    for path in paths:
        data = json.loads(path.read_text())
        r = by_student[path.parent.name]
        assert set(data) == {"score", "execution_time", "output", "stdout_visibility", "tests"}
        assert isinstance(data["score"], float) and isinstance(data["execution_time"], int)
        assert isinstance(data["output"], str) and data["stdout_visibility"] in ("hidden", "visible")
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"])) == pytest.approx(r.score)
        assert [t["name"] for t in data["tests"]] == [t.name for t in r.tests]
        for t, case in zip(data["tests"], r.tests):
            assert set(t) == {"name", "score", "max_score", "status", "output", "output_format", "visibility"}
            assert isinstance(t["score"], float) and isinstance(t["max_score"], float)
            assert t["status"] == ("passed" if case.status == "passed" else "failed")
            assert t["visibility"] == "visible" and t["output_format"] == "text"
            assert t["output"].startswith(f"{case.status}: {STATUSES[case.status]}")


def test_gradescope_hides_hidden_tests_and_ta_problem(klass):
    """Does the Gradescope output leave out hidden test source and the TA-only problem text?"""
    hostile = gradescope_json(klass[3])["tests"][0]["output"]
    assert "secret_hidden_input" not in hostile and "HIDDEN TESTS" not in hostile and "<script>" in hostile
    corrupt = gradescope_json(klass[-1])
    assert corrupt["tests"] == [] and corrupt["score"] == 0.0
    assert "/srv/course" not in corrupt["output"] and "could not be graded" in corrupt["output"]
    repaired = gradescope_json(klass[7])["output"]
    assert all(line in repaired for line in klass[7].repairs)


def test_write_gradescope_result(klass, tmp_path):
    """Does the one-result writer produce the same JSON as the export, at the path asked for?"""
    assert GRADESCOPE_RESULTS.as_posix() == "/autograder/results/results.json"
    path = write_gradescope_result(klass[0], tmp_path / "results" / "results.json")
    assert json.loads(path.read_text()) == gradescope_json(klass[0])


def test_gradescope_refuses_two_labs_of_one_student(klass, tmp_path):
    """Does exporting two results of one student fail with advice instead of overwriting one?"""
    other = SubmissionResult(klass[0].student, "02_lstm_gru", list(klass[0].tests))
    with pytest.raises(GradingError, match="one lab at a time"):
        export_gradescope([klass[0], other], tmp_path)


def test_cell_stats_count_and_group_failures():
    """Are statuses counted per test, and failure messages that differ only in numbers grouped as one?"""
    case = lambda status, msg="": Case("t", 1.0 if status == "passed" else 0.0, 1.0, status, msg)  # noqa: E731
    rs = [SubmissionResult(f"s{i}", LAB, [c]) for i, c in enumerate([
        case("passed"), case("failed", "AssertionError: h[1] = 0.12 but expected 0.57\ndetails"),
        case("failed", "AssertionError: h[2] = 0.3 but expected 0.9"), case("timeout"),
        case("failed", "NameError: name 'np' is not defined")])]
    (s,) = cell_stats(rs)
    assert (s.graded, s.statuses["passed"], s.statuses["failed"], s.pass_rate) == (5, 1, 3, 0.2)
    line, count = s.common_failure()
    assert count == 2 and line.startswith("AssertionError: h[") and "details" not in line


def png_size(path):
    """Width and height from a PNG's header (checks that it is a PNG at all)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_class_report(klass, tmp_path):
    """Does the class report write its page and three non-empty plots, list the hardest test first,
    name the students not graded and the repairs, and escape everything?"""
    index = class_report(klass + [SubmissionResult("x", "02_lstm_gru")], tmp_path / "report", lab=LAB)
    html = index.read_text()
    for name in ("score_distribution.png", "pass_rates.png", "status_breakdown.png"):
        assert f'src="{name}"' in html
        width, height = png_size(index.parent / name)
        assert width > 300 and height > 200 and (index.parent / name).stat().st_size > 5000
    passes = Counter({name: 0 for name, _, _ in CELLS})
    passes.update(t.name for r in klass for t in r.tests if t.status == "passed")
    (hardest, fewest), (_, next_fewest) = sorted(passes.items(), key=lambda kv: kv[1])[:2]
    assert fewest < next_fewest, "the synthetic class needs one clearly hardest test"
    table = html[html.index("Tests, hardest first"):]
    positions = [table.index(f"<code>{name}</code>") for name, _, _ in CELLS]
    assert min(positions) == table.index(f"<code>{hardest}</code>")
    assert [s.name for s in hardest_first(cell_stats(klass))][0] == hardest
    assert "corrupt" in html[html.index("Not graded (1)"):] and "Expecting value" in html
    assert all(line in html for line in klass[7].repairs)
    assert "<script>" not in html
    assert "secret_hidden_input" not in html and "02_lstm_gru" not in html


def test_class_report_escapes_hostile_first_line(tmp_path):
    """Is a hostile most-common failure shown as text, never as markup?"""
    rs = [SubmissionResult(f"s{i}", LAB, [Case("t", 0.0, 1.0, "failed", HOSTILE)]) for i in range(3)]
    html = class_report(rs, tmp_path, lab=LAB).read_text()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html and "<script>" not in html


def test_class_report_without_results(tmp_path):
    """Does a report on a lab with no results say what to do?"""
    with pytest.raises(GradingError, match="autograde it first"):
        class_report([], tmp_path, lab=LAB)


def test_every_status_has_a_colour():
    """Does every status the grader can give have its own colour in the plots and badges?"""
    assert set(STATUS_COLOURS) == set(STATUSES)
    assert len(set(STATUS_COLOURS.values())) == len(STATUS_COLOURS)


def test_class_report_edge_cases(tmp_path):
    """Is a report still drawn when nothing could be graded, and when points are fractional?"""
    html = class_report([SubmissionResult("corrupt", LAB, [], problem=PROBLEM)], tmp_path / "none", lab=LAB).read_text()
    assert "Not graded (1)" in html and "0 with test results" in html
    halves = [SubmissionResult(f"s{i}", LAB, [Case("t", 0.5 * i, 2.5, "passed" if i == 5 else "failed", "AssertionError")])
              for i in range(6)]
    index = class_report(halves, tmp_path / "halves", lab=LAB)
    assert all(png_size(index.parent / n)[0] > 300 for n in ("score_distribution.png", "pass_rates.png"))
    assert "mean 1.25 / 2.5" in index.read_text()
