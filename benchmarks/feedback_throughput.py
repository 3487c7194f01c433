"""Feedback throughput: plain nbgrader ``generate_feedback`` against ours, full and incremental.

Builds a class of Lab 1 (01_rnn) submissions once (released, generated as
``autograde_throughput.make_submissions`` does: reference, blank, wrong ones from
tests/mutants_01_rnn.py, correct-but-different and stripped ones; autograded by our pipeline) and
caches the graded course under /tmp, so a rerun starts at once. Then, each arm on its own copy:

1. plain nbgrader feedback, the named peer: ``NbGraderAPI.generate_feedback(lab, force=True)`` for
   the whole class, with the course's preprocessors (hidden tests and rubrics removed), as our
   feedback ran it before; then, timed apart, the CSP rewrite and results pages it added;
2. ours, full: ``report.update_feedback(force=True)``, every page written (the same notebook page,
   with its CSP, and the results page), in ``--workers`` processes;
3. ours, reruns: with nothing changed; after one student handed in again (autograded, not timed);
   after the TA graded one written answer. Only that student's pages are written.
It prints wall times (Python start and imports included, as a TA sees them), ratios, how many
pages each run wrote, whether our notebook pages are nbgrader's, and the load average between arms
(other work shares the cores: the figures move with it). Then it takes one student's nbgrader page
apart, step by step (the gradebook queries, the template, nbconvert's BeautifulSoup pass over the
page, our CSP rewrite), median over ``--phases`` students.

    python benchmarks/feedback_throughput.py [--submissions 60] [--workers N] [--phases 8] [--rebuild]
"""
from __future__ import annotations

import argparse
import hashlib
import json
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

from autograde_throughput import LAB, REPO, make_submissions

CACHE = Path("/tmp/seqlab-feedback-bench")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def class_key(n: int) -> str:
    """What the cached class depends on: the lab's source, the grader and the class size."""
    from autograder.pipeline import GRADER_VERSION

    h = hashlib.sha256(f"{GRADER_VERSION} {n}".encode())
    for path in (REPO / "solutions" / f"{LAB}.ipynb", REPO / "tests" / f"mutants_{LAB}.py"):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def graded_class(n: int, workers: int, rebuild: bool = False) -> Path:
    """A course with ``n`` autograded Lab 1 submissions, built once and cached under ``CACHE``."""
    from autograder.pipeline import autograde
    from autograder.release import release

    course = CACHE / f"{LAB}-{n}-{class_key(n)}"
    done = course / ".built"
    if done.exists() and not rebuild:
        print(f"class of {n}: cached in {course}")
        return course
    shutil.rmtree(course, ignore_errors=True)
    start = time.perf_counter()
    release(LAB, course, repo=REPO)
    make_submissions(course, n)
    autograde(course, LAB, workers=workers, progress=True)
    done.write_text("built\n")
    print(f"class of {n}: released, generated and autograded in {time.perf_counter() - start:.0f} s ({load()})")
    return course


# --- the arms: each runs in a fresh process (`--arm NAME COURSE`), timed from outside, imports included

def arm_nbgrader(course: Path) -> None:
    """Plain nbgrader feedback: ``generate_feedback --force`` for the whole class, nbgrader's converter
    with the course's preprocessors; then (timed apart) what our feedback used to add on top:
    the CSP rewrite of every page and the results pages."""
    from autograder.course import check, nbgrader_env, open_api
    from autograder.pages import with_csp, write_pages
    from autograder.results import load_results
    from autograder.written import with_written_grades

    start = time.perf_counter()
    with nbgrader_env():
        check(open_api(course).generate_feedback(LAB, force=True), "generate_feedback")
    nbgrader = time.perf_counter() - start
    for page in course.glob(f"feedback/*/{LAB}/{LAB}.html"):
        page.write_text(with_csp(page.read_text(encoding="utf-8")), encoding="utf-8")
    write_pages(course, LAB, with_written_grades(course, LAB, load_results(course, LAB)))
    print(json.dumps({"generate_feedback": nbgrader, "after": time.perf_counter() - start - nbgrader}))


def arm_ours(course: Path, force: bool, workers: int) -> None:
    """``report.update_feedback``: only what changed (all with ``force``), ``workers`` processes."""
    from autograder.report import update_feedback

    run = update_feedback(course, LAB, force=force, workers=workers)
    print(json.dumps({"written": len(run.written), "unchanged": len(run.unchanged), "failed": run.failed}))


def timed_arm(args: list) -> tuple:
    """(wall seconds, the arm's JSON line) of ``python feedback_throughput.py --arm ...``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--arm", *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"arm {args[0]} failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


# --- what changes between runs ------------------------------------------------------------------

def hand_in_again(course: Path, student: str) -> None:
    """``student`` hands in the reference solution, and the class is autograded again (one regraded)."""
    from autograder.course import release_notebook, source_notebook
    from autograder.pipeline import autograde
    from autograder.release import write_notebook
    from autograder.submissions import fill_solutions

    released = nbformat.read(str(release_notebook(course, LAB)), as_version=4)
    source = nbformat.read(str(source_notebook(REPO, LAB)), as_version=4)
    write_notebook(fill_solutions(released, source), course / "submitted" / student / LAB / f"{LAB}.ipynb")
    autograde(course, LAB, workers=1, progress=False)


def grade_written(course: Path, student: str) -> str:
    """The TA grades ``student``'s first written answer, with a comment; returns its grade id."""
    from autograder.course import gradebook, nbgrader_env
    from autograder.written import written_cells

    name = written_cells(nbformat.read(str(course / "source" / LAB / f"{LAB}.ipynb"), as_version=4))[0][1]
    with nbgrader_env(), gradebook(course) as gb:
        gb.find_grade(name, LAB, LAB, student).manual_score = 1.0
        gb.find_comment(name, LAB, LAB, student).manual_comment = "Half right: say why."
        gb.db.commit()
    return name


def same_pages(ours: Path, theirs: Path, students: list) -> int:
    """How many of ``students``' notebook pages are nbgrader's page: the same document once ours went
    through the HTML round trip nbconvert makes (and both lost the CSP, added after it)."""
    from bs4 import BeautifulSoup

    from autograder.pages import CSP_META

    def page(course: Path, student: str) -> str:
        return (course / "feedback" / student / LAB / f"{LAB}.html").read_text(encoding="utf-8").replace(CSP_META, "", 1)

    return sum(str(BeautifulSoup(page(ours, s), features="html.parser")) == page(theirs, s) for s in students)


# --- where one nbgrader page's time goes ---------------------------------------------------------

def nbgrader_phases(course: Path, n: int) -> None:
    """Median seconds per student of each step of nbgrader's page (nbconvert's own HTMLExporter), taken
    apart: reading the notebook, each preprocessor (GetGrades queries the gradebook), the template
    (Jinja, Pygments, Markdown), nbconvert's BeautifulSoup pass over the finished page, our CSP rewrite,
    writing; then the whole page both ways (ours: ``report.FeedbackExporter``)."""
    import copy

    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter, TemplateExporter

    from autograder.course import nbgrader_env
    from autograder.pages import with_csp
    from autograder.report import _converter

    with nbgrader_env():
        app, ours = _converter(str(course))
        theirs = HTMLExporter(parent=app, config=app.config)
        for pp in app.preprocessors:
            theirs.register_preprocessor(pp)
        phases: dict = {}

        def timed(name, fn, *a):
            start = time.perf_counter()
            out = fn(*a)
            phases.setdefault(name, []).append(time.perf_counter() - start)
            return out

        students = sorted(p.name for p in (course / "autograded").iterdir())[:n]
        for s in students:
            source = course / "autograded" / s / LAB / f"{LAB}.ipynb"
            nb = timed("read the notebook", nbformat.read, str(source), 4)
            resources = app.init_single_notebook_resources(str(source))
            timed("nbgrader's whole page", theirs.from_notebook_node, copy.deepcopy(nb), copy.deepcopy(resources))
            timed("ours: whole page (FeedbackExporter)", ours.from_notebook_node, copy.deepcopy(nb), copy.deepcopy(resources))
            resources = theirs._init_resources(resources)
            for pp in theirs._preprocessors:
                nb, resources = timed(f"  preprocessor {type(pp).__name__}", pp, nb, resources)
            kept, theirs._preprocessors = theirs._preprocessors, []
            html, _ = timed("  template (Jinja, Pygments, Markdown)", TemplateExporter.from_notebook_node, theirs, nb, resources)
            theirs._preprocessors = kept
            timed("  nbconvert's BeautifulSoup pass", lambda h: str(BeautifulSoup(h, features="html.parser")), html)
            page = timed("our CSP rewrite", with_csp, html)
            timed("write", (course / f".phase-{s}.html").write_text, page, "utf-8")
            (course / f".phase-{s}.html").unlink()
    print(f"one notebook page, median over {len(students)} students (nbgrader's steps indented; ours highlights "
          "each distinct code cell once per process):")
    for name, values in phases.items():
        print(f"  {name:<42} {statistics.median(values):7.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--phases", type=int, default=8, metavar="N",
                        help="students whose nbgrader page is taken apart step by step (0: skip)")
    parser.add_argument("--rebuild", action="store_true", help="grade the class again, ignoring the cache")
    parser.add_argument("--build-only", action="store_true", help="only build (or find) the cached class")
    parser.add_argument("--arm", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        name, course = args.arm[0], Path(args.arm[1])
        if name == "nbgrader":
            return arm_nbgrader(course)
        return arm_ours(course, force=args.arm[2] == "force", workers=int(args.arm[3]))
    print(f"{LAB}: {args.submissions} submissions, {args.workers} worker(s), {load()}")
    base = graded_class(args.submissions, args.workers, args.rebuild)
    if args.build_only:
        return
    root = Path(tempfile.mkdtemp(prefix="seqlab-feedback-"))
    try:
        theirs, ours = root / "nbgrader", root / "ours"
        for course in (theirs, ours):
            shutil.copytree(base, course)
        n = args.submissions
        print(f"plain nbgrader feedback ... ({load()})", flush=True)
        t_nbg, out = timed_arm(["nbgrader", theirs])
        print(f"ours, full ({args.workers} workers) ... ({load()})", flush=True)
        t_full, full = timed_arm(["ours", ours, "force", args.workers])
        t_same, same = timed_arm(["ours", ours, "changed", args.workers])
        changed = sorted(p.name for p in (base / "submitted").iterdir())[1]
        hand_in_again(ours, changed)
        print(f"ours, rerun after {changed} handed in again ... ({load()})", flush=True)
        t_one, one = timed_arm(["ours", ours, "changed", args.workers])
        grade_written(ours, changed)
        t_ta, ta = timed_arm(["ours", ours, "changed", args.workers])
        print(f"results ({load()}); wall seconds, Python start and imports included:")
        print(f"  plain nbgrader feedback    {t_nbg:7.1f} s  ({out['generate_feedback']:.1f} s in generate_feedback "
              f"for {n} students, {out['generate_feedback'] / n:.2f} s each; then {out['after']:.1f} s for the "
              "CSP rewrite and results pages our feedback used to add)")
        print(f"  ours, full (--force)       {t_full:7.1f} s  ({full['written']} written, {args.workers} workers)   "
              f"ratio nbgrader/ours {t_nbg / t_full:.2f}x (goal >= 2x)")
        print(f"  ours, nothing changed      {t_same:7.1f} s  ({same['written']} written, {same['unchanged']} unchanged)")
        print(f"  ours, 1 of {n} handed in    {t_one:7.1f} s  ({one['written']} written)   "
              f"ratio nbgrader/ours {t_nbg / t_one:.1f}x (goal < 10 s)")
        print(f"  ours, 1 TA grade given     {t_ta:7.1f} s  ({ta['written']} written)")
        failed = {**full["failed"], **one["failed"], **ta["failed"]}
        if failed:
            print(f"  FAILED: {failed}")
        sample = sorted(p.name for p in (base / "submitted").iterdir())[:6]
        sample.remove(changed)
        print(f"notebook pages identical to nbgrader's (after nbconvert's HTML round trip; CSP aside): "
              f"{same_pages(ours, theirs, sample)} of {len(sample)}")
        if args.phases:
            nbgrader_phases(theirs, args.phases)
        print(f"end: {load()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
