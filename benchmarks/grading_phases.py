"""Where one submission's grading time goes, through the real pipeline, step by step.

Releases LAB into a course (cached under /tmp, so a rerun starts at once), generates N submissions
(the reference solution by default; ``--kinds reference,wrong,blank`` cycles through kinds, the wrong
ones from tests/mutants_<lab>.py), and grades them one at a time with ``pipeline.grade_one`` (what
each autograde worker runs: repair, the sandbox, the cell-by-cell runner, scoring) and
``pipeline.write`` (the parent's single writer). ``grade_one`` records each step's seconds in
``SubmissionResult.phases`` with ``time.perf_counter``, and the runner its own (kernel starts and
stops, the checks after each cell, replays), and every code cell's; here they are grouped:

  fixed costs   read and repair, sandbox set-up and tear-down, kernel start and stop, the checks after
                each cell, runner messaging (what running the notebook cost beyond the cells and the
                steps above), scoring, serialising the notebook, writing (result, notebook, gradebook)
  setup cells   the Colab setup cell and the lab's setup cell (its imports)
  parts         per graded part: the student's code cell and its test cell (visible + hidden tests)
  other cells   the rest (data, training, plots), each by name

and printed as medians over the submissions (the first one also pays this process's imports; the
total of that first one is printed apart). One at a time, so that no two submissions share the cores;
the load average is printed, since other work may.

With the default ``--kernels auto`` each kernel is forked from a zygote that imported the lab's libraries
(``autograder/zygote.py``), started at the first submission (its seconds are that one's "zygote start");
``--kernels fresh`` starts a new Python for each kernel, as before.

    python benchmarks/grading_phases.py LAB [--submissions 5] [--kinds reference] [--sandbox auto] [--kernels auto]
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import common  # noqa: F401  (one thread per library; puts tests/ on sys.path for the mutants)

import nbformat

REPO = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/seqlab-grading-phases")
RUNNER_STEPS = ("kernel start", "kernel stop", "after each cell", "empty job folder", "replay")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def released(lab: str) -> Path:
    """A course with ``lab`` released, built once per version of its source and cached."""
    from autograder.pipeline import GRADER_VERSION
    from autograder.release import release

    key = hashlib.sha256(GRADER_VERSION.encode() + (REPO / "solutions" / f"{lab}.ipynb").read_bytes()).hexdigest()[:16]
    course = CACHE / f"{lab}-{key}"
    if not (course / ".released").exists():
        shutil.rmtree(course, ignore_errors=True)
        start = time.perf_counter()
        release(lab, course, repo=REPO)
        (course / ".released").write_text("released\n")
        print(f"released {lab} in {time.perf_counter() - start:.0f} s")
    return course


def make_submissions(course: Path, lab: str, n: int, kinds: list) -> dict:
    """``n`` submissions under ``course/submitted``, cycling through ``kinds``; student id -> kind."""
    from autograder.course import release_notebook, source_notebook
    from autograder.release import write_notebook
    from autograder.submissions import fill_solutions

    student_nb = nbformat.read(str(release_notebook(course, lab)), as_version=4)
    source = nbformat.read(str(source_notebook(REPO, lab)), as_version=4)
    wrong = [m for m in importlib.import_module(f"mutants_{lab}").MUTANTS if m.wrong] if "wrong" in kinds else []
    made = {}
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "blank":
            nb = copy.deepcopy(student_nb)
        elif kind == "wrong":
            mutant = wrong[sum(k.startswith("wrong") for k in made.values()) % len(wrong)]
            nb, kind = fill_solutions(student_nb, source, mutant.overrides), f"wrong: {mutant.target}, {mutant.name}"
        else:
            nb = fill_solutions(student_nb, source)
        sid = f"s{i + 1:02d}_{kind.split(':')[0]}"
        write_notebook(nb, course / "submitted" / sid / lab / f"{lab}.ipynb")
        made[sid] = kind
    return made


def cell_labels(course: Path, lab: str, submission: Path) -> dict:
    """Cell index of the repaired notebook -> (group, label): as ``grade_one`` repairs it."""
    from autograder.course import grading_template
    from autograder.reading import read_submission
    from autograder.release import SETUP_ID
    from autograder.repair import repair

    template = nbformat.read(str(grading_template(course, lab)), as_version=4)
    nb = repair(read_submission(submission.read_bytes()), template).notebook
    labels = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        name = str(meta.get("grade_id") or cell.get("id") or i)
        if cell.get("id") == SETUP_ID:
            labels[i] = ("setup cells", "Colab setup cell")
        elif name == "setup":
            labels[i] = ("setup cells", "setup cell (imports)")
        elif meta.get("solution") and cell.cell_type == "code":
            labels[i] = ("parts", f"{name.removesuffix('_code')}: student code")
        elif meta.get("grade") and cell.cell_type == "code":
            labels[i] = ("parts", f"{name}: tests")
        else:
            labels[i] = ("other cells", name)
    return labels


def grade(course: Path, lab: str, students: dict, sandbox: str, kernels: str = "auto") -> list:
    """Grade each submission with ``grade_one`` then ``write``; returns (result, write seconds, labels)."""
    from autograder.pipeline import Job, digest, grade_one, write
    from autograder.sandbox import Limits

    graded = []
    for sid in students:
        path = course / "submitted" / sid / lab / f"{lab}.ipynb"
        job = Job(course, lab, sid, path.resolve(), Limits(), sandbox, digest(course, lab, path, Limits()), kernels)
        out = grade_one(job)
        start = time.perf_counter()
        write(course, out)
        seconds = time.perf_counter() - start
        r = out.result
        print(f"  {sid:<14} {r.score:5g}/{r.max_score:g}  {r.seconds + seconds:6.1f} s  {r.problem[:100]}", flush=True)
        graded.append((r, seconds, cell_labels(course, lab, path)))
    return graded


def phases_of(result, write_seconds: float, labels: dict) -> dict:
    """(group, phase) -> seconds of one graded submission."""
    p = result.phases
    out = {("fixed costs", name): p[name] for name in ("read and repair", "zygote start", "sandbox set-up",
                                                        "sandbox tear-down", "scoring", "serialise") if name in p}
    for name in RUNNER_STEPS:
        out["fixed costs", name] = p.get(name, 0.0)
    cells = defaultdict(float)
    for key, seconds in p.items():
        if key.startswith("cell "):
            cells[labels.get(int(key.split()[1]), ("other cells", key))] += seconds
    out["fixed costs", "runner messaging"] = p.get("run the notebook", 0.0) - sum(cells.values()) \
        - sum(p.get(name, 0.0) for name in RUNNER_STEPS)
    out["fixed costs", "write (result, notebook, gradebook)"] = write_seconds
    out.update(cells)
    out["total", "grade_one + write"] = result.seconds + write_seconds
    return out


def report(lab: str, graded: list) -> None:
    rows = [phases_of(*g) for g in graded]
    keys = list(dict.fromkeys(k for row in rows for k in row))
    median = {k: statistics.median(row.get(k, 0.0) for row in rows) for k in keys}
    total = median["total", "grade_one + write"]
    print(f"{lab}: median seconds per submission over {len(rows)} (first one, cold imports included: "
          f"{rows[0]['total', 'grade_one + write']:.1f} s); {load()}")
    for group in ("fixed costs", "setup cells", "parts", "other cells", "total"):
        members = [k for k in keys if k[0] == group]
        if group == "parts":    # by part, in notebook order: code + tests
            parts = list(dict.fromkeys(k[1].rsplit(": ", 1)[0] for k in members))
            lines = [(p, median.get(("parts", f"{p}: student code"), 0.0), median.get(("parts", f"{p}: tests"), 0.0))
                     for p in parts]
            print(f"  parts ({sum(c + t for _, c, t in lines):.2f} s): student code + tests")
            for p, c, t in lines:
                print(f"    {p:<40} {c + t:7.2f} s  ({c:.2f} + {t:.2f})")
            continue
        print(f"  {group} ({sum(median[k] for k in members):.2f} s)")
        for k in sorted(members, key=lambda k: -median[k]) if group == "fixed costs" else members:
            print(f"    {k[1]:<40} {median[k]:7.2f} s  {100 * median[k] / total:5.1f}%")
    fixed = sorted(((median[k], k[1]) for k in keys if k[0] in ("fixed costs", "setup cells")), reverse=True)[:3]
    print("  largest fixed costs: " + "; ".join(f"{name} {s:.2f} s" for s, name in fixed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab")
    parser.add_argument("--submissions", type=int, default=5)
    parser.add_argument("--kinds", default="reference", help="comma-separated: reference, wrong, blank")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "limits"), default="auto")
    parser.add_argument("--kernels", choices=("auto", "warm", "fresh"), default="auto",
                        help="kernels forked from a zygote (auto, warm) or a new Python each (fresh)")
    parser.add_argument("--keep", action="store_true", help="keep the graded course and print where")
    args = parser.parse_args()
    from autograder.sandbox import bubblewrap
    print(f"{args.lab}: {args.submissions} submission(s) of kinds {args.kinds}, one at a time; {load()}; "
          f"bubblewrap {'works here' if bubblewrap() else 'not available'}")
    root = Path(tempfile.mkdtemp(prefix="seqlab-phases-"))
    course = root / "course"
    try:
        shutil.copytree(released(args.lab), course)
        students = make_submissions(course, args.lab, args.submissions, args.kinds.split(","))
        report(args.lab, grade(course, args.lab, students, args.sandbox, args.kernels))
    finally:
        if args.keep:
            print(f"course kept in {course}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
