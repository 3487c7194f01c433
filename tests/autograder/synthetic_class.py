"""A class of submissions for the similarity tests, built from the mutation suite: no kernel runs.

Each independent student answers every solution cell of a lab with one correct implementation:
the reference (``solutions/``) or a correct mutant (``tests/mutants_<lab>.py``, ``wrong=False``).
Mutants are often written as small edits of one another, so the implementations of each function
are first grouped into *families* (raw-text ``difflib`` ratio of at least ``FAMILY_RATIO``, a
measure the similarity code does not use), and students are chosen so that any two share the
family of at most ``MAX_SHARED`` functions: the share of code two honest students of a real class
might write alike. A *copy* is another student's submission disguised as a copier would:
identifiers renamed, top-level functions of each cell in reverse order, comments replaced,
layout changed (``ast.unparse``: other parentheses, quotes, blank lines).
"""
from __future__ import annotations

import ast
import builtins
import difflib
import importlib
import itertools
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional

import nbformat

from autograder.release import write_notebook
from autograder.submissions import fill_solutions, solution_cells, solution_code

REPO = Path(__file__).resolve().parents[2]
FAMILY_RATIO = 0.6
MAX_SHARED = 2
COPY = "copy_of_"
KEPT_NAMES = {"self", "cls", "np", "torch", "nn", "F", "math"}

Answers = Dict[str, str]   # solution cell grade id -> the cell's code


def implementations(lab: str) -> Dict[str, List[str]]:
    """Solution code cell -> correct implementations (the reference first), one per family."""
    sys.path.insert(0, str(REPO / "tests"))
    mutants = importlib.import_module(f"mutants_{lab}").MUTANTS
    source = nbformat.read(str(REPO / "solutions" / f"{lab}.ipynb"), as_version=4)
    pools = {gid: [solution_code(cell)] for gid, cell in solution_cells(source).items() if cell.cell_type == "code"}
    for mutant in (m for m in mutants if not m.wrong):
        for gid, code in mutant.overrides.items():
            pools[gid].append(code)
    return {gid: _families(codes) for gid, codes in pools.items()}


def _families(codes: List[str]) -> List[str]:
    kept: List[str] = []
    for code in codes:
        if all(difflib.SequenceMatcher(None, code, other, autojunk=False).ratio() < FAMILY_RATIO for other in kept):
            kept.append(code)
    return kept


def independent_students(lab: str) -> Dict[str, Answers]:
    """Students whose answers share the family of at most ``MAX_SHARED`` functions, pair by pair
    (first fit over every combination, in order: deterministic)."""
    pools = implementations(lab)
    varied = [gid for gid, codes in pools.items() if len(codes) > 1]
    chosen: List[tuple] = []
    for combo in itertools.product(*(range(len(pools[gid])) for gid in varied)):
        if all(sum(x == y for x, y in zip(combo, other)) <= MAX_SHARED for other in chosen):
            chosen.append(combo)
    students = {}
    for i, combo in enumerate(chosen):
        answers = {gid: codes[0] for gid, codes in pools.items()}
        answers.update({gid: pools[gid][x] for gid, x in zip(varied, combo)})
        students[f"s{i:02d}"] = answers
    return students


class _Rename(ast.NodeTransformer):
    """Every name the code binds or reads, but builtins, dunders and ``kept``, renamed consistently."""

    def __init__(self, kept: set):
        self.kept, self.names = kept, {}

    def new(self, name: str) -> str:
        if name in self.kept or hasattr(builtins, name) or name.startswith("__"):
            return name
        n = len(self.names)
        return self.names.setdefault(name, f"{'zyxwvutsrq'[n % 10]}{name[::-1].strip('_')}{n}")

    def visit_Name(self, node):
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.new(node.arg)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.new(node.name)
        self.generic_visit(node)
        return node

    visit_ClassDef = visit_FunctionDef


def disguise(code: str, kept: set, seed: int) -> str:
    """``code`` renamed, its top-level functions and classes in reverse order, comments replaced and
    the layout changed."""
    rng = random.Random(seed)
    tree = ast.parse(code)
    _Rename(kept).visit(tree)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    tree.body = [n for n in tree.body if n not in defs] + defs[::-1]
    out, quotes = [], 0          # quotes: triple quotes so far (odd: inside a docstring)
    for line in ast.unparse(tree).split("\n"):
        indent = line[:len(line) - len(line.lstrip())]
        code = quotes % 2 == 0 and line.count('"""') == 0
        quotes += line.count('"""')
        if code and rng.random() < 0.3:
            out.append(f"{indent}# step {rng.randint(1, 99)}: as in the lecture")
        out.append(line + ("  # checked" if code and rng.random() < 0.2 else ""))
        if line.lstrip().startswith(("def ", "class ")) and rng.random() < 0.5:
            out.append("")
    return "\n".join(out) + "\n"


def with_copies(lab: str, students: Dict[str, Answers], originals: List[str]) -> Dict[str, Answers]:
    """``students`` plus a disguised copy of each of ``originals`` (``copy_of_<original>``)."""
    kept = KEPT_NAMES | {gid[:-len("_code")] for gid in next(iter(students.values()))}
    out = dict(students)
    for n, original in enumerate(originals):
        out[COPY + original] = {gid: disguise(code, kept, seed=100 * n + j)
                                for j, (gid, code) in enumerate(students[original].items())}
    return out


def is_copy_pair(a: str, b: str) -> bool:
    return a == COPY + b or b == COPY + a


def released(lab: str) -> nbformat.NotebookNode:
    return nbformat.read(str(REPO / "labs" / f"{lab}.ipynb"), as_version=4)


def write_class(course: Path, lab: str, students: Dict[str, Answers],
                written: Optional[Dict[str, Dict[str, str]]] = None) -> None:
    """The lab released into ``course`` (the student notebook only) and each student's notebook
    collected under ``submitted/``; ``written`` gives a student's written answers (grade id -> text),
    otherwise left as released."""
    starter = released(lab)
    source = nbformat.read(str(REPO / "solutions" / f"{lab}.ipynb"), as_version=4)
    stubs = {gid: cell.source for gid, cell in solution_cells(starter).items() if cell.cell_type == "markdown"}
    write_notebook(starter, course / "release" / lab / f"{lab}.ipynb")
    for student, answers in students.items():
        filled = {**stubs, **(written or {}).get(student, {}), **answers}
        write_notebook(fill_solutions(starter, source, filled), course / "submitted" / student / lab / f"{lab}.ipynb")
