"""docs/lectures.md names real cells: every cell it points a lecture topic to exists in that lab."""
from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _grade_ids(lab: int) -> set:
    path = next((REPO / "solutions").glob(f"{lab:02d}_*.ipynb"))
    return {c["metadata"].get("nbgrader", {}).get("grade_id") for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}


def test_every_cell_named_in_the_lecture_map_exists():
    missing, rows = [], 0
    for line in (REPO / "docs" / "lectures.md").read_text(encoding="utf-8").splitlines():
        cols = [c.strip() for c in line.split("|")]
        if len(cols) < 7 or not cols[2].isdigit():
            continue
        rows += 1
        lab = int(cols[2])
        for col in cols[4:6]:  # "explained in", "exercised in": cell names, with remarks in parentheses
            for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", re.sub(r"\([^)]*\)", "", col)):
                if name not in _grade_ids(lab):
                    missing.append(f"Lab {lab}: `{name}`")
    assert rows > 40, f"only {rows} topic rows read from docs/lectures.md: has the table's layout changed?"
    assert not missing, f"docs/lectures.md names cells that do not exist: {', '.join(missing)}"
