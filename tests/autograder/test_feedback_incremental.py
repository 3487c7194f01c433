"""Feedback only for what changed (autograder/report.py: ``update_feedback``, ``FeedbackExporter``).

A class of three on the tiny lab with a written question is autograded once; each test then asks
which students' pages a feedback run writes: none when nothing changed, exactly the one whose
submission or TA grade changed, all of them with ``force``, and every other one when one student's
notebook cannot be rendered. Whether a page was written is read from its bytes and modification
time, never from how long the run took.
"""
from __future__ import annotations

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter

from autograder import pipeline, report
from autograder.cli import main
from autograder.course import gradebook, nbgrader_env, release_notebook, source_notebook
from autograder.pages import CSP_META
from autograder.release import write_notebook
from autograder.sandbox import Limits
from autograder.submissions import fill_solutions
from labfactory import HIDDEN_MARK, RUBRIC_MARK, written_course

LAB = "00_written"
STUDENTS = ["ana", "bo", "cy"]
ANSWER = "numpy broadcasts the scalar, in compiled code."
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = written_course(tmp_path_factory.mktemp("incremental"), {s: {"why_scale": ANSWER} for s in STUDENTS})
    report.update_feedback(course, LAB)
    return course


def snapshot(course) -> dict:
    """Page -> (modification time, bytes) of every feedback page of the class."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (course / "feedback").glob(f"*/{LAB}/*.html")}


def rewritten(before: dict, after: dict) -> list:
    """The students with a page that is new or was written again between two snapshots."""
    return sorted({p.parent.parent.name for p in after if before.get(p, (None,))[0] != after[p][0]})


def resubmit(course, student: str, overrides: dict) -> None:
    released = nbformat.read(str(release_notebook(course, LAB)), as_version=4)
    source = nbformat.read(str(source_notebook(course.parent / "repo", LAB)), as_version=4)
    write_notebook(fill_solutions(released, source, overrides), course / "submitted" / student / LAB / f"{LAB}.ipynb")
    pipeline.autograde(course, LAB, workers=1, progress=False, limits=Limits(cell_seconds=60, notebook_seconds=300))


def test_first_run_writes_both_safe_pages_for_everyone(course):
    """Does every student have a notebook page and a results page, each with the CSP, neither with
    hidden tests or the rubric?"""
    pages = snapshot(course)
    assert sorted(p.relative_to(course / "feedback").as_posix() for p in pages) == sorted(
        f"{s}/{LAB}/{name}" for s in STUDENTS for name in (f"{LAB}.html", "results.html"))
    for page, (_, data) in pages.items():
        text = data.decode("utf-8")
        assert CSP_META in text, page
        assert HIDDEN_MARK not in text and "HIDDEN TESTS" not in text and RUBRIC_MARK not in text, page


def test_an_unchanged_rerun_writes_nothing(course):
    """Does a second run with nothing changed leave every page as it was, and say so?"""
    report.update_feedback(course, LAB)
    before = snapshot(course)
    run = report.update_feedback(course, LAB)
    assert (run.written, run.unchanged, run.failed) == ([], STUDENTS, {})
    assert snapshot(course) == before
    assert len(run.pages) == 2 * len(STUDENTS)


def test_a_changed_submission_regenerates_only_its_pages(course):
    """After bo hands in a buggy add and is autograded again, are bo's pages, and only bo's, written?"""
    report.update_feedback(course, LAB)
    before = snapshot(course)
    resubmit(course, "bo", {"why_scale": ANSWER, "add": "def add(a, b):\n    return a - b"})
    run = report.update_feedback(course, LAB)
    assert run.written == ["bo"] and rewritten(before, snapshot(course)) == ["bo"]
    assert "failed" in (course / "feedback" / "bo" / LAB / "results.html").read_text(encoding="utf-8")


def test_a_tas_new_grade_of_a_written_answer_regenerates_only_that_student(course):
    """After the TA grades ana's written answer in the gradebook, are ana's pages, and only ana's,
    written again, showing the grade and the comment?"""
    report.update_feedback(course, LAB)
    before = snapshot(course)
    with nbgrader_env(), gradebook(course) as gb:
        gb.find_grade("why_scale", LAB, LAB, "ana").manual_score = 1.5
        gb.find_comment("why_scale", LAB, LAB, "ana").manual_comment = "Say where the loop runs."
        gb.db.commit()
    run = report.update_feedback(course, LAB)
    assert run.written == ["ana"] and rewritten(before, snapshot(course)) == ["ana"]
    folder = course / "feedback" / "ana" / LAB
    assert "Say where the loop runs." in (folder / "results.html").read_text(encoding="utf-8")
    assert "Say where the loop runs." in (folder / f"{LAB}.html").read_text(encoding="utf-8")


def test_force_regenerates_every_page(course, capsys):
    """Does ``feedback --force`` write every student's pages again, unchanged or not?"""
    report.update_feedback(course, LAB)
    before = snapshot(course)
    assert main(["feedback", LAB, "--course", str(course), "--force", "--workers", "1"]) == 0
    after = snapshot(course)
    assert rewritten(before, after) == STUDENTS and set(after) == set(before)
    assert "3 student(s) given new pages, 0 unchanged" in capsys.readouterr().out


def test_a_broken_notebook_does_not_stop_the_others(course, capsys):
    """When cy's autograded notebook cannot be read, do ana and bo still get new pages, cy a results
    page and no stale notebook page, and does the command name cy, fail, and try cy again next time?"""
    notebook = course / "autograded" / "cy" / LAB / f"{LAB}.ipynb"
    saved = notebook.read_bytes()
    try:
        notebook.write_text("{ this is not a notebook", encoding="utf-8")
        assert main(["feedback", LAB, "--course", str(course), "--force", "--workers", "1"]) == 1
        err = capsys.readouterr().err
        assert "not written for cy:" in err and "ana" not in err.split("not written for", 1)[1].split(":")[0]
        folder = course / "feedback" / "cy" / LAB
        assert (folder / "results.html").exists() and not (folder / f"{LAB}.html").exists()
        again = report.update_feedback(course, LAB)
        assert again.written == [] and list(again.failed) == ["cy"] and again.unchanged == ["ana", "bo"]
    finally:
        notebook.write_bytes(saved)
    assert report.update_feedback(course, LAB).written == ["cy"]


def test_the_exporter_makes_nbconverts_page(tmp_path):
    """Is FeedbackExporter's page nbconvert's HTMLExporter page, with the same alt text on images
    that had none, once both go through the same HTML parser?"""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\nText with **bold**, a [link](https://example.org) and "
                                      f'<img src="data:image/png;base64,{PNG}">'),
        nbformat.v4.new_code_cell("print('<b>hi</b>')", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="<b>hi</b>\n"),
            nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
            nbformat.v4.new_output("display_data", data={"text/html": f'<img alt="kept" src="data:image/png;base64,{PNG}">'}),
        ])])
    nb.metadata["language_info"] = {"name": "python"}
    theirs, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    ours, _ = report.FeedbackExporter(template_name="classic").from_notebook_node(nb)
    assert ours.count(CSP_META) == 1                  # ours carries the CSP, first in the head
    assert str(BeautifulSoup(ours.replace(CSP_META, ""), features="html.parser")) == theirs
    assert ours.count(f'alt="{report.NO_ALT}"') == 2 and 'alt="kept"' in ours
