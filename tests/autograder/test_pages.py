"""Tests of autograder/pages.py: the per-student results page and the text guard every page uses."""
from __future__ import annotations

import re

import pytest

from autograder.course import GradingError
from autograder.pages import HIDDEN_REMOVED, MAX_MESSAGE_CHARS, student_page, student_text, write_pages
from autograder.results import STATUSES, SubmissionResult
from autograder.results import TestResult as Case  # a Test* name would be collected by pytest

LAB = "01_rnn"
SECRET = "secret_hidden_input"
HOSTILE = (f"\x1b[0;31mAssertionError\x1b[0m: out <script>alert('pwned')</script> =cmd|' /C calc'!A0\n"
           f"### BEGIN HIDDEN TESTS\nassert matches_reference(rnn_forward({SECRET}))\n### END HIDDEN TESTS\n"
           "hint: is the hidden state carried forward?")
PROBLEM = "kernel died while reading /srv/course/gradebook.db"


def result(student: str = "ana", **kw) -> SubmissionResult:
    tests = [Case("rnn_step_forward", 2.0, 2.0, "passed", "", 0.4),
             Case("rnn_forward", 0.0, 3.0, "failed", HOSTILE, 1.2),
             Case("rnn_backward", 0.0, 3.0, "timeout", "the cell ran for 60 s and was stopped", 60.0),
             Case("clip <b>gradients</b>", 0.0, 1.0, "hidden_failed", "ReferenceMismatch: hidden case 2 differs")]
    defaults = dict(tests=tests, repairs=["restored test cell rnn_forward (it was deleted) <img src=x>"],
                    sandbox="bubblewrap (uid 64001, no network)", seconds=71.3)
    defaults.update(kw)
    return SubmissionResult(student, LAB, **defaults)


def test_page_lists_tests_with_points_and_explained_status(tmp_path):
    """Does the page show the lab, the total, and every test with its points and status explained?"""
    r = result()
    html = student_page(r, tmp_path / "results.html").read_text()
    assert LAB in html and "2 / 9 points (22%)" in html and "1 of 4 tests passed" in html
    for t in r.tests:
        row = html[html.index(f"<code>{t.name.replace('<', '&lt;').replace('>', '&gt;')}</code>"):]
        row = row[:row.index("</tr>")]
        assert f"{t.points:g} / {t.max_points:g}" in row and STATUSES[t.status] in row and f">{t.status}<" in row
    assert "restored test cell rnn_forward" in html and "bubblewrap (uid 64001, no network)" in html


def test_page_escapes_student_text(tmp_path):
    """Is everything a student's code can write shown as text, never as markup, on a script-free page?"""
    html = student_page(result(), tmp_path / "results.html").read_text()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html
    assert "clip &lt;b&gt;gradients&lt;/b&gt;" in html and "&lt;img src=x&gt;" in html
    assert not re.search(r"<(script|img|b)\b", html, re.IGNORECASE)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "\x1b" not in html and "AssertionError: out" in html


def test_page_never_shows_hidden_tests(tmp_path):
    """Are lines between hidden-test markers dropped from a message, keeping the lines around them?"""
    html = student_page(result(), tmp_path / "results.html").read_text()
    assert SECRET not in html and "HIDDEN TESTS" not in html and "matches_reference" not in html
    assert HIDDEN_REMOVED in html and "hint: is the hidden state carried forward?" in html


def test_problem_is_not_shown_to_the_student(tmp_path):
    """Does a submission that could not be graded say so without the TA's details (paths)?"""
    html = student_page(result(tests=[], problem=PROBLEM), tmp_path / "results.html").read_text()
    assert "could not be graded automatically" in html and "No test was graded" in html
    assert "/srv/course" not in html and "gradebook" not in html


def test_link_to_nbgrader_feedback_is_relative(tmp_path):
    """Does the page link nbgrader's feedback by a path relative to itself?"""
    dest = tmp_path / "pages" / "ana" / "results.html"
    html = student_page(result(), dest, nbgrader_feedback=tmp_path / "feedback" / "ana" / LAB / f"{LAB}.html").read_text()
    assert f'href="../../feedback/ana/{LAB}/{LAB}.html"' in html and str(tmp_path) not in html
    assert "href=" not in student_page(result(), tmp_path / "x.html").read_text()


def test_write_pages_beside_nbgrader_feedback(tmp_path):
    """Are pages written at feedback/<student>/<lab>/results.html, linking nbgrader's page only when it exists?"""
    (tmp_path / "feedback" / "ana" / LAB).mkdir(parents=True)
    (tmp_path / "feedback" / "ana" / LAB / f"{LAB}.html").write_text("<html></html>")
    pages = write_pages(tmp_path, LAB, [result("ana"), result("bo")])
    assert pages == [tmp_path / "feedback" / s / LAB / "results.html" for s in ("ana", "bo")]
    assert f'href="{LAB}.html"' in pages[0].read_text() and "href=" not in pages[1].read_text()


@pytest.mark.parametrize("bad, match", [(result("ana"), "not '02_lstm_gru'"), (result("../eve"), "folder name")])
def test_write_pages_refuses_bad_input(tmp_path, bad, match):
    """Does write_pages refuse a result of another lab, or a student id that would escape its folder?"""
    lab = "02_lstm_gru" if "lstm" in match else LAB
    with pytest.raises(GradingError, match=match):
        write_pages(tmp_path, lab, [bad])
    assert not (tmp_path / "eve").exists()


def test_student_text_guards():
    """Does the text guard drop an unterminated hidden block to the end, colour codes, and overflow?"""
    assert student_text(f"ok\n### BEGIN HIDDEN TESTS\n{SECRET}\nmore") == f"ok\n{HIDDEN_REMOVED}"
    assert student_text("\x1b[1;32mgreen\x1b[0m\x07 bell\r\n") == "green bell"
    long = student_text("x" * (MAX_MESSAGE_CHARS + 50))
    assert long.startswith("x" * MAX_MESSAGE_CHARS) and long.endswith("(50 more characters not shown)")
    assert student_text("") == "" and student_text("plain\ntext") == "plain\ntext"


def test_pages_written_by_other_tools_get_the_script_free_policy_first():
    """Does with_csp put the CSP meta first in <head>, once, and refuse a page it cannot protect?"""
    from autograder.pages import CSP_META, with_csp
    page = with_csp("<html><head><script>alert(1)</script></head><body>x</body></html>")
    assert page.index(CSP_META) < page.index("<script>") and "script-src 'none'" in CSP_META
    assert with_csp(page) == page
    with pytest.raises(GradingError):
        with_csp("<p>no head</p>")
