"""Tiny synthetic nbgrader labs for the autograder tests: built in code, fast to grade.

A lab here has the shape of a real one (setup cell, solution cells, visible tests, hidden tests
that call ``seqlab.grading.matches_reference``) but its "training" is instant, so a whole
release → autograde → feedback round trip costs a few kernel start-ups.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.submissions import Bug

TINY_LAB = "00_tiny"
# The demo's bug on the tiny lab: caught by add's visible test.
TINY_BUG = Bug("add", "a + b", "a - b", what="subtracts instead of adding")
# A student whose add passes the visible test (scalars) but not the hidden one (arrays).
SNEAKY_ADD = "def add(a, b):\n    return a + b if np.ndim(a) == 0 else a * b"

# Text that appears only inside hidden test source: a feedback page must never show it.
HIDDEN_MARK = "secret_hidden_input"


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def solution_cell(grade_id: str, code: str) -> nbformat.NotebookNode:
    cell = new_code_cell(code, metadata=_meta(grade_id, solution=True))
    cell.id = grade_id
    return cell


def grade_cell(grade_id: str, code: str, points: float) -> nbformat.NotebookNode:
    cell = new_code_cell(code, metadata=_meta(grade_id, grade=True, locked=True, points=points))
    cell.id = grade_id
    return cell


def plain_cell(cell_id: str, code: str, markdown: bool = False) -> nbformat.NotebookNode:
    cell = new_markdown_cell(code) if markdown else new_code_cell(code)
    cell.id = cell_id
    return cell


def tiny_lab() -> nbformat.NotebookNode:
    """Two graded functions, ``add`` (2 points, with an oracle ``_test_add_oracle`` in its test) and
    ``scale`` (1 point, which may not use ``np.multiply``); the ``scale`` test warns."""
    cells = [
        plain_cell("intro", "# Tiny lab\nAdd and scale arrays.", markdown=True),
        plain_cell("setup", "import sys\nimport warnings\nimport numpy as np\n"
                            "from seqlab import check_choice, check_close, check_rules\n"
                            "from seqlab.grading import matches_reference"),
        solution_cell("add", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n"
                             "    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"),
        grade_cell("test_add", "def _test_add_oracle(a, b):\n    return np.add(a, b)\n\n\n"
                              "check_rules(add)\n"
                              "assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
                              "### BEGIN HIDDEN TESTS\n"
                              f"{HIDDEN_MARK} = np.arange(3.0)\n"
                              f"_out = add({HIDDEN_MARK}, np.ones(3))\n"
                              "matches_reference('tiny/add/arrays', _out)\n"
                              f"_ = check_close('add', _out, _test_add_oracle({HIDDEN_MARK}, np.ones(3)))\n"
                              "### END HIDDEN TESTS", points=2),
        solution_cell("scale", "def scale(x, k):\n    \"\"\"Return x times k.\"\"\"\n"
                               "    ### BEGIN SOLUTION\n    return np.asarray(x) * k\n"
                               "    ### END SOLUTION"),
        grade_cell("test_scale", "check_rules(scale, forbid=('numpy.multiply',))\n"
                                "warnings.warn('a library is noisy', UserWarning)\n"
                                "print('progress...', file=sys.stderr)\n"
                                "assert np.allclose(scale([1.0, 2.0], 2), [2.0, 4.0])\n"
                                "### BEGIN HIDDEN TESTS\n"
                                "matches_reference('tiny/scale/neg', scale(np.arange(4.0), -0.5))\n"
                                "### END HIDDEN TESTS", points=1),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# Text that appears only in a written question's model answer and rubric: no student may see it.
RUBRIC_MARK = "rubric_only_phrase"


def written_answer_cell(grade_id: str, text: str, points: float) -> nbformat.NotebookNode:
    """A written answer: a markdown cell a TA grades by hand (nbgrader grade + solution)."""
    meta = _meta(grade_id, grade=True, solution=True, points=points)
    cell = new_markdown_cell(text, metadata=meta)
    cell.id = grade_id
    return cell


def tiny_lab_with_question() -> nbformat.NotebookNode:
    """The tiny lab, a multiple-choice question ``q_pick`` (1 point, answer "b") and a written
    question ``why_scale`` (2 points), after the scale test."""
    nb = tiny_lab()
    nb.cells += [
        plain_cell("q_pick_md", "**Question (1 point).** `scale([1, 2], 2)` returns (a) `[1, 2]` (b) `[2, 4]` "
                                "(c) `[1, 4]`.", markdown=True),
        solution_cell("q_pick", "### BEGIN SOLUTION\nq_pick = \"b\"\n### END SOLUTION"),
        grade_cell("test_q_pick", "_ = check_choice('q_pick', q_pick, 'abc')\n"
                                  "### BEGIN HIDDEN TESTS\n"
                                  "matches_reference('q_pick', check_choice('q_pick', q_pick, 'abc'))\n"
                                  "### END HIDDEN TESTS", points=1),
        plain_cell("why_scale_md", "**Question (2 points).** Why does `scale` not need a loop?", markdown=True),
        written_answer_cell("why_scale", "### BEGIN SOLUTION\n**Model answer.** numpy broadcasts the "
                                         f"scalar over the array ({RUBRIC_MARK}).\n\n**Rubric.**\n"
                                         "- 1 point: names broadcasting;\n- 1 point: says the loop runs in "
                                         "numpy's compiled code.\n### END SOLUTION", points=2),
    ]
    return nb


def write_tiny_repo(root: Path, lab: str = TINY_LAB, nb: nbformat.NotebookNode | None = None) -> Path:
    """Write a repository skeleton holding ``solutions/<lab>.ipynb`` (the tiny lab, or ``nb``) and an empty ``labs/``."""
    (root / "solutions").mkdir(parents=True, exist_ok=True)
    (root / "labs").mkdir(exist_ok=True)
    nbformat.write(nb if nb is not None else tiny_lab(), str(root / "solutions" / f"{lab}.ipynb"))
    return root


def written_course(root: Path, answers: dict, lab: str = "00_written") -> Path:
    """A course with ``tiny_lab_with_question`` released as ``lab`` and one submission per student,
    ``answers``: student -> solution overrides (grade id -> cell text), all autograded."""
    from autograder import pipeline
    from autograder.course import release_notebook, source_notebook
    from autograder.release import release, write_notebook
    from autograder.sandbox import Limits
    from autograder.submissions import fill_solutions

    repo = write_tiny_repo(root / "repo", lab, tiny_lab_with_question())
    course = root / "course"
    release(lab, course, repo=repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, lab)), as_version=4)
    source = nbformat.read(str(source_notebook(repo, lab)), as_version=4)
    for student, overrides in answers.items():
        write_notebook(fill_solutions(released, source, overrides), course / "submitted" / student / lab / f"{lab}.ipynb")
    pipeline.autograde(course, lab, workers=1, progress=False, limits=Limits(cell_seconds=60, notebook_seconds=300))
    return course
