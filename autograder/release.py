"""Release a lab: the student notebook, the Colab extras, and the grader-only reference outputs.

``release(lab, course)`` runs the steps in ``RELEASE_STEPS`` on ``solutions/<lab>.ipynb``:
nbgrader's ``generate_assignment`` makes the student version (solutions replaced by
``YOUR CODE HERE``, hidden tests removed, cells locked, grade cells saved in the gradebook),
then our steps add a header cell with the "Open in Colab" badge and a setup cell that installs
seqlab on Colab, and finally the reference solution is run once to record the outputs the
hidden tests compare against (see ``seqlab.grading``).

``sync_labs`` regenerates the committed ``labs/`` from ``solutions/`` with the same steps (minus
the recording), byte for byte, so a test can tell when ``labs/`` has drifted.
The repository address in the badge and setup cell comes only from ``autograder.settings``.
"""
from __future__ import annotations

import ast
import json
import os
import pickle
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import nbformat

from . import settings
from .course import (DEFAULT_CELL_TIMEOUT, KERNEL_ARGUMENTS, GradingError, check, find_repo,
                     grading_template, hidden_cases, nbgrader_env, open_api, reference_store,
                     release_notebook, source_notebook)
from .rules import is_grade_cell

HEADER_ID = "seqlab-header"
SETUP_ID = "seqlab-colab-setup"


@dataclass
class Release:
    """What the release steps share: which lab, from which repository, into which course."""

    lab: str
    course: Path
    repo: Path
    cell_timeout: int = DEFAULT_CELL_TIMEOUT


# --- the student notebook's extra cells (pure) ----------------------------------------------

def colab_url(lab: str) -> str:
    return (f"https://colab.research.google.com/github/{settings.REPOSITORY}/blob/"
            f"{settings.BRANCH}/labs/{lab}.ipynb")


def header_cell(lab: str) -> nbformat.NotebookNode:
    """The markdown cell that opens every generated lab: provenance and the Colab badge."""
    text = (f"*Generated from `solutions/{lab}.ipynb` by `seqlab-grade release`; do not edit this "
            "file (instructors: edit the source and run `seqlab-grade labs`).*\n\n"
            f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(lab)})")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = HEADER_ID
    return cell


def setup_cell() -> nbformat.NotebookNode:
    """The code cell that installs seqlab when (and only when) the notebook runs on Colab."""
    repo, branch = settings.REPOSITORY, settings.BRANCH
    code = ("# Setup: on Colab, install the seqlab helper package; elsewhere it is already installed.\n"
            "import sys\n\n"
            'if "google.colab" in sys.modules:\n'
            f'    %pip install -q "seqlab @ git+https://github.com/{repo}@{branch}"\n'
            f'    print("seqlab installed from github.com/{repo} ({branch}).")\n'
            "else:\n"
            '    print("Not on Colab: using the seqlab installed in this Python environment.")')
    cell = nbformat.v4.new_code_cell(code)
    cell.id = SETUP_ID
    return cell


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` the same way every time (sorted keys, one-space indent, final newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((nbformat.writes(nb, version=4).rstrip("\n") + "\n").encode("utf-8"))


def _edit(path: Path, change: Callable[[nbformat.NotebookNode], None]) -> None:
    nb = nbformat.read(str(path), as_version=4)
    change(nb)
    write_notebook(nb, path)


# --- the steps ------------------------------------------------------------------------------

def copy_source(r: Release) -> None:
    """solutions/<lab>.ipynb -> <course>/source/<lab>/<lab>.ipynb (nbgrader's layout)."""
    src = source_notebook(r.repo, r.lab)
    dest = r.course / "source" / r.lab / f"{r.lab}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def add_diagrams(r: Release) -> None:
    """The lab's diagrams (``diagrams.py``) into the source copy, before nbgrader makes the student
    version, so that its gradebook knows them as locked cells. A diagram whose drawing code is
    unchanged keeps the PNG committed in ``labs/<lab>.ipynb``; only a new or edited one is drawn."""
    from .diagrams import DIAGRAMS, place_diagrams
    if not any(d.lab == r.lab for d in DIAGRAMS.values()):
        return
    path = r.course / "source" / r.lab / f"{r.lab}.ipynb"
    committed = r.repo / "labs" / f"{r.lab}.ipynb"
    reuse = nbformat.read(str(committed), as_version=4) if committed.exists() else None
    nb = nbformat.read(str(path), as_version=4)
    place_diagrams(nb, r.lab, reuse=reuse)
    write_notebook(nb, path)


def generate_assignment(r: Release) -> None:
    """nbgrader generate_assignment: the student version in release/, cells in the gradebook."""
    with nbgrader_env():
        result = open_api(r.course).generate_assignment(r.lab, force=True, create=True)
    check(result, f"nbgrader generate_assignment for {r.lab}",
          f"check the nbgrader metadata and BEGIN/END markers in solutions/{r.lab}.ipynb")


def add_header(r: Release) -> None:
    """Put the provenance + Colab badge cell first."""
    _edit(release_notebook(r.course, r.lab), lambda nb: nb.cells.insert(0, header_cell(r.lab)))


def add_colab_setup(r: Release) -> None:
    """Put the Colab setup cell right after the header, before the lab's own first cell."""
    _edit(release_notebook(r.course, r.lab), lambda nb: nb.cells.insert(1, setup_cell()))


def save_template(r: Release) -> None:
    """The grading template: the student notebook with its test cells' hidden tests put back.

    Repair rebuilds every submission on it (locked and test cells restored from here), so the
    submission a sandbox runs has the hidden tests without any reference code.
    """
    from .repair import with_hidden_tests
    released = nbformat.read(str(release_notebook(r.course, r.lab)), as_version=4)
    source = nbformat.read(str(source_notebook(r.repo, r.lab)), as_version=4)
    write_notebook(with_hidden_tests(released, source), grading_template(r.course, r.lab))


def record_reference(r: Release) -> None:
    """Run the source notebook once, recording what its hidden tests compare against, and which
    grade cell asked for each recorded case (``reference/<lab>.cases.json``)."""
    from seqlab.grading import tolerances_path
    store = reference_store(r.course, r.lab)
    store.unlink(missing_ok=True)
    tolerances_path(store).unlink(missing_ok=True)
    cases = run_recording(r.course / "source" / r.lab, f"{r.lab}.ipynb", store, r.cell_timeout)
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_bytes(pickle.dumps({}))  # a lab without hidden reference cases
    source = nbformat.read(str(r.course / "source" / r.lab / f"{r.lab}.ipynb"), as_version=4)
    unrecorded = [_grade_id(c) for c in source.cells if is_grade_cell(c) and not cases.get(_grade_id(c))]
    if unrecorded:
        raise GradingError(f"grade cells of {r.lab} recorded no hidden case: {unrecorded}. Every graded "
                           "function needs matches_reference or matches_distribution calls in its hidden tests")
    hidden_cases(r.course, r.lab).write_text(json.dumps(cases, indent=1, sort_keys=True) + "\n")


def _grade_id(cell: nbformat.NotebookNode) -> Optional[str]:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


# Ordering: copy_source feeds add_diagrams, which feeds generate_assignment; the two cell inserts edit its output (header
# first, setup at index 1); save_template copies the finished student notebook; record_reference
# only needs copy_source and runs last (slowest).
RELEASE_STEPS: List[Tuple[str, Callable[[Release], None]]] = [
    ("copy_source", copy_source),
    ("add_diagrams", add_diagrams),
    ("generate_assignment", generate_assignment),
    ("add_header", add_header),
    ("add_colab_setup", add_colab_setup),
    ("save_template", save_template),
    ("record_reference", record_reference),
]


def release(lab: str, course: os.PathLike, *, repo: Optional[os.PathLike] = None,
            skip: Iterable[str] = (), cell_timeout: int = DEFAULT_CELL_TIMEOUT) -> Path:
    """Release ``lab`` into ``course``; returns the student notebook's path.

    ``skip`` names steps to leave out (``sync_labs`` skips ``record_reference``).
    """
    skip = set(skip)
    unknown = skip - {name for name, _ in RELEASE_STEPS}
    if unknown:
        raise GradingError(f"unknown release steps {sorted(unknown)}: known are {[n for n, _ in RELEASE_STEPS]}")
    r = Release(lab=lab, course=Path(course).resolve(), repo=find_repo(repo), cell_timeout=cell_timeout)
    for name, step in RELEASE_STEPS:
        if name not in skip:
            step(r)
    return release_notebook(r.course, lab)


# --- running the reference ------------------------------------------------------------------

def run_recording(folder: Path, notebook: str, store: Path, timeout: int) -> Dict[str, List[str]]:
    """Execute ``folder/notebook`` in a temporary copy of ``folder``, in record mode; returns
    grade id -> the hidden cases that grade cell recorded."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    env = dict(os.environ, SEQLAB_REFERENCE_STORE=str(store.resolve()),
               SEQLAB_REFERENCE_MODE="record", NBGRADER_EXECUTION="autograde")
    with tempfile.TemporaryDirectory(prefix="seqlab-record-") as tmp, nbgrader_env():
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
        nb = nbformat.read(os.path.join(tmp, notebook), as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                extra_arguments=list(KERNEL_ARGUMENTS), resources={"metadata": {"path": tmp}})
        cases: Dict[str, List[str]] = {}
        seen: List[str] = []

        def note_cases(cell, cell_index, execute_reply) -> None:
            keys = list(pickle.loads(store.read_bytes())) if store.exists() else []
            new = [k for k in keys if k not in seen]
            seen.extend(new)
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if new and meta.get("grade"):
                cases.setdefault(meta["grade_id"], []).extend(new)

        client.on_cell_executed = note_cases
        try:
            client.execute(env=env)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
            raise GradingError(f"the reference solution {notebook} failed while recording its outputs, "
                               f"{_failed_cell(nb)}: {last}\nfix solutions/{notebook} (it must run top to "
                               "bottom with NBGRADER_EXECUTION=autograde) and release again") from None
    return cases


def _failed_cell(nb: nbformat.NotebookNode) -> str:
    for index, cell in enumerate(nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id", "?")
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return f"in cell {index} ({name!r}, starting {first[:60]!r})"
    return "in a cell that did not finish (timeout or dead kernel)"


# --- labs/ ----------------------------------------------------------------------------------

# Calls in a grade cell's hidden tests that record a case the grader compares outside the kernel.
RECORDING_CALLS = ("matches_reference", "matches_distribution")


def check_source(path: Path) -> List[str]:
    """What an instructor must fix in a source notebook before it can be graded: a grade cell whose
    hidden tests record no case (its score would rest on the kernel's word), an unreadable
    ``check_rules`` declaration, or a reference that breaks its own rules."""
    from .preprocessors import BEGIN_HIDDEN, END_HIDDEN
    from .rules import check_declarations

    nb = nbformat.read(str(path), as_version=4)
    problems = []
    for cell in nb.cells:
        if not is_grade_cell(cell):
            continue
        source = cell.source
        hidden = source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0] if BEGIN_HIDDEN in source else ""
        try:
            calls = {n.func.id for n in ast.walk(ast.parse(textwrap.dedent(hidden)))
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        except SyntaxError:
            calls = set()
        if not calls & set(RECORDING_CALLS):
            problems.append(f"{path.stem}: grade cell {_grade_id(cell)!r} has no hidden case (call "
                            f"{' or '.join(RECORDING_CALLS)} in its hidden tests)")
    return problems + check_declarations(nb.cells, path.stem) + check_points(nb.cells, path.stem)


# A part's heading, "## Part 3. Forward over a whole sequence (3 points)", and a row of the intro's
# points table, "| 3 | `rnn_forward` | 3 |" ("| Q1 | `q_forget_bias` | 2 |" for a question), with its
# total row "| | **total** | **25** |". A question's grade id starts with QUESTION.
PART_HEADING = re.compile(r"^#+\s*Part\s+(\d+)\b.*\((\d+(?:\.\d+)?)\s+points?\)\s*$", re.MULTILINE)
TABLE_ROW = re.compile(r"^\|\s*(Q?\d+)\s*\|(.*)\|\s*\**(\d+(?:\.\d+)?)\**\s*\|\s*$", re.MULTILINE)
TOTAL_ROW = re.compile(r"^\|\s*\|\s*\**total\**\s*\|\s*\**(\d+(?:\.\d+)?)\**\s*\|\s*$", re.MULTILINE | re.IGNORECASE)
QUESTION = "q_"


def check_points(cells, lab: str) -> List[str]:
    """Where the points a lab states disagree with its grade cells' points: a part heading ("(3 points)")
    with the part's grade cell that follows it (questions, ids starting with "q_", have no heading),
    the intro's points table (one row per grade cell, questions and written answers included, in
    order, naming its id) and its total. A lab that states no points anywhere is not checked."""
    from .written import is_written
    graded = [(i, _grade_id(c), float(c.metadata.nbgrader.get("points", 0))) for i, c in enumerate(cells)
              if is_grade_cell(c) or is_written(c)]
    parts = [g for g in graded if not g[1].startswith(QUESTION)]
    markdown = [(i, c.source) for i, c in enumerate(cells) if c.cell_type == "markdown"]
    headings = [(i, int(m.group(1)), float(m.group(2))) for i, text in markdown for m in PART_HEADING.finditer(text)]
    intro = next((text for _, text in markdown if TOTAL_ROW.search(text)), "")
    if not headings and not intro:
        return []
    problems = []
    number = lambda x: f"{x:g}"
    for i, part, points in headings:
        following = next(((gid, p) for j, gid, p in parts if j > i), None)
        if following is None:
            problems.append(f"{lab}: Part {part}'s heading says {number(points)} points, but no grade cell follows it")
        elif following[1] != points:
            problems.append(f"{lab}: Part {part}'s heading says {number(points)} points, its grade cell "
                            f"{following[0]!r} gives {number(following[1])}")
    if len(headings) != len(parts):
        problems.append(f"{lab}: {len(headings)} part headings state points, for {len(parts)} graded parts")
    rows = [(m.group(1), m.group(2), float(m.group(3))) for m in TABLE_ROW.finditer(intro)]
    if not rows:
        problems.append(f"{lab}: the intro has no points table (| part | function | points |, and a total row)")
        return problems
    for row, ((part, names, points), (_, gid, given)) in enumerate(zip(rows, graded), 1):
        if f"`{gid}`" not in names:
            problems.append(f"{lab}: row {part} of the points table names {names.strip()}, but grade cell {row} is {gid!r}")
        elif points != given:
            problems.append(f"{lab}: the points table gives {gid} {number(points)} points, its grade cell {number(given)}")
    if len(rows) != len(graded):
        problems.append(f"{lab}: the points table has {len(rows)} rows, for {len(graded)} grade cells")
    total, stated = sum(p for _, _, p in graded), float(TOTAL_ROW.search(intro).group(1))
    if stated != total:
        problems.append(f"{lab}: the points table's total is {number(stated)}, the grade cells add up to {number(total)}")
    return problems


def sync_labs(repo: Optional[os.PathLike] = None, labs: Optional[Sequence[str]] = None,
              check: bool = False) -> List[Path]:
    """Regenerate ``labs/<lab>.ipynb`` from ``solutions/``; returns the files that differed.

    With ``check=True`` nothing is written and a ``GradingError`` lists every stale, missing or
    orphaned file (the test of ``labs/``).
    """
    repo = find_repo(repo)
    names = list(labs) if labs else sorted(p.stem for p in (repo / "solutions").glob("*.ipynb"))
    stale: List[Path] = []
    for lab in names:
        with tempfile.TemporaryDirectory(prefix="seqlab-labs-") as tmp:
            fresh = release(lab, tmp, repo=repo, skip=["record_reference"]).read_bytes()
        target = repo / "labs" / f"{lab}.ipynb"
        if target.exists() and target.read_bytes() == fresh:
            continue
        stale.append(target)
        if not check:
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(fresh)
    orphans = [] if labs else sorted(p for p in (repo / "labs").glob("*.ipynb")
                                     if not (repo / "solutions" / p.name).exists())
    unsound = [line for lab in names for line in check_source(repo / "solutions" / f"{lab}.ipynb")]
    if unsound:
        raise GradingError("solutions/ breaks the grading rules:\n  " + "\n  ".join(unsound))
    if check and (stale or orphans):
        lines = [f"labs/{p.name} differs from what solutions/{p.name} generates" for p in stale]
        lines += [f"labs/{p.name} has no solutions/{p.name}: delete it" for p in orphans]
        raise GradingError("labs/ is out of date:\n  " + "\n  ".join(lines) +
                           "\nrun `seqlab-grade labs` and commit labs/ (never edit labs/ by hand)")
    return stale
