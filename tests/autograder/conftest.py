"""Shared fixtures: one tiny lab, graded once per test session (a few kernel start-ups)."""
from __future__ import annotations

import nbformat
import pytest

from autograder import grade, pipeline, report
from autograder.collect import collect
from autograder.course import release_notebook
from autograder.demo import run_demo
from autograder.release import write_notebook
from autograder.submissions import fill_solutions
from labfactory import SNEAKY_ADD, TINY_BUG, TINY_LAB, write_tiny_repo



@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory):
    """A repository holding only solutions/00_tiny.ipynb and an empty labs/."""
    return write_tiny_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def graded(tiny_repo, tmp_path_factory):
    """The demo run on the tiny lab, plus a 'sneaky' student graded and given feedback after it."""
    lines = []
    demo = run_demo(tmp_path_factory.mktemp("course"), repo=tiny_repo, lab=TINY_LAB, bug=TINY_BUG,
                    cell_timeout=60, echo=lines.append)
    released = nbformat.read(str(release_notebook(demo.course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    inbox = tmp_path_factory.mktemp("inbox")
    write_notebook(fill_solutions(released, source, {"add": SNEAKY_ADD}), inbox / "sneaky" / f"{TINY_LAB}.ipynb")
    pipeline.autograde(demo.course, TINY_LAB, collect(inbox, demo.course, TINY_LAB).collected, progress=False)
    report.feedback_pages(demo.course, TINY_LAB, "sneaky")
    demo.echoed = "\n".join(lines)
    demo.table = grade.score_table(demo.course, TINY_LAB)
    return demo
