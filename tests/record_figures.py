"""Run a reference notebook top to bottom, as a student would, and keep what its cells print.

    .venv/bin/python tests/record_figures.py 01_rnn [02_lstm_gru ...]     (minutes per lab)

Writes tests/figures/<lab>.json: the text each code cell printed (streams and plain-text results;
no images), keyed by the cell's grade_id, with a fingerprint of the notebook's code. The figures
the lab's text quotes (tests/figures/quoted.toml) are checked against this record by
tests/test_quoted_figures.py, which fails while the record is older than the code. Rerun this
after changing a lab's code cells and commit the new record with the change.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = Path(__file__).resolve().parent / "figures"


def code_fingerprint(nb: dict) -> str:
    """sha256 of the code cells' sources in order: what decides what the notebook prints."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = cell["source"]
            h.update(("".join(src) if isinstance(src, list) else src).encode())
            h.update(b"\0")
    return h.hexdigest()


def cell_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain")
            if text and not text.startswith("<Figure"):
                parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


def record(lab: str) -> dict:
    import nbformat
    import torch
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "solutions" / f"{lab}.ipynb", as_version=4)
    fingerprint = code_fingerprint(nb)
    saved = dict(os.environ)
    os.environ.pop("NBGRADER_EXECUTION", None)  # the full budget, as a student runs it
    os.environ.pop("MPLBACKEND", None)
    try:
        with tempfile.TemporaryDirectory() as cwd:
            start = time.perf_counter()
            NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": cwd}}).execute()
            seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    outputs = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and gid and cell_text(cell):
            outputs[gid] = cell_text(cell)
    return {"lab": lab, "code_sha256": fingerprint, "recorded": datetime.date.today().isoformat(),
            "seconds": round(seconds, 1), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, "outputs": outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="+", help="lab ids, e.g. 01_rnn")
    args = parser.parse_args()
    FIGURES.mkdir(exist_ok=True)
    for lab in args.labs:
        print(f"{lab}: running solutions/{lab}.ipynb top to bottom ...", flush=True)
        rec = record(lab)
        path = FIGURES / f"{lab}.json"
        path.write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{lab}: {rec['seconds']:.0f} s; {len(rec['outputs'])} cells printed; wrote {path.relative_to(REPO)}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
