"""Does the similarity report read as it should in a real browser, with none of the students' scripts run?

A small class of Lab 1 (``tests/autograder/synthetic_class.py``: independent students and a
disguised copy) plus a hostile student whose code, added cell, outputs and written answer carry a
script payload, compared by ``autograder.similarity``; headless Chromium opens the index and the
pair pages from disk. Screenshots go to the artifacts folder.
"""
import sys
from pathlib import Path

import pytest

from autograder.release import write_notebook
from autograder.similarity import similarity
from autograder.similarity_report import write_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder"))
import synthetic_class as sc  # noqa: E402

pytestmark = pytest.mark.browser

LAB = "01_rnn"
PAYLOAD = "window.__pwned=1;document.title='PWNED'"
SCRIPT = f"</pre><script>{PAYLOAD}</script><img src=x onerror=\"{PAYLOAD}\">"
TRACES = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  title: document.title === 'PWNED',
  scripts: document.scripts.length,
  attributes: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
      .filter(a => a.value.includes('__pwned')).map(a => e.tagName.toLowerCase() + ' ' + a.name)),
})"""
CLEAN = {"pwned": None, "title": False, "scripts": 0, "attributes": []}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report's index.html, for a class with one disguised copy and one hostile copier."""
    import nbformat

    course = tmp_path_factory.mktemp("similar-course")
    students = sc.independent_students(LAB)
    sc.write_class(course, LAB, sc.with_copies(LAB, students, ["s00"]))
    nb = nbformat.read(str(course / "submitted" / "s01" / LAB / f"{LAB}.ipynb"), as_version=4)
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    first.source = f"NOTE = {SCRIPT!r}\n" + first.source
    added = nbformat.v4.new_code_cell(f"# {SCRIPT}\nprint({SCRIPT!r})")
    added.outputs = [nbformat.v4.new_output("display_data", data={"text/html": SCRIPT})]
    nb.cells.append(added)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = f"My answer, with {SCRIPT} in it, repeated for length. " * 2
    write_notebook(nb, course / "submitted" / "mallory" / LAB / f"{LAB}.ipynb")
    return write_report(similarity(course, LAB), course / "similarity" / LAB)


def traces(page) -> dict:
    page.wait_for_timeout(500)
    return page.evaluate(TRACES)


def test_report_ranks_pairs_and_highlights_matches_with_no_student_script(page, artifacts, report):
    """Does the index rank the pairs, and a pair page show both sides with highlights, no student script run?"""
    page.goto(report.as_uri())
    assert traces(page) == CLEAN, "a student script ran or is live in the index"
    rows = page.locator("table").first.locator("tbody tr")
    cells = [[td.strip() for td in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]
    scores = [float(row[3].split()[0]) for row in cells]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 3, cells
    assert {tuple(cells[0][1:3]), tuple(cells[1][1:3])} == {("copy_of_s00", "s00"), ("mallory", "s01")}, cells
    assert page.locator("img[src='scores.png']").evaluate("img => img.naturalWidth") > 0, "the histogram is missing"
    page.screenshot(path=str(artifacts / "similarity_index.png"), full_page=True)

    for n, pair in enumerate(cells[:2]):
        page.goto(report.as_uri())
        rows.nth(n).locator("a").click()
        page.wait_for_selector(".side")
        assert traces(page) == CLEAN, f"a student script ran or is live in the page of {pair[1:3]}"
        sides = page.locator(".side pre")
        marked = [sides.nth(i).locator("mark").count() for i in range(sides.count())]
        assert sum(marked[0::2]) > 10 and sum(marked[1::2]) > 10, f"too few highlights in {pair[1:3]}: {marked}"
        page.screenshot(path=str(artifacts / f"similarity_pair_{n + 1}.png"), full_page=True)
        if "mallory" in pair:
            assert "<script>window.__pwned=1" in page.inner_text(".side"), "the student's text is no longer shown"
