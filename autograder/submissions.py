"""Build student submissions from a lab's source: the reference, an untouched one, a buggy one.

A submission is the released notebook with its solution cells filled in, exactly what a student
would hand in (no hidden tests, locked cells untouched). ``fill_solutions`` fills every solution
cell from the source notebook, with optional replacement code per grade id; ``Bug`` is a
plausible mistake described as a text substitution in one solution cell, the unit the demo and
the mutation tests share.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import nbformat

from .course import GradingError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(nb: nbformat.NotebookNode) -> Dict[str, nbformat.NotebookNode]:
    """Grade id -> cell, for the solution cells of a notebook."""
    return {_nbgrader(c)["grade_id"]: c for c in nb.cells
            if _nbgrader(c).get("solution") and _nbgrader(c).get("grade_id")}


def solution_code(source_cell: nbformat.NotebookNode) -> str:
    """The source cell's code with the BEGIN/END SOLUTION marker lines removed."""
    lines = source_cell.source.split("\n")
    return "\n".join(ln for ln in lines if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def fill_solutions(released_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode,
                   overrides: Optional[Mapping[str, str]] = None) -> nbformat.NotebookNode:
    """A copy of ``released_nb`` with every solution cell answered.

    The answer is the source notebook's cell of the same grade id without its marker lines, or
    ``overrides[grade_id]`` (the whole cell's code) where given. A grade id the source lacks, or
    an override naming no solution cell, raises ``KeyError`` naming it.
    """
    overrides = dict(overrides or {})
    answers = {gid: solution_code(cell) for gid, cell in solution_cells(source_nb).items()}
    filled = copy.deepcopy(released_nb)
    targets = solution_cells(filled)
    unknown = set(overrides) - set(targets)
    if unknown:
        raise KeyError(f"overrides name no solution cell: {sorted(unknown)}; solution cells are {sorted(targets)}")
    for gid, cell in targets.items():
        if gid in overrides:
            cell.source = overrides[gid]
        elif gid in answers:
            cell.source = answers[gid]
        else:
            raise KeyError(f"solution cell {gid!r} of the released notebook is not in the source notebook")
    return filled


@dataclass(frozen=True)
class Bug:
    """A plausible mistake: in solution cell ``grade_id``, replace ``old`` by ``new``.

    With ``swap=True`` the two strings trade places everywhere (e.g. ``Wx`` <-> ``Wh``).
    """

    grade_id: str
    old: str
    new: str
    what: str = ""
    swap: bool = False

    def apply(self, code: str) -> str:
        """The code with this bug in it; raises ``GradingError`` when the code would not change."""
        if self.swap:
            marker = "\0"
            changed = code.replace(self.old, marker).replace(self.new, self.old).replace(marker, self.new)
        else:
            changed = code.replace(self.old, self.new)
        if changed == code:
            raise GradingError(f"bug {self.what or self} changes nothing in solution cell {self.grade_id!r}: "
                             f"{self.old!r} does not occur there; update the bug to match the solution")
        return changed

    def code(self, source_nb: nbformat.NotebookNode) -> str:
        """The buggy code of the whole solution cell, from the source notebook."""
        cells = solution_cells(source_nb)
        if self.grade_id not in cells:
            raise GradingError(f"bug targets solution cell {self.grade_id!r}, which the source lacks; "
                             f"solution cells are {sorted(cells)}")
        return self.apply(solution_code(cells[self.grade_id]))


def example_submissions(released_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode,
                        bug: Bug) -> Dict[str, nbformat.NotebookNode]:
    """The demo's three students: ``reference``, ``blank`` (untouched) and ``buggy``."""
    return {
        "reference": fill_solutions(released_nb, source_nb),
        "blank": copy.deepcopy(released_nb),
        "buggy": fill_solutions(released_nb, source_nb, {bug.grade_id: bug.code(source_nb)}),
    }
