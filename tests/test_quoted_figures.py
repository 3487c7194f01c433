"""The figures a lab's text quotes are the ones the lab prints.

tests/figures/quoted.toml lists each quoted figure: the markdown cell and the words that quote it,
the code cell that prints it, a pattern that finds the printed value, and the tolerance the
text may differ by (the text rounds; a rerun on another machine moves the last digit). The printed
values come from tests/figures/<lab>.json, a top-to-bottom run of the reference notebook at the full
budget kept by tests/record_figures.py, since the full runs take minutes per lab. The record must
belong to the code as it is now: change a lab's code and this test fails until it is rerun.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from record_figures import FIGURES, REPO, code_fingerprint

QUOTED = tomllib.loads((FIGURES / "quoted.toml").read_text(encoding="utf-8"))["figure"]
NUMBER = re.compile(r"[-−]?\d[\d,]*(?:\.\d+)?")


def _solution(lab: str) -> dict:
    return json.loads((REPO / "solutions" / f"{lab}.ipynb").read_text(encoding="utf-8"))


def _cell(nb: dict, grade_id: str) -> str:
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise AssertionError(f"no cell with grade_id {grade_id!r}")


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


@pytest.mark.parametrize("lab", sorted({q["lab"] for q in QUOTED}))
def test_record_belongs_to_the_code(lab):
    path = FIGURES / f"{lab}.json"
    assert path.exists(), f"no record of {lab}: run `.venv/bin/python tests/record_figures.py {lab}`"
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["code_sha256"] == code_fingerprint(_solution(lab)), (
        f"solutions/{lab}.ipynb's code changed since {path.name} was recorded ({record['recorded']}): "
        f"run `.venv/bin/python tests/record_figures.py {lab}`, update the figures its text quotes, "
        f"and commit both")


@pytest.mark.parametrize("q", QUOTED, ids=lambda q: f"{q['lab']}:{q['cell']}:{q['quote'][:30]}")
def test_quoted_figure_matches_the_run(q):
    text = " ".join(_cell(_solution(q["lab"]), q["cell"]).split())
    assert q["quote"] in text, f"{q['lab']} cell {q['cell']} no longer says {q['quote']!r}: update quoted.toml"
    quoted = _number(NUMBER.search(q["quote"]).group(0))
    printed_text = json.loads((FIGURES / f"{q['lab']}.json").read_text(encoding="utf-8"))["outputs"].get(
        q["printed_by"], "")
    found = re.findall(q["pattern"], printed_text)
    index = q.get("match", 0)
    assert len(found) > index, (f"cell {q['printed_by']} of {q['lab']} printed nothing matching "
                                f"{q['pattern']!r}:\n{printed_text[:2000]}")
    printed = _number(found[index] if isinstance(found[index], str) else found[index][0]) * q.get("scale", 1)
    assert abs(printed - quoted) <= q["tolerance"], (
        f"{q['lab']} cell {q['cell']} quotes {quoted} ({q['quote']!r}) but cell {q['printed_by']} "
        f"printed {printed:g} (tolerance {q['tolerance']})")
