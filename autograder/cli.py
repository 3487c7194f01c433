"""``seqlab-grade``: a thin command line over the autograder's steps.

    seqlab-grade demo [--course DIR]                  the whole pipeline on Lab 1, explained
    seqlab-grade release LAB --course DIR             student notebook + reference outputs
    seqlab-grade autograde LAB SUBMISSIONS --course DIR
    seqlab-grade feedback LAB --course DIR            HTML pages under DIR/feedback/
    seqlab-grade export --course DIR [--to FILE]      nbgrader's CSV grade sheet
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
    q = add("autograde", "collect and autograde a folder of submissions")
    q.add_argument("lab")
    q.add_argument("submissions", type=Path, help="folder of <student>.ipynb or <student>/<lab>.ipynb")
    q = add("feedback", "write HTML feedback for autograded submissions")
    q.add_argument("lab")
    q.add_argument("--student", help="only this student")
    q = add("export", "write nbgrader's CSV grade sheet")
    q.add_argument("--to", type=Path, help="CSV path (default COURSE/grades.csv)")
    q.add_argument("--lab", action="append", help="only this lab (repeatable)")
    q = add("labs", "regenerate labs/ from solutions/")
    q.add_argument("--check", action="store_true", help="only check; fail when labs/ is out of date")
    q.add_argument("names", nargs="*", metavar="LAB", help="labs to regenerate (default: all)")
    return p


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
    elif args.command == "autograde":
        from .grade import autograde, collect, score_table
        students = collect(args.submissions, args.course, args.lab)
        problems = autograde(args.course, args.lab, students, cell_timeout=args.timeout)
        print(score_table(args.course, args.lab, problems).format())
    elif args.command == "feedback":
        from .report import feedback
        pages = feedback(args.course, args.lab, args.student)
        print("feedback pages:\n  " + "\n  ".join(str(p) for p in pages))
    elif args.command == "export":
        from .report import export_csv
        print(f"grade sheet: {export_csv(args.course, args.to, args.lab)}")
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
