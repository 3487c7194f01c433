"""Tests of autograder/reading.py and autograder/repair.py: reading damaged submissions and rebuilding them on the
template, no kernel."""
from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, LockCells

from autograder.reading import UnreadableNotebook, read_submission
from autograder.repair import definitions, repair, repair_summary, with_hidden_tests
from autograder.submissions import fill_solutions, solution_code, solution_cells
from labfactory import tiny_lab

REPO = Path(__file__).resolve().parents[2]
HELPER = "def _outer(a, b):\n    return np.multiply.outer(a, b)"


def release_tiny(source):
    """The tiny lab as generate_assignment releases it, by nbgrader's own (kernel-free) preprocessors."""
    nb = copy.deepcopy(source)
    for step in (ClearSolutions(), ClearHiddenTests(), LockCells()):
        nb, _ = step.preprocess(nb, {})
    return nb


@pytest.fixture(scope="module")
def tiny():
    """(template, released, source) of the tiny lab."""
    source = tiny_lab()
    released = release_tiny(source)
    return with_hidden_tests(released, source), released, source


@pytest.fixture(scope="module")
def rnn():
    """(template, released, source) of Lab 1 as committed in labs/ and solutions/, written answers
    included."""
    released = nbformat.read(str(REPO / "labs" / "01_rnn.ipynb"), as_version=4)
    source = nbformat.read(str(REPO / "solutions" / "01_rnn.ipynb"), as_version=4)
    return with_hidden_tests(released, source), released, source


def graded(nb):
    """grade id -> (cell type, source) for every cell with nbgrader metadata."""
    return {c.metadata["nbgrader"]["grade_id"]: (c.cell_type, c.source)
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def expected(template, answers):
    """The template's graded cells with ``answers`` (grade id -> code) in the solution cells."""
    want = graded(template)
    want.update({gid: (want[gid][0], code) for gid, code in answers.items()})
    return want


def reference_answers(source):
    return {gid: solution_code(cell) for gid, cell in solution_cells(source).items()}


def strip(nb, ids=True):
    """What Colab or VS Code may hand in: no nbgrader metadata (and, with ``ids``, no cell ids)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = {}
        if ids:
            cell.pop("id", None)
    nb.nbformat_minor = 4 if ids else nb.nbformat_minor
    return read_submission(json.dumps(nb).encode())


def index_of(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)


def test_untouched_submission_needs_no_repair(tiny):
    """Does a submission straight from the release come back cell for cell, with nothing reported?"""
    template, released, source = tiny
    out = repair(fill_solutions(released, source), template)
    assert out.repairs == []
    assert [c.id for c in out.notebook.cells] == [c.id for c in template.cells]
    assert graded(out.notebook) == expected(template, reference_answers(source))
    assert "secret_hidden_input" in out.notebook.cells[3].source  # the template's hidden tests are in


def test_stripped_metadata_and_ids_real_lab(rnn):
    """Does a Lab 1 notebook without nbgrader metadata or cell ids get every graded cell back?"""
    template, released, source = rnn
    out = repair(strip(fill_solutions(released, source)), template)
    assert graded(out.notebook) == expected(template, reference_answers(source))
    assert [c.id for c in out.notebook.cells] == [c.id for c in template.cells]
    assert any("nbgrader metadata" in line for line in out.repairs)
    nbformat.validate(out.notebook)


def test_moved_cells_go_back_in_place(rnn):
    """Are a moved test cell and a moved solution cell put back where the template has them, and reported?"""
    template, released, source = rnn
    student = strip(fill_solutions(released, source))
    answer = student.cells.pop(index_of(template, "sample_code"))
    test = student.cells.pop(index_of(template, "rnn_forward"))
    student.cells.insert(2, answer)
    student.cells.append(test)
    out = repair(student, template)
    assert [c.id for c in out.notebook.cells] == [c.id for c in template.cells]
    assert graded(out.notebook) == expected(template, reference_answers(source))
    assert "moved test cell 'rnn_forward' back to its place (the student had moved it)" in out.repairs
    assert "moved solution cell 'sample_code' back to its place (the student had moved it)" in out.repairs
    assert sum(line.startswith("moved") for line in out.repairs) == 2  # the rest stayed in order


@pytest.mark.parametrize("stripped", [False, True])
def test_duplicated_solution_cell_last_copy_wins(rnn, stripped):
    """When a solution cell appears twice, is the later copy graded (what runs last wins) and reported?"""
    template, released, source = rnn
    student = fill_solutions(released, source)
    at = index_of(template, "rnn_forward_code")
    later = copy.deepcopy(student.cells[at])
    later.id = "copy-of-answer"
    later.source = student.cells[at].source.replace("h0", "h_init")
    student.cells.insert(at + 3, later)  # after the next part's markdown
    student = strip(student) if stripped else student
    out = repair(student, template)
    assert graded(out.notebook)["rnn_forward_code"] == ("code", later.source)
    assert sum(c.source == later.source for c in out.notebook.cells) == 1
    assert [line for line in out.repairs if "appears more than once" in line] == [
        f"'rnn_forward_code' appears more than once: graded the last copy, cell {at + 4}, and dropped cell {at + 1}"]


@pytest.mark.parametrize("stripped", [False, True])
def test_edited_deleted_and_duplicated_test_cells_are_restored(rnn, stripped):
    """Do an edited, a deleted and a duplicated test cell all come back as the template has them?"""
    template, released, source = rnn
    student = fill_solutions(released, source)
    student.cells[index_of(template, "rnn_backward")].source += "\nassert True  # my own check"
    copied = copy.deepcopy(student.cells[index_of(template, "sample")])
    copied.id = "sample-copy"
    del student.cells[index_of(template, "clip_grad_norm")]
    student.cells.append(copied)
    student = strip(student) if stripped else student
    out = repair(student, template)
    assert graded(out.notebook) == expected(template, reference_answers(source))
    assert "restored test cell 'rnn_backward' (edited by the student)" in out.repairs
    assert "restored test cell 'clip_grad_norm' (deleted)" in out.repairs
    assert f"removed a duplicate of test cell 'sample' (cell {len(student.cells)})" in out.repairs
    assert len(out.notebook.cells) == len(template.cells)


def test_test_cell_rewritten_to_pass_is_restored(tiny):
    """Does a test cell the student replaced by `pass` (metadata kept) get the template's hidden tests back?"""
    template, released, source = tiny
    student = fill_solutions(released, source, {"add": "def add(a, b):\n    return 3"})
    student.cells[3].source = "pass"
    out = repair(student, template)
    assert graded(out.notebook)["test_add"] == ("code", template.cells[3].source)
    assert out.repairs == ["restored test cell 'test_add' (edited by the student)"]


def test_solution_cell_turned_markdown_becomes_code(tiny):
    """Is a solution cell whose type the student changed to markdown turned back into code and graded?"""
    template, released, source = tiny
    student = fill_solutions(released, source)
    cell = student.cells[4]
    student.cells[4] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    student.cells[4].id = cell.id
    out = repair(student, template)
    assert graded(out.notebook) == expected(template, reference_answers(source))
    assert out.repairs == ["turned cell 5 ('scale') back into code: the student had changed it to markdown"]


def test_nbformat3_submission(tiny):
    """Is an nbformat 3 file (worksheets, `input` lines) read, converted and graded like a v4 one?"""
    template, released, source = tiny
    old = nbformat.writes(nbformat.convert(fill_solutions(released, source), 3), version=3)
    assert '"worksheets"' in old
    nb = read_submission(old.encode())
    assert nb.nbformat == 4 and nb.nbformat_minor == 5
    out = repair(nb, template)
    assert graded(out.notebook) == expected(template, reference_answers(source))


def test_read_accepts_bom_control_characters_and_line_lists(tiny):
    """Are a BOM, a raw tab in a string, sources as lists of lines and nbformat 4.4 without ids accepted?"""
    _, released, source = tiny
    nb = json.loads(nbformat.writes(fill_solutions(released, source)))
    for cell in nb["cells"]:
        cell.pop("id")
        assert isinstance(cell["source"], list)  # nbformat writes sources as lists of lines
    nb["nbformat_minor"] = 4
    nb["cells"][2]["source"][0] = "def add(a, b):\t# tabbed\n"
    text = json.dumps(nb, indent=1).replace("\\t", "\t")
    read = read_submission(b"\xef\xbb\xbf" + text.encode())
    assert read.cells[2].source.startswith("def add(a, b):\t# tabbed\n")
    assert len({c.id for c in read.cells}) == len(read.cells)
    nbformat.validate(read)


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-16"),  # Windows PowerShell's `>` writes UTF-16 with a BOM
    lambda text: text.encode("cp1252"),  # an editor that saved in the legacy Windows code page
    lambda text: text.encode("utf-8") + b"\x00" * 64,  # padding from an interrupted sync
])
def test_read_accepts_other_encodings(tiny, encode):
    """Are UTF-16, cp1252 and NUL-padded files read with their accented text intact?"""
    _, released, source = tiny
    nb = fill_solutions(released, source, {"add": "def add(a, b):\n    # somme élémentaire\n    return a + b"})
    read = read_submission(encode(nbformat.writes(nb, version=4)))
    assert read.cells[2].source == "def add(a, b):\n    # somme élémentaire\n    return a + b"


def _zip(name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, "{}")
    return buf.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"<!DOCTYPE html><html><head><title>01_rnn.ipynb - Colab</title></head>", "HTML page ('01_rnn.ipynb - Colab')"),
    (b"import numpy as np\n\ndef add(a, b):\n    return a + b\n", "Python script, not a notebook"),
    (None, "a zip archive, not a notebook (it holds 01_rnn.ipynb)"),
    (b"%PDF-1.7 ...", "a PDF"),
    (b'\xef\xbb\xbf\n{"cells": [],\n "metadata": {} "nbformat": 4}',
     "not JSON: Expecting ',' delimiter at line 3 column 17 (byte 34)"),
    (b'[1, 2, 3]', "JSON, but not a notebook"),
])
def test_unreadable_files_say_what_they_are(data, message):
    """Does each kind of non-notebook fail with a message naming what the file is instead?"""
    with pytest.raises(UnreadableNotebook, match="resubmit|submit the .ipynb|student for the .ipynb") as err:
        read_submission(_zip("01_rnn.ipynb") if data is None else data)
    assert message in str(err.value)


def test_truncated_notebook_is_unreadable(rnn):
    """Is a notebook cut short reported as truncated, with where it stops, rather than guessed at?"""
    _, released, _ = rnn
    data = nbformat.writes(released).encode()
    cut = data[:len(data) * 2 // 3]
    with pytest.raises(UnreadableNotebook) as err:
        read_submission(cut)
    lines = cut.decode("utf-8", "ignore").rstrip().split("\n")
    assert f"not JSON: truncated at line {len(lines)} column {len(lines[-1]) + 1} (byte {len(cut)})" in str(err.value)
    assert "resubmit" in str(err.value)


def test_renamed_function_keeps_the_stub(tiny):
    """Without labels, is a solution whose function was renamed left unmatched (stub kept, cell kept)?"""
    template, released, source = tiny
    renamed = "def add_arrays(a, b):\n    return a + b"
    out = repair(strip(fill_solutions(released, source, {"add": renamed})), template)
    assert graded(out.notebook)["add"] == ("code", released.cells[2].source)
    assert "no solution found for 'add': graded as not attempted (the template's stub is kept)" in out.repairs
    sources = [c.source for c in out.notebook.cells]
    assert sources.index(renamed) == sources.index(released.cells[2].source) - 1  # kept after 'setup', as it was


def test_labelled_renamed_function_is_kept_and_flagged(tiny):
    """With its label kept, is a renamed answer graded as written and flagged for the TA?"""
    template, released, source = tiny
    renamed = "def add_arrays(a, b):\n    return a + b"
    out = repair(fill_solutions(released, source, {"add": renamed}), template)
    assert graded(out.notebook)["add"] == ("code", renamed)
    assert out.repairs == ["the student's cell 3 for 'add' does not define add (renamed or deleted?): its tests will fail"]


def test_helper_cell_stays_before_its_use(rnn):
    """Is a helper the student added above a solution cell kept there, before the code that calls it?"""
    template, released, source = rnn
    student = strip(fill_solutions(released, source, {"rnn_step_forward_code": "def rnn_step_forward(*a):\n"
                                                      "    return _outer(a[0], a[1]), None"}))
    at = index_of(template, "rnn_step_forward_code")
    student.cells.insert(at, nbformat.v4.new_code_cell(HELPER))
    out = repair(student, template)
    sources = [c.source for c in out.notebook.cells]
    assert sources.index(HELPER) == index_of(out.notebook, "rnn_step_forward_code") - 1
    assert "nbgrader" not in out.notebook.cells[sources.index(HELPER)].metadata
    assert f"kept 1 cell(s) the student added (cells {at + 1}), each after the template cell it followed" in out.repairs


def test_copy_of_a_test_cell_added_by_the_student_is_dropped(tiny):
    """Is a near-copy of a test cell the student pasted as a new cell dropped, not run as their own?"""
    template, released, source = tiny
    student = fill_solutions(released, source)
    copy_of_test = nbformat.v4.new_code_cell(released.cells[5].source.replace("2.0, 4.0", "2.0,  4.0"))
    student.cells.append(copy_of_test)
    out = repair(student, template)
    assert len(out.notebook.cells) == len(template.cells)
    assert out.repairs == ["removed a duplicate of test cell 'test_scale' (cell 7)"]


def test_one_cell_answering_two_parts(tiny):
    """When one cell defines both functions, does it answer both parts, placed before both tests?"""
    template, released, source = tiny
    both = "def add(a, b):\n    return a + b\n\ndef scale(x, k):\n    return np.asarray(x) * k"
    student = strip(fill_solutions(released, source))
    student.cells[2].source = both
    del student.cells[4]
    out = repair(student, template)
    assert graded(out.notebook)["add"] == ("code", both)
    assert "answered in the cell of 'add'" in graded(out.notebook)["scale"][1]
    assert "'scale' is answered in the same cell as 'add' (cell 3)" in out.repairs


def test_junk_never_raises(tiny):
    """Do junk cells (no keys, None sources, odd types, bad outputs) give the template back, not a crash?"""
    template, released, _ = tiny
    junk = {"cells": [None, {}, {"cell_type": "code", "source": None, "outputs": "junk"},
                      {"cell_type": "weird", "source": ["def add(a, b):\n", "    return a + b\n"], "id": 7,
                       "metadata": {"nbgrader": "no"}}, 42],
            "metadata": {"kernelspec": {"name": "ir"}}}
    out = repair(nbformat.from_dict(junk), template)
    assert graded(out.notebook)["add"] == ("code", "def add(a, b):\n    return a + b\n")
    assert graded(out.notebook)["scale"] == ("code", released.cells[4].source)
    assert out.notebook.metadata.kernelspec.name == "python3"
    assert "set the kernel to the template's 'python3' (the submission asked for 'ir')" in out.repairs
    nbformat.validate(out.notebook)
    for nothing in ({}, {"cells": "x"}, nbformat.v4.new_notebook()):
        assert graded(repair(nothing, template).notebook) == graded(template)


def test_outputs_are_dropped_and_ids_unique(tiny):
    """Does the repaired notebook carry no student outputs, unique ids, and validate?"""
    template, released, source = tiny
    student = fill_solutions(released, source)
    student.cells[2].outputs = [nbformat.v4.new_output("stream", text="42\n")]
    for code in ("print(add(1, 1))", "print(scale(1, 2))"):
        student.cells.append(nbformat.v4.new_code_cell(code))
        student.cells[-1].id = "mine"  # two cells with one id: possible in a hand-edited file
    out = repair(student, template)
    assert all(not c.get("outputs") for c in out.notebook.cells)
    assert len({c.id for c in out.notebook.cells}) == len(out.notebook.cells) == len(template.cells) + 2
    nbformat.validate(out.notebook)


def test_answer_below_an_untouched_stub_is_graded(tiny):
    """Is an answer written in a new cell below the untouched stub graded, the stub being the earlier copy?"""
    template, released, source = tiny
    student = copy.deepcopy(released)
    student.cells.insert(3, nbformat.v4.new_code_cell(reference_answers(source)["add"]))
    out = repair(student, template)
    assert graded(out.notebook)["add"] == ("code", reference_answers(source)["add"])
    assert "'add' appears more than once: graded the last copy, cell 4, and dropped cell 3" in out.repairs


def test_experiment_rebinding_a_graded_name_stays_the_students(tiny):
    """Is a later cell that only rebinds a graded name (`add = ...`) kept in place, not taken as the answer?"""
    template, released, source = tiny
    student = fill_solutions(released, source)
    student.cells.append(nbformat.v4.new_code_cell("add = add(1, 2)\nprint(add)"))
    out = repair(student, template)
    assert graded(out.notebook)["add"] == ("code", reference_answers(source)["add"])
    assert out.notebook.cells[-1].source == "add = add(1, 2)\nprint(add)"
    assert out.repairs == ["kept 1 cell(s) the student added (cells 7), each after the template cell it followed"]


def test_tampered_nbgrader_metadata_is_restored_and_reported(tiny):
    """Does a student's change to the grading metadata (points, roles) lose to the template and get reported?"""
    template, released, source = tiny
    student = fill_solutions(released, source)
    student.cells[3].metadata.nbgrader["points"] = 100
    student.cells[4].metadata.nbgrader.update(grade=True, points=50)
    out = repair(student, template)
    assert [c.metadata for c in out.notebook.cells] == [c.metadata for c in template.cells]
    assert out.repairs == [
        "restored the nbgrader metadata of test cell 'test_add': the student's copy changed points to 100",
        "restored the nbgrader metadata of solution cell 'scale': the student's copy changed grade to True, points to 50"]


def test_wrong_lab_is_flagged(tiny, rnn):
    """Is a submission of another lab reported as such, and graded as not attempted?"""
    template, _, _ = rnn
    _, released, source = tiny
    out = repair(fill_solutions(released, source), template)
    assert out.repairs[0] == "none of the template's graded cells were found in the submission: is it the right lab?"
    assert graded(out.notebook) == graded(template)


def test_definitions_look_past_magics_and_syntax_errors():
    """Does definitions find top-level functions behind IPython magics, in `if` blocks, and in unparsable code?"""
    functions, names = definitions("%%time\nimport numpy as np\nif True:\n    def f(x):\n        y = 1\n"
                                   "class C:\n    def method(self): pass\nalias = f")
    assert functions == {"f", "C"} and names == {"f", "C", "np", "alias"}
    assert definitions("def g(x):\n    return (x\n\nh = 2\n") == ({"g"}, {"g", "h"})


def test_summary_lists_each_repair():
    """Does the TA's summary give one line per repair, and say so when there is none?"""
    assert repair_summary([]).startswith("no repairs needed")
    text = repair_summary(["restored test cell 'a' (deleted)", "kept 1 cell(s) the student added"])
    assert text.splitlines() == ["2 repair(s):", "  - restored test cell 'a' (deleted)",
                                 "  - kept 1 cell(s) the student added"]


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_students_pasted_images_stay_with_their_markdown(tiny):
    """Does a markdown cell the student added, or a markdown answer, keep its pasted image through the
    repair, and is a reference to an image the file did not hold reported?"""
    template, released, source = tiny
    template = copy.deepcopy(template)
    answer = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": {   # a written answer
        "grade": False, "grade_id": "explain", "locked": False, "schema_version": 3, "solution": True, "task": False}})
    answer.id = "explain"
    template.cells.insert(5, answer)
    student = json.loads(nbformat.writes(fill_solutions(released, source)))
    image = {"image.png": {"image/png": PNG}}
    student["cells"].insert(5, {**json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[answer])))["cells"][0],
                                "source": "My plot: ![p](attachment:image.png)", "attachments": image})
    student["cells"].insert(3, {"cell_type": "markdown", "metadata": {}, "id": "mine", "attachments": image,
                                "source": "A note ![n](attachment:image.png) and ![lost](attachment:lost.png)"})
    out = repair(read_submission(json.dumps(student).encode()), template)
    cells = {c.id: c for c in out.notebook.cells}
    assert cells["explain"].attachments == image and cells["explain"].source == "My plot: ![p](attachment:image.png)"
    assert cells["mine"].attachments == image and "attachment:lost.png" not in cells["mine"].source
    assert [c.id for c in out.notebook.cells if c.get("attachments")] == ["mine", "explain"]
    assert any("lost.png" in note and "cell 4" in note for note in out.repairs), out.repairs
    nbformat.validate(out.notebook)


def test_template_markdown_keeps_only_the_templates_images(tiny):
    """Does a locked markdown cell come back from the template with its own images, never the student's copy's?"""
    template, released, source = tiny
    template = copy.deepcopy(template)
    template.cells[0].attachments = {"logo.png": {"image/png": PNG}}
    student = json.loads(nbformat.writes(fill_solutions(released, source)))
    student["cells"][0]["attachments"] = {"logo.png": {"image/gif": "R0lGODlhAQABAAAAACw="}}
    out = repair(read_submission(json.dumps(student).encode()), template)
    assert out.notebook.cells[0].attachments == {"logo.png": {"image/png": PNG}}


def test_written_answer_without_label_is_found_below_its_question(rnn):
    """Is a written answer whose metadata and id were stripped graded as the answer to the question
    right above it, and a markdown note elsewhere kept as the student's own?"""
    template, released, source = rnn
    student = fill_solutions(released, source)
    at = index_of(template, "q_temperature")
    answer = "Dividing by 0.5 doubles the gaps between scores, so the likely names win."
    student.cells[at].source = answer
    student.cells.insert(index_of(template, "rnn_forward_code") + 1, nbformat.v4.new_markdown_cell("my own note"))
    out = repair(strip(student), template)
    assert graded(out.notebook)["q_temperature"] == ("markdown", answer)
    assert "my own note" not in [src for _, src in graded(out.notebook).values()]
    assert any("kept 1 cell(s) the student added" in line for line in out.repairs)
