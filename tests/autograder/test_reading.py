"""Tests of autograder/reading.py: pasted images and any text a student's file can hold, read into a
notebook that nbconvert renders and UTF-8 can encode (the rest of reading is in test_repair.py)."""
from __future__ import annotations

import json

import nbformat
import pytest
from nbconvert import HTMLExporter

from autograder import pipeline, report
from autograder.collect import collect
from autograder.course import release_notebook
from autograder.reading import ATTACHMENT_CHARS, read_submission, safe_markdown, scrub, scrub_text
from autograder.release import release
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB, tiny_lab

# A 1x1 PNG, as JupyterLab and Colab store a pasted screenshot.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def pasted(source="Here is my plot:\n\n![image.png](attachment:image.png)", attachments=None) -> dict:
    """A markdown cell as JupyterLab saves a pasted image."""
    return {"cell_type": "markdown", "id": "pasted", "metadata": {}, "source": source,
            "attachments": {"image.png": {"image/png": PNG}} if attachments is None else attachments}


def notebook(*cells) -> bytes:
    """A v4.5 notebook file holding ``cells``, its JSON escaped to ASCII (as Colab writes it)."""
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def renders(nb) -> str:
    """The notebook as nbconvert's HTML (raises as nbconvert does on a missing attachment)."""
    return HTMLExporter(template_name="lab").from_notebook_node(nb)[0]


def test_pasted_image_is_kept_and_renders():
    """Is an image pasted into a markdown cell kept with the cell, so that nbconvert renders it?"""
    nb = read_submission(notebook(pasted()))
    assert nb.cells[0].attachments == {"image.png": {"image/png": PNG}}
    assert nb.cells[0].source == "Here is my plot:\n\n![image.png](attachment:image.png)"
    assert f"data:image/png;base64,{PNG}" in renders(nb)
    nbformat.validate(nb)


@pytest.mark.parametrize("attachments", [
    {},                                                     # the reference, without its image
    {"image.png": {"text/html": "<script>alert(1)</script>"}},   # not an image
    {"image.png": {"image/svg+xml": "PHN2Zz48L3N2Zz4="}},   # an image type that can hold script
    {"image.png": {"image/png": "not base64 at all!"}},
    {"image.png": {"image/png": "A" * (ATTACHMENT_CHARS + 4)}},   # past the size cap
    {"image.png": ["iVBOR"]},
    ["image.png"],
])
def test_bad_attachments_are_dropped_and_their_references_removed(attachments):
    """Is an attachment that is missing, not an image, not base64 or too large dropped, its reference
    rewritten so that nbconvert still renders the cell, and the dropped name noted for the repair?"""
    nb = read_submission(notebook(pasted(attachments=attachments)))
    assert "attachments" not in nb.cells[0]
    assert "attachment:image.png" not in nb.cells[0].source and "Here is my plot:" in nb.cells[0].source
    assert nb.cells[0].metadata["autograder"]["missing_attachments"] == ["image.png"]
    renders(nb)
    nbformat.validate(nb)


@pytest.mark.parametrize("source", [
    "![a](attach&#109;ent:image.png)",                      # an entity spelling out the scheme
    "![a](attachment\\:image.png)",                         # a backslash escape
    "![a][r]\n\n[r]: attachment:other.png",                 # a reference-style image
    "![a](attachment:image.png) and ![b](attachment:image.png2)",   # a name that only starts like a kept one
    "![a](<attachment:my image.png>)",
])
def test_every_spelling_of_a_missing_attachment_renders(source):
    """Whatever way a markdown cell spells a reference to a missing attachment, does nbconvert render it?"""
    nb = read_submission(notebook(pasted(source)))
    renders(nb)
    assert safe_markdown(source, {}) != source


def test_markdown_without_references_is_untouched():
    """Is ordinary markdown (maths with backslashes, HTML entities, an <img> tag) left exactly as written?"""
    text = "$\\alpha \\cdot x$ &amp; <img src='attachment:x.png'> see ![plot](plot.png)"
    assert safe_markdown(text, {}) == text
    assert safe_markdown("![p](attachment:image.png)", {"image.png": {"image/png": PNG}}) == "![p](attachment:image.png)"


def test_lone_surrogates_are_replaced_everywhere():
    """Does half an emoji ("\\ud83d") in a source, a key, metadata or an output become U+FFFD, and a
    pair written as two escapes become its character, so that the notebook encodes as UTF-8?"""
    data = (b'{"cells": [{"cell_type": "markdown", "metadata": {"\\udc80key": "v\\ud83d"}, "source": "\\ud83d"},'
            b' {"cell_type": "code", "metadata": {}, "execution_count": null, "source": ["x = \'\\ud83d\\ude00\'"],'
            b' "outputs": [{"output_type": "stream", "name": "stdout", "text": "half \\ud83d"}]}],'
            b' "metadata": {"title\\ud83d": ["\\udfff"]}, "nbformat": 4, "nbformat_minor": 5}')
    nb = read_submission(data)
    text = json.dumps(nb, ensure_ascii=False)
    text.encode("utf-8")   # raises on any surrogate left
    assert nb.cells[0].source == "\ufffd" and nb.cells[1].source == "x = '\U0001F600'"
    assert nb.cells[0].metadata == {"\ufffdkey": "v\ufffd"}
    assert nb.cells[1].outputs[0].text == "half \ufffd"
    assert nb.metadata["title\ufffd"] == ["\ufffd"]


def test_scrub_text_and_scrub():
    """Does scrub_text replace lone surrogates only, and scrub every string and key of nested data in place?"""
    assert scrub_text("plain é 😀") == "plain é 😀"
    assert scrub_text("a\ud83d\ude00b\ud83dc\udcff") == "a😀b\ufffdc\ufffd"
    data = {"k\ud800": ["x\udfff", {"deep": ["t\ud83d"]}], 1: 2.5}
    assert scrub(data) is data
    assert data == {"k\ufffd": ["x\ufffd", {"deep": ["t\ufffd"]}], 1: 2.5}
    deep = current = []
    for _ in range(100_000):   # deeper than Python's recursion limit
        current.append([])
        current = current[0]
    current.append("\ud83d")
    scrub(deep)
    assert current == ["\ufffd"]


# --- end to end: a pasted image through autograde and feedback ---------------------------------

STUDENT = "zoë_lú"   # the id collect gives "Zoë Lú.ipynb"

@pytest.fixture(scope="module")
def pasted_course(tiny_repo, tmp_path_factory):
    """The tiny lab released, and one student's notebook ("Zoë Lú.ipynb") holding a pasted image, a
    reference to an image it does not hold and half an emoji, collected, autograded and given feedback."""
    course = tmp_path_factory.mktemp("pasted-course")
    release(TINY_LAB, course, repo=tiny_repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    nb = json.loads(nbformat.writes(fill_solutions(released, tiny_lab())))
    other = {**pasted("And the other one: ![other](attachment:gone.png)", {}), "id": "other"}
    nb["cells"][3:3] = [pasted(), other, {"cell_type": "markdown", "metadata": {}, "source": "half an emoji: \ud83d"}]
    inbox = tmp_path_factory.mktemp("pasted-inbox")
    (inbox / "Zoë Lú.ipynb").write_bytes(json.dumps(nb).encode())   # the surrogate escaped, as in the file
    assert list(collect(inbox, course, TINY_LAB).collected) == [STUDENT]
    results = pipeline.autograde(course, TINY_LAB, [STUDENT], progress=False)
    pages = report.feedback_pages(course, TINY_LAB)
    return course, results[0], pages


def test_pasted_image_survives_autograde_and_feedback(pasted_course):
    """Does a notebook with a pasted image, a dangling image reference and half an emoji, from a student
    with a non-ASCII name, get full marks and a feedback page that shows the image?"""
    course, result, pages = pasted_course
    assert [t.status for t in result.tests] == ["passed", "passed"] and result.score == 3
    html = (course / "feedback" / STUDENT / TINY_LAB / f"{TINY_LAB}.html").read_text(encoding="utf-8")
    assert f"data:image/png;base64,{PNG}" in html and "half an emoji: \ufffd" in html
    assert "And the other one:" in html
    autograded = nbformat.read(str(course / "autograded" / STUDENT / TINY_LAB / f"{TINY_LAB}.ipynb"), as_version=4)
    assert [c.attachments for c in autograded.cells if c.get("attachments")] == [{"image.png": {"image/png": PNG}}]
    assert any("gone.png" in note for note in result.repairs), result.repairs
