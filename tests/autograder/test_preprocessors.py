"""Tests of autograder/preprocessors.py: pure rules on single cells, then the real pipeline."""
from __future__ import annotations

import json

import nbformat
from nbgrader.utils import determine_grade

from autograder.preprocessors import (HIDDEN_LINE, demote_stderr, hidden_lines_pattern, hide_hidden_tests,
                                      redact_hidden_lines, redact_text, strip_hidden_tests)
from labfactory import HIDDEN_MARK, TINY_LAB, grade_cell, plain_cell


def stream(name: str, text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name=name, text=text)


def error(ename: str = "AssertionError", evalue: str = "bad") -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=["Traceback", "----> 3 secret_line()", f"{ename}: {evalue}"])


def graded_cell(*outputs, source: str = "assert True") -> nbformat.NotebookNode:
    cell = grade_cell("t", source, points=2)
    cell.outputs = list(outputs)
    return cell


def test_nbgrader_alone_zeros_a_cell_that_only_warned():
    """Does nbgrader, unaided, give 0 to a passing test cell with stderr output (the bug we fix)?"""
    assert determine_grade(graded_cell(stream("stderr", "UserWarning: noisy\n")))[0] == 0


def test_demoted_warning_keeps_full_points():
    """After demote_stderr, does a passing grade cell that warned get all its points?"""
    cell = demote_stderr(graded_cell(stream("stdout", "ok\n"), stream("stderr", "UserWarning: noisy\nmore\n")))
    assert determine_grade(cell) == (2, 2)


def test_demoted_text_stays_visible_and_marked():
    """Is the stderr text kept, as stdout, each line marked [stderr]?"""
    cell = demote_stderr(graded_cell(stream("stderr", "UserWarning: noisy\nmore\n")))
    assert [(o.name, o.text) for o in cell.outputs] == [("stdout", "[stderr] UserWarning: noisy\n[stderr] more\n")]


def test_cell_with_error_keeps_its_stderr_and_zero():
    """Does a grade cell that raised keep its stderr untouched and still score 0?"""
    cell = demote_stderr(graded_cell(stream("stderr", "warning\n"), error()))
    assert cell.outputs[0].name == "stderr"
    assert determine_grade(cell)[0] == 0


def test_non_grade_cells_are_left_alone():
    """Are stderr outputs of ordinary (non-grade) cells left as they are?"""
    cell = plain_cell("c", "print(1)")
    cell.outputs = [stream("stderr", "warning\n")]
    assert demote_stderr(cell).outputs[0].name == "stderr"


def test_strip_hidden_tests_removes_region_and_markers():
    """Does strip_hidden_tests drop the markers and everything between them, and say so?"""
    source = "visible()\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nafter()"
    assert strip_hidden_tests(source) == ("visible()\nafter()", True)
    assert strip_hidden_tests("visible()") == ("visible()", False)


def test_hide_hidden_tests_cuts_tracebacks_of_hidden_cells_only():
    """Are tracebacks cut to their last line in cells with hidden tests, and kept elsewhere?"""
    hidden = graded_cell(error("ReferenceMismatch", "hidden case k differs"),
                         source="ok()\n### BEGIN HIDDEN TESTS\nsecret_line()\n### END HIDDEN TESTS")
    hidden = hide_hidden_tests(hidden)
    assert hidden.source == "ok()"
    assert hidden.outputs[0].traceback == ["ReferenceMismatch: hidden case k differs"]
    visible = hide_hidden_tests(graded_cell(error()))
    assert len(visible.outputs[0].traceback) == 3


def test_an_error_raised_in_the_hidden_tests_keeps_only_its_name():
    """Does feedback drop the message of an error raised below the hidden-tests line (a check's message
    there names values of inputs the student never saw), and keep a visible test's?"""
    def raised_at(line: int, evalue: str):
        out = error("CheckFailed", evalue)
        out.traceback = ["Traceback", f"Cell In[7], line {line}", f"CheckFailed: {evalue}"]
        return out
    cell = graded_cell(raised_at(1, "visible: out[0] = 1 but expected 2"), raised_at(4, "hidden: h[0] = 0.48 but expected 0.9"),
                       source="check()\n### BEGIN HIDDEN TESTS\nstage()\ncheck(secret)\n### END HIDDEN TESTS")
    shown = hide_hidden_tests(cell).outputs
    assert shown[0].evalue.startswith("visible") and "0.9" not in shown[1].evalue + "".join(shown[1].traceback)
    assert shown[1].ename == "CheckFailed"


def test_warning_test_cell_scores_full_when_autograded(graded):
    """Does the tiny lab's test cell that warns and writes to stderr keep its point when autograded?"""
    assert graded.table["reference"]["test_scale"] == 1
    autograded = graded.course / "autograded" / "reference" / TINY_LAB / f"{TINY_LAB}.ipynb"
    cell = next(c for c in nbformat.read(str(autograded), as_version=4).cells if c.get("id") == "test_scale")
    stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
    assert "progress..." in stderr and "UserWarning" in stderr
    assert HIDDEN_MARK not in stderr


def hidden_test_cell() -> nbformat.NotebookNode:
    return grade_cell("t", "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n"
                           f"{HIDDEN_MARK} = np.arange(3.0)\nmatches_reference('k', add({HIDDEN_MARK}, 1))\n"
                           "x = 1\n### END HIDDEN TESTS", points=2)


def test_printed_hidden_source_is_redacted_everywhere_it_can_show():
    """Are hidden-test lines a submission printed, displayed or raised replaced, other text kept?"""
    pattern = hidden_lines_pattern([hidden_test_cell()])
    leak = f"before\n    {HIDDEN_MARK} = np.arange(3.0)\nafter"
    later = plain_cell("later", "print(In)")
    later.outputs = [stream("stdout", leak), error(evalue=leak),
                     nbformat.v4.new_output("execute_result", data={"text/plain": [repr(leak)], "image/png": "iVBOR"})]
    out = redact_hidden_lines(later, pattern).outputs
    assert out[0].text == f"before\n{HIDDEN_LINE}\nafter"
    assert out[1].evalue == f"before\n{HIDDEN_LINE}\nafter"
    assert out[2].data["text/plain"] == HIDDEN_LINE and out[2].data["image/png"] == "iVBOR"
    assert HIDDEN_MARK not in json.dumps(out)


def test_redaction_spares_visible_and_short_lines_and_hidden_tracebacks():
    """Are visible test lines and short generic lines ('x = 1') kept, and a hidden cell's traceback left for the TA?"""
    cell = hidden_test_cell()
    pattern = hidden_lines_pattern([cell])
    assert redact_text("assert add(1, 2) == 3\nx = 1", pattern) == "assert add(1, 2) == 3\nx = 1"
    cell.outputs = [nbformat.v4.new_output("error", ename="ReferenceMismatch", evalue="hidden case k",
                                           traceback=[f"----> 4 matches_reference('k', add({HIDDEN_MARK}, 1))"])]
    assert HIDDEN_MARK in redact_hidden_lines(cell, pattern).outputs[0].traceback[0]
    assert hidden_lines_pattern([plain_cell("c", "print(1)")]) is None
