"""``seqlab-grade``: a thin command line over the autograder's steps.

    seqlab-grade demo [--course DIR]                  the whole pipeline on Lab 1, explained
    seqlab-grade release LAB --course DIR             student notebook + reference outputs
    seqlab-grade collect LAB SOURCE --course DIR      LMS zip or folder -> submitted/, with a report
    seqlab-grade autograde LAB [SOURCE] --course DIR  sandboxed, parallel; --workers, --engine dask
    seqlab-grade feedback LAB --course DIR            HTML pages under DIR/feedback/
    seqlab-grade export [LAB] --course DIR            grades.csv, and per lab tests.csv, Gradescope
                                                      results.json and the class report
    seqlab-grade labs [--check]                       regenerate (or check) labs/ from solutions/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .course import DEFAULT_CELL_TIMEOUT, GradingError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqlab-grade", description="Release and autograde the seqlab labs with nbgrader.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help: str, course_required: bool = True) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help)
        if name != "labs":
            q.add_argument("--course", type=Path, required=course_required, help="the nbgrader course folder")
        if name in ("demo", "release", "labs"):
            q.add_argument("--repo", type=Path, help="repository root holding solutions/ (default: found)")
        if name in ("demo", "release", "autograde"):
            q.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
        return q

    q = add("demo", "release Lab 1, grade three example submissions, write feedback and grades",
            course_required=False)
    q.add_argument("--lab", default=None, help="lab id (default 01_rnn)")
    q.add_argument("--bug", nargs=3, metavar=("GRADE_ID", "OLD", "NEW"),
                   help="the buggy submission's mistake: replace OLD by NEW in solution cell GRADE_ID")
    add("release", "generate the student notebook and record reference outputs").add_argument("lab")
    q = add("collect", "copy an LMS download (zip or folder) into the course, with a report")
    _collect_arguments(q)
    q = add("autograde", "autograde the collected submissions (collecting SOURCE first, if given)")
    _collect_arguments(q, source_required=False)
    q.add_argument("--workers", type=int, help="parallel submissions (default: one per core)")
    q.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local process pool, or a Dask cluster (pip install 'seqlab[scale]')")
    q.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)")
    q.add_argument("--sandbox", choices=("auto", "bwrap", "limits"), default="auto",
                   help="bubblewrap when it works (auto), always (bwrap), or process limits only")
    q.add_argument("--notebook-timeout", type=int, default=1800, help="seconds per notebook")
    q.add_argument("--memory-mb", type=int, default=6144,
                   help="memory of each sandbox, all its processes together where a cgroup can be made")
    q.add_argument("--disk-mb", type=int, default=1024, help="size of each sandbox's job folder")
    q.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q = add("feedback", "write HTML feedback for autograded submissions")
    q.add_argument("lab")
    q.add_argument("--student", help="only this student")
    q = add("export", "write the grade sheet, per-test CSV, Gradescope results and class report")
    q.add_argument("lab", nargs="?", help="the lab (default: every autograded lab)")
    q = add("labs", "regenerate labs/ from solutions/")
    q.add_argument("--check", action="store_true", help="only check; fail when labs/ is out of date")
    q.add_argument("names", nargs="*", metavar="LAB", help="labs to regenerate (default: all)")
    return p


def _collect_arguments(q: argparse.ArgumentParser, source_required: bool = True) -> None:
    q.add_argument("lab")
    q.add_argument("source", type=Path, nargs=None if source_required else "?",
                   help="LMS zip (Canvas, Moodle, Blackboard, Gradescope) or a folder of notebooks")
    q.add_argument("--roster", type=Path, help="CSV: id and optionally name, email, login, lms_id")
    q.add_argument("--pattern", help="regex with a (?P<student>...) group, searched in each file's path")
    if source_required:
        q.add_argument("--dry-run", action="store_true", help="only report; write nothing")


def _collect(args: argparse.Namespace) -> None:
    from .collect import collect
    report = collect(args.source, args.course, args.lab, roster=args.roster, pattern=args.pattern,
                     dry_run=getattr(args, "dry_run", False))
    print(report.format())


def _run(args: argparse.Namespace) -> None:
    if args.command == "demo":
        from .demo import DEFAULT_BUG, DEFAULT_LAB, run_demo
        from .submissions import Bug
        bug = Bug(*args.bug, what=f"{args.bug[1]!r} -> {args.bug[2]!r} in {args.bug[0]}") if args.bug else DEFAULT_BUG
        run_demo(args.course, repo=args.repo, lab=args.lab or DEFAULT_LAB, bug=bug, cell_timeout=args.timeout)
    elif args.command == "release":
        from .release import release
        path = release(args.lab, args.course, repo=args.repo, cell_timeout=args.timeout)
        print(f"released {args.lab}: student notebook {path}")
    elif args.command == "collect":
        _collect(args)
    elif args.command == "autograde":
        from .grade import score_table
        from .pipeline import autograde
        from .sandbox import Limits
        if args.source is not None:
            _collect(args)
        limits = Limits(cell_seconds=args.timeout, notebook_seconds=args.notebook_timeout,
                        memory_mb=args.memory_mb, disk_mb=args.disk_mb)
        results = autograde(args.course, args.lab, workers=args.workers, limits=limits,
                            sandbox=args.sandbox, engine=args.engine, scheduler=args.scheduler,
                            force=args.force, progress=not args.quiet)
        problems = {r.student: r.problem for r in results if r.problem}
        print(score_table(args.course, args.lab, problems).format())
        print(f"isolation: {results[0].sandbox if results else 'none (no submissions)'}")
        slow = sorted(r.student for r in results if any(t.status == "timeout" for t in r.tests))
        if slow:
            print(f"timed out, worth a regrade with a longer limit ({len(slow)}): {', '.join(slow)}\n"
                  f"  seqlab-grade autograde {args.lab} --course {args.course} --timeout {2 * args.timeout} --force")
    elif args.command == "feedback":
        from .report import feedback_pages
        pages = feedback_pages(args.course, args.lab, args.student)
        print("feedback pages:\n  " + "\n  ".join(str(p) for p in pages))
    elif args.command == "export":
        from .report import export_all
        labs = [args.lab] if args.lab else sorted(p.name for p in (args.course / "results").glob("*") if p.is_dir())
        if not labs:
            raise GradingError(f"nothing autograded in {args.course}: run `seqlab-grade autograde` first")
        for lab in labs:
            for name, path in export_all(args.course, lab).items():
                print(f"{lab} {name}: {path}")
    elif args.command == "labs":
        from .release import sync_labs
        changed = sync_labs(args.repo, args.names or None, check=args.check)
        verb = "up to date" if args.check else (f"rewrote {len(changed)} file(s)" if changed else "already up to date")
        print(f"labs/: {verb}" + "".join(f"\n  {p}" for p in changed))


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except GradingError as err:
        print(f"seqlab-grade {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
