"""Autograde throughput of our pipeline against plain ``nbgrader autograde``, and the sandbox's cost.

Releases LAB (``--lab``, default 01_rnn) into a temporary course, generates submissions from that
lab's reference solution and its own mutants (reference-filled, blank, wrong ones from
tests/mutants_<lab>.py, correct-but-different ones, and reference answers with their nbgrader cell
metadata stripped, as Colab and VS Code do), then in the same run:

1. throughput: plain ``nbgrader autograde LAB`` (the real CLI, nbgrader's defaults, one
   submission after another) and ``pipeline.autograde(workers=N)`` in a sandbox, each a fresh
   process on its own copy of the course; wall time, submissions/minute and the ratio. Our kernels
   are forked from a zygote that imported the lab's libraries once (``autograder/zygote.py``, the
   same sandbox); ``--fresh-too`` also times a new Python for each kernel and compares the scores;
2. agreement: the score of every grade cell in nbgrader's gradebook against our pipeline's, with
   each disagreement printed beside the reason for it;
3. overhead: a few submissions graded one at a time (workers=1) with ``sandbox="bwrap"``, with
   ``sandbox="limits"`` and by one plain nbclient run of the same repaired notebook (no sandbox,
   no cell-by-cell runner); the median seconds per submission, paired differences and ratios.

Both arms run with OMP/MKL/OpenBLAS at one thread (our sandbox sets that for every kernel; the
nbgrader arm gets it through the environment its kernels inherit). The load average is printed
at the start, between the parts and at the end: on a shared machine the figures move with it.

    python benchmarks/autograde_throughput.py [--lab 01_rnn] [--submissions 24] [--workers N] [--skip-nbgrader]
        [--pipeline-first] [--fresh-too] [--overhead 3] [--keep]
"""
from __future__ import annotations

import argparse
import copy
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (one thread per library; puts tests/ on sys.path for the mutants)

import nbformat

from autograder.course import grading_template, reference_store, release_notebook, source_notebook
from autograder.release import release, write_notebook
from autograder.results import load_result
from autograder.submissions import fill_solutions

REPO = Path(__file__).resolve().parents[1]
LAB = "01_rnn"       # the default --lab
CELL_SECONDS = 600   # per-cell limit in both arms: our Limits() default (nbgrader's own default is 30 s)
# One block of 12 submissions, repeated: 2 reference, 2 blank, 1 stripped, 1 correct-but-different, 6 wrong.
PATTERN = ["reference", "wrong", "blank", "wrong", "wrong", "stripped",
           "reference", "wrong", "different", "wrong", "blank", "wrong"]
NBGRADER_CONFIG = '''c = get_config()  # noqa: F821  (written by benchmarks/autograde_throughput.py)
# Plain nbgrader: its own preprocessors and defaults, only the course folder and the per-cell limit set.
c.CourseDirectory.root = {root!r}
c.Exchange.root = {exchange!r}
c.Execute.timeout = {timeout}
'''
PIPELINE = ("import sys; from autograder.pipeline import autograde\n"
            "autograde(sys.argv[1], sys.argv[2], sys.argv[5].split(',') if sys.argv[5] else None,"
            " workers=int(sys.argv[3]), sandbox=sys.argv[4], force=True, progress=False, kernels=sys.argv[6])")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def mutants(lab: str) -> list:
    """The lab's mutants from tests/mutants_<lab>.py, with a message when it has none."""
    try:
        found = importlib.import_module(f"mutants_{lab}").MUTANTS
    except ModuleNotFoundError as err:
        sys.exit(f"no tests/mutants_{lab}.py ({err}): --lab needs a lab with mutants to build wrong submissions from")
    if not any(m.wrong for m in found):
        sys.exit(f"tests/mutants_{lab}.py holds no wrong mutant to build the 'wrong' submissions from")
    return found


def make_submissions(course: Path, lab: str, n: int) -> dict:
    """Write ``n`` submissions of ``lab`` under ``course/submitted``; returns student id -> kind."""
    known = mutants(lab)
    released = nbformat.read(str(release_notebook(course, lab)), as_version=4)
    source = nbformat.read(str(source_notebook(REPO, lab)), as_version=4)
    wrong, targets = {}, []
    for m in known:
        if m.wrong:
            wrong.setdefault(m.target, []).append(m)
            targets += [] if m.target in targets else [m.target]
    wrong_order = [wrong[t][i] for i in range(max(map(len, wrong.values())))
                   for t in targets if i < len(wrong[t])]          # one per function, round robin
    different = [m for m in known if not m.wrong]
    kinds = {}
    for i in range(n):
        kind = PATTERN[i % len(PATTERN)]
        if kind == "different" and not different:
            kind = "reference"   # a lab without correct-but-different mutants
        if kind in ("reference", "blank", "stripped"):
            nb = copy.deepcopy(released) if kind == "blank" else fill_solutions(released, source)
            if kind == "stripped":
                for cell in nb.cells:
                    cell.metadata.pop("nbgrader", None)
            label = kind
        else:
            pool = wrong_order if kind == "wrong" else different
            m = pool[sum(1 for k in kinds.values() if k.startswith(kind)) % len(pool)]
            nb = fill_solutions(released, source, m.overrides)
            label = f"{kind}: {m.target}, {m.name}"
        sid = f"s{i + 1:02d}_{kind}"
        write_notebook(nb, course / "submitted" / sid / lab / f"{lab}.ipynb")
        kinds[sid] = label
    return kinds


def environment(course: Path, lab: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="Agg", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    # Plain nbgrader's kernels inherit this: the hidden tests compare with the recorded reference.
    store = course / "reference-copy" / f"{lab}.pkl"
    store.parent.mkdir(exist_ok=True)
    shutil.copyfile(reference_store(course, lab), store)
    env["SEQLAB_REFERENCE_STORE"] = str(store)
    env.pop("SEQLAB_REFERENCE_MODE", None)
    env.pop("NBGRADER_EXECUTION", None)
    return env


def run_nbgrader(course: Path, lab: str) -> float:
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(
        root=str(course), exchange=str(course / "exchange"), timeout=CELL_SECONDS))
    (course / "exchange").mkdir(exist_ok=True)
    exe = Path(sys.executable).parent / "nbgrader"
    start = time.perf_counter()
    with open(course / "nbgrader.log", "wb") as log:
        done = subprocess.run([str(exe), "autograde", lab], cwd=course, env=environment(course, lab),
                              stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode:
        tail = (course / "nbgrader.log").read_text(errors="replace")[-3000:]
        sys.exit(f"nbgrader autograde exited with {done.returncode}:\n{tail}")
    return seconds


def run_pipeline(course: Path, lab: str, workers: int, sandbox: str, students=None, kernels: str = "auto") -> float:
    argv = [sys.executable, "-c", PIPELINE, str(course), lab, str(workers), sandbox, ",".join(students or []), kernels]
    start = time.perf_counter()
    subprocess.run(argv, env=environment(course, lab), check=True, cwd=course)
    return time.perf_counter() - start


def nbgrader_scores(course: Path, lab: str) -> dict:
    from autograder.grade import score_table
    return score_table(course, lab).scores


def disagreement_reason(course: Path, lab: str, sid: str, kind: str, cell: str, ours) -> str:
    """Why plain nbgrader's score for ``cell`` differs from ours, read from its autograded notebook."""
    if kind == "stripped":
        return "the nbgrader cell metadata was stripped: plain nbgrader cannot find the grade cells, our repair restores them"
    path = course / "autograded" / sid / lab / f"{lab}.ipynb"
    nb = nbformat.read(str(path), as_version=4) if path.exists() else None
    cells = [c for c in (nb.cells if nb else []) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == cell]
    outputs = cells[0].get("outputs", []) if cells else []
    errors = [f"{o.get('ename')}: {o.get('evalue', '')[:120]}" for o in outputs if o.get("output_type") == "error"]
    stderr = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    if stderr and not errors:
        return "the cell wrote to stderr and raised nothing: plain nbgrader zeroes it, ours keeps the points"
    if ours.status == "passed" and "in place of yours" in ours.message and any("can't be checked until" in e for e in errors):
        return ("an earlier part is wrong: plain nbgrader's test refuses this part until that one passes, ours "
                "grades it on its hidden cases with the tests' own earlier part in its place")
    return (f"UNEXPLAINED: ours {ours.status} ({ours.message[:160]!r}); "
            f"nbgrader's cell {'raised ' + '; '.join(errors) if errors else 'raised nothing'}")


def compare(nbg_course: Path, pipe_course: Path, lab: str, kinds: dict) -> tuple:
    """Print both scores of every submission and each grade cell they differ on; returns
    (cells that differ, cells that differ for no known reason)."""
    theirs = nbgrader_scores(nbg_course, lab)
    rows, differ, unexplained = [], 0, 0
    for sid, kind in kinds.items():
        ours = load_result(pipe_course, lab, sid)
        mine = {t.name: t for t in ours.tests}
        nbg = theirs.get(sid, {})
        rows.append(f"  {sid:<16} nbgrader {nbg.get('total', 0):5g}   ours {ours.score:5g}/{ours.max_score:g}   {kind}")
        for name, test in mine.items():
            if float(nbg.get(name) or 0) != test.points:
                reason = disagreement_reason(nbg_course, lab, sid, kind, name, test)
                differ += 1
                unexplained += reason.startswith("UNEXPLAINED")
                rows.append(f"      {name}: nbgrader {nbg.get(name)}, ours {test.points:g}: {reason}")
    print("scores (total of the grade cells), nbgrader against ours:\n" + "\n".join(rows))
    return differ, unexplained


def plain_nbclient(course: Path, lab: str, sid: str) -> float:
    """Seconds to read, repair and run one submission with nbclient: no sandbox, one execute()."""
    from nbclient import NotebookClient

    from autograder.reading import read_submission
    from autograder.repair import repair

    with tempfile.TemporaryDirectory(prefix="sg-plain-") as tmp:
        env = dict(environment(course, lab), NBGRADER_EXECUTION="autograde", SEQLAB_REFERENCE_MODE="emit",
                   SEQLAB_EMIT_FILE=str(Path(tmp) / "emitted.jsonl"))
        start = time.perf_counter()
        template = nbformat.read(str(grading_template(course, lab)), as_version=4)
        nb = repair(read_submission((course / "submitted" / sid / lab / f"{lab}.ipynb").read_bytes()), template).notebook
        NotebookClient(nb, timeout=CELL_SECONDS, kernel_name="python3", allow_errors=True,
                       extra_arguments=["--IPKernelApp.log_level=ERROR"],
                       resources={"metadata": {"path": tmp}}).execute(env=env)
        return time.perf_counter() - start


def overhead(base: Path, root: Path, lab: str, students: list) -> None:
    """Each submission by each way, in rotating order so that drift in the load hits all three."""
    ways = ["bwrap", "limits", "nbclient"]
    courses = {w: root / f"overhead-{w}" for w in ways}
    for c in courses.values():
        shutil.copytree(base, c)
    seconds, scores = {w: [] for w in ways}, {}
    for i, sid in enumerate(students):
        for way in ways[i % 3:] + ways[:i % 3]:
            if way == "nbclient":
                seconds[way].append(plain_nbclient(courses[way], lab, sid))
            else:
                run_pipeline(courses[way], lab, 1, way, [sid], kernels="fresh")   # the sandbox's cost alone
                result = load_result(courses[way], lab, sid)
                seconds[way].append(result.seconds)
                scores[way, sid] = result.score
        if scores["bwrap", sid] != scores["limits", sid]:
            print(f"  WARNING: {sid} scored {scores['bwrap', sid]:g} in bubblewrap but {scores['limits', sid]:g} "
                  "with process limits only: the two sandboxes must grade alike")
    med = {w: statistics.median(s) for w, s in seconds.items()}
    print(f"sandbox overhead, workers=1, {len(students)} submission(s) ({', '.join(students)}); "
          "seconds per submission as the worker timed it (repair, kernel, cells, scoring):")
    for w in ways:
        print(f"  {w:<9} median {med[w]:6.1f} s   each: {', '.join(f'{s:.1f}' for s in seconds[w])}")
    for a, b in (("bwrap", "limits"), ("bwrap", "nbclient"), ("limits", "nbclient")):
        diff = statistics.median(x - y for x, y in zip(seconds[a], seconds[b]))
        print(f"  {a} - {b}: median paired difference {diff:+.2f} s per submission, ratio of medians {med[a] / med[b]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default=LAB, help="the lab to grade, e.g. 04_attention (default %(default)s)")
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-nbgrader", action="store_true", help="time only our pipeline")
    parser.add_argument("--fresh-too", action="store_true",
                        help="also time our pipeline with a new Python for each kernel (--kernels fresh) and compare scores")
    parser.add_argument("--pipeline-first", action="store_true", help="run our pipeline before nbgrader")
    parser.add_argument("--overhead", type=int, default=3, metavar="N",
                        help="submissions graded one at a time for the sandbox overhead (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses and print where")
    args = parser.parse_args()
    from autograder.sandbox import bubblewrap
    lab = args.lab
    if not (REPO / "solutions" / f"{lab}.ipynb").exists():
        sys.exit(f"no solutions/{lab}.ipynb: --lab takes a lab's name, e.g. 01_rnn or 04_attention")
    print(f"{lab}: {args.submissions} submissions, {args.workers} worker(s), {load()}")
    print(f"bubblewrap: {'works here' if bubblewrap() else 'not available: the pipeline runs with process limits only'}")
    root = Path(tempfile.mkdtemp(prefix="seqlab-throughput-"))
    try:
        base = root / "base"
        start = time.perf_counter()
        release(lab, base, repo=REPO)
        kinds = make_submissions(base, lab, args.submissions)
        print(f"released and generated in {time.perf_counter() - start:.0f} s")
        arms = [("pipeline", root / "pipeline")] + ([] if args.skip_nbgrader else [("nbgrader", root / "nbgrader")])
        if not args.pipeline_first:
            arms.reverse()
        arms += [("fresh", root / "fresh")] if args.fresh_too else []
        times = {}
        for name, course in arms:
            shutil.copytree(base, course)
            print(f"{name} ...  ({load()})", flush=True)
            if name == "nbgrader":
                times[name] = run_nbgrader(course, lab)
            else:
                times[name] = run_pipeline(course, lab, args.workers, "auto", kernels="fresh" if name == "fresh" else "auto")
        n = args.submissions
        sandbox = load_result(root / "pipeline", lab, next(iter(kinds))).sandbox
        print(f"throughput ({load()}):")
        for name, t in times.items():
            what = {"nbgrader": "plain nbgrader autograde, sequential",
                    "fresh": f"our pipeline, {args.workers} workers, a new Python for each kernel (--kernels fresh)"
                    }.get(name, f"our pipeline, {args.workers} workers, {sandbox}")
            print(f"  {name:<9} {t:7.1f} s  {60 * n / t:5.2f} submissions/minute   ({what})")
        if "nbgrader" in times:
            print(f"  ratio (our submissions/minute over nbgrader's): {times['nbgrader'] / times['pipeline']:.2f}x  (aim >= 3x)")
            if "fresh" in times:
                print(f"  ratio with --kernels fresh: {times['nbgrader'] / times['fresh']:.2f}x")
            differ, unexplained = compare(root / "nbgrader", root / "pipeline", lab, kinds)
            print(f"{differ} grade cell(s) scored differently, {unexplained} of them for no known reason")
        if "fresh" in times:
            same = [sid for sid in kinds if load_result(root / "fresh", lab, sid).score == load_result(root / "pipeline", lab, sid).score]
            print(f"forked kernels against new ones: {len(same)} of {n} submissions scored the same"
                  + ("" if len(same) == n else f"; differ: {', '.join(sid for sid in kinds if sid not in same)}"))
        if args.overhead:
            overhead(base, root, lab, list(kinds)[:args.overhead])
        print(f"end: {load()}")
    finally:
        if args.keep:
            print(f"courses kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
