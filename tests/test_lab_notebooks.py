"""Do the notebooks run as students and the autograder run them, in a real kernel?"""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
LABS = sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb"))


def execute(path: Path, cwd: Path, monkeypatch, allow_errors: bool) -> nbformat.NotebookNode:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the reduced training budget
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def errors(nb) -> list[tuple[int, str, str]]:
    return [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def stopped_by_missing_code(nb, found) -> tuple[list[int], list]:
    """Split errors into cells stopped by missing student code and the rest.

    A cell is stopped by missing code if it raised NotImplementedError, or a NameError for a
    name that an earlier such cell should have set (a knock-on effect, followed down the chain):
    one that binds it, or the answer cell ``<name>_code`` of a multiple-choice question.
    """
    stopped, others = [], []
    for index, name, value in found:
        match = re.search(r"name '(\w+)' is not defined", value) if name == "NameError" else None
        knock_on = bool(match) and any(
            re.search(rf"^\s*{match[1]}\b[^=]*=", "".join(nb.cells[j].source), re.MULTILINE)
            or nb.cells[j].metadata.get("nbgrader", {}).get("grade_id") == f"{match[1]}_code"   # a question's answer
            for j in stopped)
        if name == "NotImplementedError" or knock_on:
            stopped.append(index)
        else:
            others.append((index, name, value))
    return stopped, others


@pytest.mark.parametrize("lab", LABS)
def test_reference_runs_top_to_bottom(lab, tmp_path, monkeypatch):
    """Does the reference notebook run every cell without an error, from an empty folder?"""
    execute(REPO / "solutions" / f"{lab}.ipynb", tmp_path, monkeypatch, allow_errors=False)


@pytest.mark.parametrize("lab", LABS)
def test_student_notebook_fails_only_where_code_is_missing(lab, tmp_path, monkeypatch):
    """Does the untouched student notebook set up cleanly, every error being NotImplementedError?"""
    nb = execute(REPO / "labs" / f"{lab}.ipynb", tmp_path, monkeypatch, allow_errors=True)
    found = errors(nb)
    assert found, "the blank notebook raised nothing: are the exercises really blank?"
    stopped, others = stopped_by_missing_code(nb, found)
    assert stopped, f"no cell stopped at missing student code: {found}"
    assert not others, f"cells failing for another reason than missing student code: {others}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not errors(nbformat.v4.new_notebook(cells=code[:2])), "the setup cells must run"
