"""Wall time of a lab run top to bottom, as a student runs it and as the autograder runs it.

Executes the reference notebook solutions/<lab>.ipynb with nbclient (a real kernel, like
JupyterLab), once normally and once with NBGRADER_EXECUTION=autograde (the reduced training
budget), and prints each time with its ratio to the lab's target.

    python benchmarks/lab_runtime.py 01_rnn [--repeats 1] [--save executed.ipynb]

--save keeps the last top-to-bottom run with its outputs (printed tables, plots), to look at.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
# seconds: (top to bottom, under autograding), from each lab's issue
TARGETS = {"01_rnn": (180, 30), "02_lstm_gru": (240, 30), "03_word_embeddings": (300, 30), "04_attention": (300, 30),
           "05_transformer": (300, 30), "06_music": (300, 30), "07_language": (300, 30),
           "08_language_model": (300, 30)}


def run_once(path: Path, autograde: bool, save: Path | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter: plots are drawn and timed
    env.pop("NBGRADER_EXECUTION", None)
    if autograde:
        env["NBGRADER_EXECUTION"] = "autograde"
    with tempfile.TemporaryDirectory() as cwd:
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            start = time.perf_counter()
            NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": cwd}}).execute()
            seconds = time.perf_counter() - start
            if save:
                nbformat.write(nb, str(save))
            return seconds
        finally:
            os.environ.clear()
            os.environ.update(old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab", nargs="?", default="01_rnn")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--save", type=Path, help="write the executed top-to-bottom notebook here")
    args = parser.parse_args()
    path = REPO / "solutions" / f"{args.lab}.ipynb"
    full_target, grade_target = TARGETS.get(args.lab, (300, 30))
    print(f"{args.lab}: {os.cpu_count()} CPU cores; median of {args.repeats} run(s), kernel start included")
    for label, autograde, target in (("top to bottom", False, full_target),
                                     ("autograded budget", True, grade_target)):
        save = None if autograde else args.save
        t = statistics.median(run_once(path, autograde, save) for _ in range(args.repeats))
        print(f"  {label:<18} {t:7.1f} s   target {target:4d} s   ratio {t / target:.2f}")


if __name__ == "__main__":
    main()
