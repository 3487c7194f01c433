"""Tests of autograder/diagrams.py: the labs' diagrams render the same every time and land in place."""
from __future__ import annotations

import base64
import copy
import dataclasses
import struct
from pathlib import Path

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import diagrams, drawings
from autograder.course import GradingError
from autograder.sanitize import clean_markdown

REPO = Path(__file__).resolve().parents[2]
NAME = "rnn_unrolled"                      # the diagram the placement tests move around
LAB, ANCHOR = diagrams.DIAGRAMS[NAME].lab, diagrams.DIAGRAMS[NAME].after
FAKE_PNG = b"\x89PNG\r\n\x1a\nnot really a picture"


def png_size(png: bytes) -> tuple:
    """(width, height) in pixels, from the PNG header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def md(grade_id: str, text: str = "Some text.") -> nbformat.NotebookNode:
    cell = new_markdown_cell(text, metadata={"nbgrader": {"grade": False, "grade_id": grade_id, "locked": True,
                                                          "schema_version": 3, "solution": False, "task": False}})
    cell.id = grade_id.replace("_", "-")
    return cell


def lab_notebook(with_anchor: bool = True) -> nbformat.NotebookNode:
    """Intro, the diagram's anchor (unless not), a code cell, another markdown cell."""
    cells = [md("intro"), new_code_cell("x = 1")] + ([md(ANCHOR)] if with_anchor else []) + [md("later")]
    cells[1].id = "setup"
    return new_notebook(cells=cells)


class Renderer:
    """A stand-in for ``render`` that counts its calls and draws nothing."""

    def __init__(self):
        self.calls = []

    def __call__(self, name: str) -> bytes:
        self.calls.append(name)
        return FAKE_PNG


@pytest.fixture(scope="module")
def pngs():
    return {name: diagrams.render(name) for name in diagrams.DIAGRAMS}


def test_every_diagram_is_a_png_of_the_intended_size(pngs):
    """Is each diagram a PNG of 20-600 KB, as wide as every other one and no taller than a screen?"""
    width = round(drawings.WIDTH * drawings.DPI)
    for name, png in pngs.items():
        w, h = png_size(png)
        assert 20_000 < len(png) < 600_000, (name, len(png))
        assert w == width and 0.45 * width <= h <= 0.85 * width, (name, w, h)


def test_rendering_twice_gives_identical_bytes(pngs):
    """Does a second render of each diagram give byte for byte the same PNG?"""
    for name, png in pngs.items():
        assert diagrams.render(name) == png, name


def test_rendering_ignores_the_users_matplotlib_style(pngs):
    """Does a changed matplotlibrc (fonts, line widths, colours) leave the PNG as it was?"""
    with matplotlib.rc_context({"font.size": 30, "lines.linewidth": 9, "axes.facecolor": "red",
                                "font.family": "serif", "mathtext.fontset": "cm"}):
        assert diagrams.render(NAME) == pngs[NAME]


def test_place_inserts_the_cell_right_after_its_anchor():
    """Does place_diagrams render the diagram once and put its locked attachment cell after the anchor?"""
    nb, render = lab_notebook(), Renderer()
    assert diagrams.place_diagrams(nb, LAB, render_fn=render) == [NAME] and render.calls == [NAME]
    ids = [c.id for c in nb.cells]
    cell = nb.cells[ids.index(ANCHOR.replace("_", "-")) + 1]
    assert cell.id == "diagram-rnn-unrolled" and cell.cell_type == "markdown"
    assert cell.metadata.nbgrader == {"grade": False, "grade_id": "diagram_rnn_unrolled", "locked": True,
                                      "schema_version": 3, "solution": False, "task": False}
    assert cell.metadata.seqlab == {"diagram": NAME, "source_hash": diagrams.source_hash(NAME)}
    assert cell.source.startswith("![") and cell.source.endswith("](attachment:rnn_unrolled.png)")
    assert base64.b64decode(cell.attachments["rnn_unrolled.png"]["image/png"]) == FAKE_PNG
    nbformat.validate(nb)


def test_a_second_place_renders_nothing_and_changes_nothing():
    """Once the cell is there and current, does place_diagrams leave the notebook exactly as it is,
    even after a round trip through the notebook file format?"""
    nb = lab_notebook()
    diagrams.place_diagrams(nb, LAB, render_fn=Renderer())
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    before, render = copy.deepcopy(nb), Renderer()
    assert diagrams.place_diagrams(nb, LAB, render_fn=render) == [] and render.calls == []
    assert nb == before and diagrams.stale_diagrams(nb, LAB) == []


def test_an_edited_hash_makes_the_diagram_stale_and_redrawn():
    """Does a cell drawn by other code count as stale, and does place_diagrams draw it again?"""
    nb = lab_notebook()
    diagrams.place_diagrams(nb, LAB, render_fn=Renderer())
    cell = next(c for c in nb.cells if c.id == "diagram-rnn-unrolled")
    cell.metadata.seqlab.source_hash = "0" * 64
    assert diagrams.stale_diagrams(nb, LAB) == [NAME]
    assert diagrams.place_diagrams(nb, LAB, render_fn=Renderer()) == [NAME]
    assert diagrams.stale_diagrams(nb, LAB) == []
    assert sum(c.get("metadata", {}).get("seqlab", {}).get("diagram") == NAME for c in nb.cells) == 1


def test_stale_agrees_with_place_on_missing_moved_and_edited_cells():
    """Do stale_diagrams and place_diagrams agree when the cell is missing, moved, doubled or edited,
    and is a moved or edited cell put right without rendering?"""
    nb = lab_notebook()
    assert diagrams.stale_diagrams(nb, LAB) == [NAME]
    diagrams.place_diagrams(nb, LAB, render_fn=Renderer())
    placed = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if c.id == "diagram-rnn-unrolled")
    breakages = {
        "moved": lambda nb: nb.cells.append(nb.cells.pop(index)),
        "doubled": lambda nb: nb.cells.append(copy.deepcopy(nb.cells[index])),
        "alt edited": lambda nb: setattr(nb.cells[index], "source", "![old words](attachment:rnn_unrolled.png)"),
        "unlocked": lambda nb: nb.cells[index].metadata.nbgrader.update(locked=False),
    }
    for what, breakage in breakages.items():
        nb = copy.deepcopy(placed)
        breakage(nb)
        assert diagrams.stale_diagrams(nb, LAB) == [NAME], what
        render = Renderer()
        assert diagrams.place_diagrams(nb, LAB, render_fn=render) == [] and render.calls == [], what
        assert nb == placed and diagrams.stale_diagrams(nb, LAB) == [], what


def test_a_lost_attachment_is_rendered_again():
    """Is a current cell whose picture is gone treated as missing, not kept as an empty image?"""
    nb = lab_notebook()
    diagrams.place_diagrams(nb, LAB, render_fn=Renderer())
    del next(c for c in nb.cells if c.id == "diagram-rnn-unrolled")["attachments"]
    assert diagrams.stale_diagrams(nb, LAB) == [NAME]
    assert diagrams.place_diagrams(nb, LAB, render_fn=Renderer()) == [NAME]


def test_reuse_takes_current_pictures_from_another_notebook():
    """Given the committed notebook as ``reuse``, does a fresh copy get its diagram without a render?"""
    committed = lab_notebook()
    diagrams.place_diagrams(committed, LAB, render_fn=Renderer())
    fresh, render = lab_notebook(), Renderer()
    assert diagrams.place_diagrams(fresh, LAB, render_fn=render, reuse=committed) == [] and render.calls == []
    assert fresh == committed


def test_cells_of_diagrams_no_longer_defined_are_removed():
    """Is a diagram cell that no diagram of the lab claims reported, and removed?"""
    nb = lab_notebook()
    diagrams.place_diagrams(nb, LAB, render_fn=Renderer())
    gone = copy.deepcopy(next(c for c in nb.cells if c.id == "diagram-rnn-unrolled"))
    gone.id, gone.metadata.seqlab.diagram = "diagram-renamed", "renamed"
    nb.cells.insert(0, gone)
    assert diagrams.stale_diagrams(nb, LAB) == ["renamed"]
    assert diagrams.place_diagrams(nb, LAB, render_fn=Renderer()) == []
    assert [c.id for c in nb.cells if c.get("metadata", {}).get("seqlab")] == ["diagram-rnn-unrolled"]


def test_a_missing_anchor_is_an_error_naming_diagram_and_anchor():
    """Without the cell a diagram follows, do both functions fail, naming the diagram and that cell,
    and leave the notebook alone?"""
    nb = lab_notebook(with_anchor=False)
    before = copy.deepcopy(nb)
    for call in (lambda: diagrams.place_diagrams(nb, LAB, render_fn=Renderer()),
                 lambda: diagrams.stale_diagrams(nb, LAB)):
        with pytest.raises(GradingError, match=f"{NAME}.*{ANCHOR}"):
            call()
    assert nb == before


def test_other_labs_are_left_alone():
    """Does a lab with no diagrams get none, and render nothing?"""
    nb, render = lab_notebook(), Renderer()
    assert diagrams.place_diagrams(nb, "06_music", render_fn=render) == [] and render.calls == []
    assert diagrams.stale_diagrams(nb, "06_music") == []


def test_the_hash_follows_the_drawing_code_and_the_style(monkeypatch):
    """Does the hash change when a diagram's function or the shared style changes, and only then?"""
    before = diagrams.source_hash(NAME)
    assert diagrams.source_hash(NAME) == before
    other = dataclasses.replace(diagrams.DIAGRAMS[NAME], draw=diagrams.draw_lstm_gru_cells)
    monkeypatch.setitem(diagrams.DIAGRAMS, NAME, other)
    assert diagrams.source_hash(NAME) != before
    monkeypatch.undo()
    monkeypatch.setattr(diagrams, "_STYLE", diagrams._STYLE + ("a new colour",))
    assert diagrams.source_hash(NAME) != before


def test_every_anchor_is_a_markdown_cell_of_its_solution():
    """Does each diagram follow a markdown cell that its lab's source notebook really has?"""
    for name, diagram in diagrams.DIAGRAMS.items():
        nb = nbformat.read(str(REPO / "solutions" / f"{diagram.lab}.ipynb"), as_version=4)
        assert nb.cells[diagrams._anchor(nb, name)].cell_type == "markdown", name


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_each_diagram_lands_after_its_anchor_in_its_real_solution(name):
    """Placed in its lab's real source notebook, does each diagram land right after its anchor, the
    lab's other diagrams with it, and leave nothing stale?"""
    lab, after = diagrams.DIAGRAMS[name].lab, diagrams.DIAGRAMS[name].after
    nb, render = nbformat.read(str(REPO / "solutions" / f"{lab}.ipynb"), as_version=4), Renderer()
    ours = [n for n, d in diagrams.DIAGRAMS.items() if d.lab == lab]
    assert diagrams.place_diagrams(nb, lab, render_fn=render) == ours and render.calls == ours
    at = diagrams._anchor(nb, name)
    assert nb.cells[at].metadata.nbgrader.grade_id == after and nb.cells[at + 1].id == diagrams.cell_id(name)
    assert diagrams.stale_diagrams(nb, lab) == []
    nbformat.validate(nb)


def test_diagram_cells_pass_the_feedback_sanitiser_unchanged():
    """Does the grader's page sanitiser keep each diagram cell's markdown exactly as written?"""
    for name in diagrams.DIAGRAMS:
        cell = diagrams.diagram_cell(name, FAKE_PNG)
        assert clean_markdown(cell.source, cell.attachments) == cell.source, name
        assert "\n" not in cell.source and 20 < len(diagrams.DIAGRAMS[name].alt) < 400, name
