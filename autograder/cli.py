"""``seqlab-grade``: a thin command line over the autograder's steps.

    seqlab-grade demo [--course DIR]                  the whole pipeline on Lab 1, explained
    seqlab-grade release LAB --course DIR             student notebook + reference outputs
    seqlab-grade collect LAB SOURCE --course DIR      LMS zip or folder -> submitted/, with a report
    seqlab-grade autograde LAB [SOURCE] --course DIR  sandboxed, parallel; --workers, --engine dask
    seqlab-grade feedback LAB --course DIR            HTML pages under DIR/feedback/, only where a
                                                      result changed (--force: all); --workers
    seqlab-grade export [LAB] --course DIR            grades.csv, and per lab tests.csv, Gradescope
                                                      results.json and the class report; with a roster
                                                      (--roster) Canvas and Moodle sheets, per lab and
                                                      (no LAB) one for every lab
    seqlab-grade similarity LAB --course DIR          pairs of submissions ranked by shared code, as an
                                                      HTML report under DIR/similarity/LAB/; --threshold, --top
    seqlab-grade deadline [LAB] --course DIR          due date, extensions and late policy in DIR/seqlab.toml
                                                      (--due, --grace, --per-day, --cap, --zero-after,
                                                      --extend, --timezone), applied to the saved results
                                                      and the gradebook; no option: show them
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
    q.add_argument("--kernels", choices=("auto", "warm", "fresh"), default="auto",
                   help="fork kernels from a warm interpreter that imports the lab's libraries once per run, where "
                        "root and bubblewrap allow (auto), always (warm), or start a new Python for each (fresh); "
                        "the sandbox is the same")
    q.add_argument("--notebook-timeout", type=int, default=1800, help="seconds per notebook")
    q.add_argument("--memory-mb", type=int, default=6144,
                   help="memory of each sandbox, all its processes together where a cgroup can be made")
    q.add_argument("--disk-mb", type=int, default=1024, help="size of each sandbox's job folder")
    q.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q = add("feedback", "write HTML feedback for autograded submissions whose result changed")
    q.add_argument("lab")
    q.add_argument("--student", help="only this student")
    q.add_argument("--force", action="store_true", help="write every page again, changed or not")
    q.add_argument("--workers", type=int, help="processes rendering pages (default: one per core)")
    q = add("export", "write the grade sheet, per-test CSV, Gradescope results and class report")
    q.add_argument("lab", nargs="?", help="the lab (default: every autograded lab)")
    q.add_argument("--roster", type=Path, help="CSV: id, name and LMS ids (lms_id, sis_id, login, email) for "
                   "canvas.csv and moodle.csv (default: the students collect --roster added)")
    q.add_argument("--zeros", action="store_true",
                   help="0, not an empty grade, for roster students who handed nothing in")
    q.add_argument("--moodle-user", choices=("email", "username", "idnumber"), default="email",
                   help="the Moodle user field moodle.csv identifies students by (default: email)")
    q.add_argument("--lms-column", action="append", metavar="LAB=NAME",
                   help="a lab's column in the LMS sheets, e.g. '01_rnn=Lab 1 (4410)' (4410: the Canvas assignment id)")
    q = add("similarity", "rank pairs of submissions by the code they share (a lead for a TA, not proof)")
    _similarity_arguments(q)
    q = add("deadline", "set a lab's due date, extensions and late policy (seqlab.toml) and apply them")
    _deadline_arguments(q)
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
                            force=args.force, progress=not args.quiet, kernels=args.kernels)
        problems = {r.student: r.problem for r in results if r.problem}
        print(score_table(args.course, args.lab, problems).format())
        print(f"isolation: {results[0].sandbox if results else 'none (no submissions)'}")
        from .latepenalty import summary
        if summary(results):
            print(summary(results))
        slow = sorted(r.student for r in results if any(t.status == "timeout" for t in r.tests))
        if slow:
            print(f"timed out, worth a regrade with a longer limit ({len(slow)}): {', '.join(slow)}\n"
                  f"  seqlab-grade autograde {args.lab} --course {args.course} --timeout {2 * args.timeout} --force")
    elif args.command == "feedback":
        from .report import update_feedback
        run = update_feedback(args.course, args.lab, args.student, force=args.force, workers=args.workers)
        written = [p for p in run.pages if p.parent.parent.name in run.written]
        print("feedback pages written:" + "".join(f"\n  {p}" for p in written) if written else "no feedback page written")
        if run.failed:
            raise GradingError(run.format())
        print(run.format())
    elif args.command == "export":
        from .lms import SheetOptions, course_roster, export_lms, parse_columns
        from .report import export_all
        labs = [args.lab] if args.lab else sorted(p.name for p in (args.course / "results").glob("*") if p.is_dir())
        if not labs:
            raise GradingError(f"nothing autograded in {args.course}: run `seqlab-grade autograde` first")
        sheets = SheetOptions(course_roster(args.course, args.roster), args.zeros, args.moodle_user,
                              parse_columns(args.lms_column))    # the roster read (and checked) once
        for lab in labs:
            paths = export_all(args.course, lab, sheets)
            for name, path in paths.items():
                print(f"{lab} {name}: {path}")
        if not args.lab:                  # one Canvas and one Moodle sheet with a column per lab
            paths = export_lms(args.course, labs, sheets)
            for name, path in paths.items():
                print(f"every lab {name}: {path}")
        if "lms_report" in paths:
            print(paths["lms_report"].read_text(encoding="utf-8"), end="")
    elif args.command == "similarity":
        from .similarity import similarity
        from .similarity_report import summary, write_report
        result = similarity(args.course, args.lab, threshold=args.threshold, common=args.common, repo=args.repo)
        index = write_report(result, Path(args.course).resolve() / "similarity" / args.lab, top=args.top)
        print(f"{summary(result, args.top)}\nreport: {index}")
    elif args.command == "deadline":
        _deadline(args)
    elif args.command == "labs":
        from .release import sync_labs
        changed = sync_labs(args.repo, args.names or None, check=args.check)
        verb = "up to date" if args.check else (f"rewrote {len(changed)} file(s)" if changed else "already up to date")
        print(f"labs/: {verb}" + "".join(f"\n  {p}" for p in changed))


def _deadline_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("lab", nargs="?", help="the lab (without one: the course's policy, for every lab, and time zone)")
    q.add_argument("--due", help="due date: '2025-03-01 23:59' (in the course's time zone) or '2025-03-01T23:59+01:00'")
    q.add_argument("--no-due", action="store_true", help="remove the lab's due date (nothing is late)")
    q.add_argument("--timezone", help="the course's time zone, e.g. Europe/Paris (default UTC)")
    q.add_argument("--grace", help="lateness that costs nothing, e.g. 15m (0: none)")
    q.add_argument("--per-day", help="share of the lab's points lost per day started, e.g. 10%%")
    q.add_argument("--per-hour", help="share of the lab's points lost per hour started, instead of per day")
    q.add_argument("--cap", help="the most lateness can cost, e.g. 50%%")
    q.add_argument("--zero-after", help="no credit when later than this, e.g. 7d (none: never)")
    q.add_argument("--extend", action="append", default=[], metavar="STUDENT=TIME",
                   help="an extension: jdoe=48h, or their own due date kim='2025-03-05 12:00', or jdoe=none")


def _deadline(args: argparse.Namespace) -> None:
    from .deadlines import configure, explain, lab_deadline
    from .latepenalty import refresh, summary
    policy = {"grace": args.grace, "per_day": args.per_day, "per_hour": args.per_hour, "cap": args.cap,
              "zero_after": args.zero_after}
    changes = any(policy.values()) or args.due or args.no_due or args.timezone or args.extend
    if changes:
        configure(args.course, args.lab, due=args.due, no_due=args.no_due, timezone_name=args.timezone,
                  policy=policy, extend=args.extend)
    labs = [args.lab] if args.lab else sorted(p.name for p in (args.course / "results").glob("*") if p.is_dir())
    for lab in labs:
        deadline = lab_deadline(args.course, lab)
        print(explain(deadline))
        results = refresh(args.course, lab, deadline=deadline)    # saved results and the gradebook, as now set
        if summary(results):
            print(summary(results))
        elif results:
            print(f"  {len(results)} graded submission(s), none late")
        strays = sorted(set(deadline.extensions) - {r.student for r in results})
        if strays and results:
            print(f"  extension for student(s) with no graded submission of {lab} (a typo?): {', '.join(strays)}")


def _similarity_arguments(q: argparse.ArgumentParser) -> None:
    from .similarity import COMMON, THRESHOLD, TOP
    q.add_argument("lab")
    q.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"flag pairs scoring at least this (0 to 1; default {THRESHOLD})")
    q.add_argument("--top", type=int, default=TOP, help=f"list at least this many pairs (default {TOP})")
    q.add_argument("--common", type=int, default=COMMON,
                   help=f"ignore code found in more than this many submissions (default {COMMON}, as MOSS)")
    q.add_argument("--repo", type=Path, help="repository root whose labs/ holds the starter, when the lab "
                   "was not released into this course")


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
