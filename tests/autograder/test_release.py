"""Tests of autograder/release.py: student notebooks, Colab extras, reference outputs, labs/."""
from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from autograder import settings
from autograder.course import GradingError, reference_store, release_notebook
from autograder.release import header_cell, release, setup_cell, sync_labs
from labfactory import HIDDEN_MARK, TINY_LAB, tiny_lab, write_tiny_repo

REPO = Path(__file__).resolve().parents[2]
NO_RECORD = ["record_reference"]


def run_setup_cell(monkeypatch, on_colab: bool) -> list:
    """Run the setup cell as IPython would; return the %magics it called."""
    calls = []

    class Shell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(setup_cell().source)
    exec(compile(code, "<setup>", "exec"), {"get_ipython": Shell})
    return calls


def test_header_cell_links_colab_from_settings(monkeypatch):
    """Does the header's Colab badge point at labs/<lab>.ipynb of the configured repository and branch?"""
    monkeypatch.setattr(settings, "REPOSITORY", "someone/fork")
    monkeypatch.setattr(settings, "BRANCH", "dev")
    text = header_cell("01_rnn").source
    assert "https://colab.research.google.com/github/someone/fork/blob/dev/labs/01_rnn.ipynb" in text
    assert "solutions/01_rnn.ipynb" in text and "do not edit" in text


def test_setup_cell_installs_only_on_colab(monkeypatch, capsys):
    """Does the setup cell pip-install seqlab from the repository on Colab only, saying so either way?"""
    assert run_setup_cell(monkeypatch, on_colab=False) == []
    assert "Not on Colab" in capsys.readouterr().out
    [(magic, line)] = run_setup_cell(monkeypatch, on_colab=True)
    assert magic == "pip" and f"git+https://github.com/{settings.REPOSITORY}@{settings.BRANCH}" in line
    assert "seqlab installed" in capsys.readouterr().out


def test_released_notebook_has_header_setup_and_no_answers(tiny_repo, tmp_path):
    """Is the student notebook header, setup cell, then the lab, with solutions and hidden tests gone?"""
    nb = nbformat.read(str(release(TINY_LAB, tmp_path, repo=tiny_repo, skip=NO_RECORD)), as_version=4)
    assert [c.id for c in nb.cells[:3]] == ["seqlab-header", "seqlab-colab-setup", "intro"]
    text = "\n".join(c.source for c in nb.cells)
    assert "NotImplementedError" in text and "return a + b" not in text
    assert HIDDEN_MARK not in text and "BEGIN HIDDEN" not in text


def test_release_is_byte_for_byte_deterministic(tiny_repo, tmp_path):
    """Does releasing the same source twice give identical bytes?"""
    one = release(TINY_LAB, tmp_path / "a", repo=tiny_repo, skip=NO_RECORD).read_bytes()
    two = release(TINY_LAB, tmp_path / "b", repo=tiny_repo, skip=NO_RECORD).read_bytes()
    assert one == two


def test_release_records_reference_outside_release(graded):
    """Are the hidden tests' reference outputs recorded in reference/, not in the released folder?"""
    store = reference_store(graded.course, TINY_LAB)
    assert set(pickle.loads(store.read_bytes())) == {"tiny/add/arrays", "tiny/scale/neg"}
    assert not list(release_notebook(graded.course, TINY_LAB).parent.glob("*.pkl"))


def test_failing_reference_names_the_cell(tmp_path):
    """Does a reference notebook that raises make release fail, naming the cell?"""
    nb = tiny_lab()
    nb.cells[4].source = nb.cells[4].source.replace("return np.asarray(x) * k", "return undefined_name")
    repo = write_tiny_repo(tmp_path / "repo")
    nbformat.write(nb, str(repo / "solutions" / f"{TINY_LAB}.ipynb"))
    with pytest.raises(GradingError, match=r"'test_scale'.*NameError"):
        release(TINY_LAB, tmp_path / "course", repo=repo, cell_timeout=60)


def test_unknown_lab_says_what_exists(tiny_repo, tmp_path):
    """Does releasing a missing lab say which file is missing and which labs exist?"""
    with pytest.raises(GradingError, match=r"solutions/99_nope.ipynb not found.*00_tiny"):
        release("99_nope", tmp_path, repo=tiny_repo)


def test_sync_labs_writes_then_checks(tmp_path):
    """Does sync_labs write labs/, pass its check afterwards, and fail the check after a hand edit?"""
    repo = write_tiny_repo(tmp_path)
    assert sync_labs(repo) == [repo / "labs" / f"{TINY_LAB}.ipynb"]
    assert sync_labs(repo, check=True) == []
    lab = repo / "labs" / f"{TINY_LAB}.ipynb"
    lab.write_text(lab.read_text().replace("Tiny lab", "Tiny lab (edited)"))
    (repo / "labs" / "07_orphan.ipynb").write_text("{}")
    with pytest.raises(GradingError, match=r"00_tiny.ipynb differs(.|\n)*07_orphan.ipynb has no solutions"):
        sync_labs(repo, check=True)


@pytest.mark.skipif(not list((REPO / "solutions").glob("*.ipynb")), reason="no lab in solutions/ yet")
def test_committed_labs_match_solutions():
    """Is every committed labs/ notebook exactly what regenerating it from solutions/ gives?"""
    sync_labs(REPO, check=True)


def test_a_grade_cell_without_a_recorded_case_fails_the_labs_check(tmp_path):
    """Does `labs --check` refuse a grade cell whose score would rest on the kernel's word alone?"""
    from autograder.release import check_source
    repo = write_tiny_repo(tmp_path)
    path = repo / "solutions" / f"{TINY_LAB}.ipynb"
    assert check_source(path) == []
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "test_scale")
    cell.source = cell.source.replace("matches_reference('tiny/scale/neg', ", "print(")
    nbformat.write(nb, str(path))
    assert "grade cell 'test_scale' has no hidden case" in " ".join(check_source(path))
    with pytest.raises(GradingError, match="has no hidden case"):
        sync_labs(repo, check=True)


def test_the_reference_must_keep_its_own_rules(tmp_path):
    """Does a reference that uses what its part forbids stop the labs check?"""
    from autograder.release import check_source
    repo = write_tiny_repo(tmp_path)
    path = repo / "solutions" / f"{TINY_LAB}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "scale")
    cell.source = cell.source.replace("np.asarray(x) * k", "np.multiply(x, k)")
    nbformat.write(nb, str(path))
    assert "the reference breaks its own rule in test_scale" in " ".join(check_source(path))


def test_points_stated_in_the_text_must_match_the_grade_cells():
    """Does `labs --check` name a part whose heading, points-table row and total still say 3 points
    after its grade cell was changed to 4, and a table row that names the wrong function?"""
    from autograder.release import check_points
    nb = nbformat.read(str(REPO / "solutions" / "01_rnn.ipynb"), as_version=4)
    assert check_points(nb.cells, "01_rnn") == []
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "rnn_forward"
                and c.cell_type == "code" and c.metadata.nbgrader.get("grade"))
    cell.metadata.nbgrader.points = 4
    problems = " | ".join(check_points(nb.cells, "01_rnn"))
    assert "Part 3's heading says 3 points, its grade cell 'rnn_forward' gives 4" in problems
    assert "the points table gives rnn_forward 3 points, its grade cell 4" in problems
    assert re.search(r"the points table's total is (\d+), the grade cells add up to (\d+)", problems)
    stated, added = map(int, re.search(r"total is (\d+), the grade cells add up to (\d+)", problems).groups())
    assert added == stated + 1
    cell.metadata.nbgrader.points = 3
    nb.cells[0].source = nb.cells[0].source.replace("| 3 | `rnn_forward` |", "| 3 | `rnn_backward` |")
    assert "row 3 of the points table names `rnn_backward`" in " | ".join(check_points(nb.cells, "01_rnn"))


def test_a_lab_that_states_no_points_is_not_held_to_a_table(tmp_path):
    """Is a notebook without part headings or a points table (the tiny lab) left alone?"""
    from autograder.release import check_points
    repo = write_tiny_repo(tmp_path)
    nb = nbformat.read(str(repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    assert check_points(nb.cells, TINY_LAB) == []
