"""Run one notebook in the Python that runs this script, and write what happened as JSON.

The clean-install test (tests/test_clean_install.py) copies this file next to a notebook in an
empty folder and runs it with a freshly made virtual environment's Python, so it imports nothing
from the repository: only nbformat and nbclient, which that environment installs.

    python clean_install_run.py NOTEBOOK RESULT.json [--timeout SECONDS]

The notebook runs top to bottom in its own folder, through every error (``allow_errors``), the
way "Run All" goes on in a student's copy. A probe cell appended at the end asks the kernel which
Python and which seqlab it used. The executed notebook is saved beside the original
(``<name>.executed.ipynb``) for a person to open. The JSON holds:
  seconds: wall time of the execution (kernel start included);
  errors:  [[cell index, exception name, message, first line of the cell], ...];
  outputs: [[cell index, the cell's stdout], ...] for every code cell that printed;
  probe:   {"python": sys.executable, "seqlab": seqlab.__file__} as the kernel saw them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PROBE = "import json, sys, seqlab\nprint(json.dumps({'python': sys.executable, 'seqlab': seqlab.__file__}))"


def run(notebook: Path, timeout: int) -> dict:
    """Execute ``notebook`` in its folder; return the summary described in the module docstring."""
    nb = nbformat.read(str(notebook), as_version=4)
    own_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(notebook.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    probe_cell = nb.cells.pop()
    nbformat.write(nb, str(notebook.with_suffix(".executed.ipynb")))
    errors, outputs = [], []
    for index, cell in enumerate(nb.cells[:own_cells]):
        if cell.cell_type != "code":
            continue
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        printed = "".join(o.get("text", "") for o in cell.get("outputs", [])
                          if o.output_type == "stream" and o.name == "stdout")
        if printed:
            outputs.append([index, printed])
        errors += [[index, o.ename, o.evalue, first] for o in cell.get("outputs", []) if o.output_type == "error"]
    probe_text = "".join(o.get("text", "") for o in probe_cell.get("outputs", []) if o.output_type == "stream")
    probe_errors = [f"{o.ename}: {o.evalue}" for o in probe_cell.get("outputs", []) if o.output_type == "error"]
    probe = json.loads(probe_text.strip().splitlines()[-1]) if probe_text.strip() else {"error": probe_errors}
    return {"seconds": seconds, "errors": errors, "outputs": outputs, "probe": probe}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    args.result.write_text(json.dumps(run(args.notebook.resolve(), args.timeout), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
