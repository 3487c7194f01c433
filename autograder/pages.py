"""HTML pages built from the saved grading results: one per student, and the class report's page.

A student page (``<course>/feedback/<student>/<lab>/results.html``, beside nbgrader's own
``<lab>.html``) lists every test with its points, its status explained in the words of
``results.STATUSES``, and the message the grader kept for the student, plus what the repair step
changed and which sandbox ran the notebook. Everything shown is HTML-escaped, and pages carry a
Content-Security-Policy that forbids scripts, so a student's output can never run in a TA's or
another student's browser.

Messages are sanitized by the grader already; ``student_text`` is a second guard used by every
page and export: it drops hidden-test regions (``preprocessors.strip_hidden_tests``), terminal
colour codes and control characters, and caps the length. The whole-submission ``problem`` is
meant for the TA (it may name paths on the grading machine), so student pages only say that one
exists.
"""
from __future__ import annotations

import html
import os
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from .course import GradingError
from .preprocessors import strip_hidden_tests
from .results import STATUSES, SubmissionResult

# Longest message shown on a page (a flood of output stays in the notebook, not on the page).
MAX_MESSAGE_CHARS = 4000
HIDDEN_REMOVED = "[hidden test details removed]"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")            # terminal colours in tracebacks
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")            # all control characters but \t, \n

# One colour per status, in the order the class report stacks them (passed first, then the
# student's own mistakes, then what the sandbox stopped, then what never ran).
STATUS_COLOURS = {
    "passed": "#2e7d32", "failed": "#c62828", "hidden_failed": "#ef6c00", "forbidden": "#6a1b9a", "timeout": "#1565c0",
    "memory": "#00838f", "died": "#5d4037", "missing": "#8e24aa", "not_run": "#9e9e9e",
    "unreadable": "#616161", "ungraded": "#212121", "graded": "#558b2f", "needs_grading": "#f9a825",
}

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .score { font-size: 1.3em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .35em .5em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num, th.num { text-align: right; white-space: nowrap; }
pre { background: #f7f7f7; border: 1px solid #e4e4e4; padding: .5em; margin: .3em 0 0;
      white-space: pre-wrap; word-break: break-word; font-size: 13px; max-height: 22em; overflow: auto; }
.badge { display: inline-block; color: #fff; border-radius: 3px; padding: 0 .45em; font-size: .85em;
         font-weight: 600; white-space: nowrap; }
.explain { color: #555; font-size: .9em; } .nowrap { white-space: nowrap; } .note { background: #fff8e1; border-left: 4px solid #f9a825;
         padding: .5em .8em; } img { max-width: 100%; border: 1px solid #eee; }
"""
# No scripts, no remote loads, no <base> or form: only inline styles, and images (sounds, fonts)
# beside the page or inline. Every page the grader writes carries it: its own (``page``) and
# nbgrader's feedback pages (``with_csp``), whose notebook ``sanitize.py`` has already cleaned.
CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' file: data:; "
       "media-src data:; font-src data:; base-uri 'none'; form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def student_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` made safe to show a student: no hidden-test region, colour code or control
    character, at most ``limit`` characters (HTML escaping is left to the caller)."""
    text, found = strip_hidden_tests(_ANSI.sub("", text or "").replace("\r\n", "\n"))
    text = _CONTROL.sub("", text).strip("\n")
    if found:
        text = (text + "\n" if text else "") + HIDDEN_REMOVED
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"
    return text


def esc(value: object) -> str:
    """HTML-escaped text of ``value`` (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def fmt_points(x: float) -> str:
    """Points without a useless ``.0`` (``2``, ``1.5``)."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x == x else "nan"


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#424242")
    return f'<span class="badge" style="background:{colour}">{esc(status)}</span>'


def page(title: str, body: Iterable[str]) -> str:
    """A whole self-contained HTML document (inline CSS, no script)."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        CSP_META,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", *body, "</body></html>", ""])


def with_csp(document: str) -> str:
    """A whole page written by another tool (nbgrader's feedback) with ``CSP`` as the first element
    of its ``<head>``: its own scripts and any left in the notebook it shows never run."""
    head = _HEAD.search(document)
    if head is None:
        raise GradingError("an HTML page without <head> cannot carry a Content-Security-Policy")
    if document.startswith(CSP_META, head.end()):
        return document
    return document[:head.end()] + CSP_META + document[head.end():]


def table(header: List[str], rows: Iterable[List[str]], numeric: Iterable[int] = ()) -> str:
    """An HTML table; ``header`` is plain text, cells are HTML already; ``numeric`` columns align right."""
    numeric = set(numeric)
    cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def student_html(result: SubmissionResult, feedback_link: Optional[str] = None) -> str:
    """The page of one student's graded submission, as HTML text."""
    r = result
    share = f" ({100 * r.final_score / r.max_score:.0f}%)" if r.max_score else ""
    body = [f"<h1>{esc(r.lab)}: your results</h1>",
            f'<p class="meta">student {esc(r.student)}</p>',
            f'<p class="score">{fmt_points(r.final_score)} / {fmt_points(r.max_score)} points{share}</p>']
    if r.late is not None:        # the late penalty and its reason (deadlines.py), or that there is none
        from .deadlines import describe
        penalty = (f"Late penalty: −{fmt_points(r.late_penalty)} points (the tests earned {fmt_points(r.score)}): "
                   if r.late_penalty else "")
        body.append(f'<p class="{"note" if r.late_penalty else "meta"}">{esc(penalty + student_text(describe(r), 500))}</p>')
    if r.problem:
        body.append('<p class="note">This submission could not be graded automatically; your TA has '
                    "the details and will grade it by hand.</p>")
    if feedback_link:
        body.append(f'<p>Your notebook as graded, cell by cell: <a href="{esc(feedback_link)}">'
                    f"{esc(os.path.basename(feedback_link))}</a></p>")
    body.append("<h2>Tests</h2>")
    if r.tests:
        passed = sum(t.passed for t in r.tests)
        body.append(f"<p>{passed} of {len(r.tests)} tests passed" +
                    ("; the messages below say what went wrong in the others.</p>" if passed < len(r.tests) else ".</p>"))
        rows = [[f"<code>{esc(t.name)}</code>", f"{fmt_points(t.points)} / {fmt_points(t.max_points)}",
                 f'{badge(t.status)}<div class="explain">{esc(STATUSES.get(t.status, "unknown status"))}</div>',
                 f"<pre>{esc(student_text(t.message))}</pre>" if student_text(t.message) else ""]
                for t in r.tests]
        body.append(table(["test", "points", "status", "message"], rows, numeric=[1]))
    else:
        body.append("<p>No test was graded.</p>")
    body.append("<h2>Repairs</h2>")
    body.append("<ul>" + "".join(f"<li>{esc(student_text(line, 500))}</li>" for line in r.repairs) + "</ul>"
                if r.repairs else "<p>None: the notebook's graded cells were found as released.</p>")
    body.append("<h2>How it ran</h2>")
    ran = f"sandbox: {r.sandbox or 'not recorded'}" + (f"; {r.seconds:.1f} s in all" if r.seconds else "")
    body.append(f'<p class="meta">{esc(ran)}</p>')
    return page(f"{r.lab} results: {r.student}", body)


def student_page(result: SubmissionResult, dest: os.PathLike, *,
                 nbgrader_feedback: Optional[Path] = None) -> Path:
    """Write the student page of ``result`` to ``dest`` (an .html file); returns ``dest``.

    ``nbgrader_feedback``, when given, is linked by a path relative to ``dest``'s folder."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    link = None
    if nbgrader_feedback is not None:
        link = os.path.relpath(Path(nbgrader_feedback).resolve(), dest.parent.resolve()).replace(os.sep, "/")
    dest.write_text(student_html(result, link), encoding="utf-8")
    return dest


def write_pages(course: os.PathLike, lab: str, results: Iterable[SubmissionResult]) -> List[Path]:
    """Write ``<course>/feedback/<student>/<lab>/results.html`` for each result of ``lab``.

    Each page links to nbgrader's ``<lab>.html`` beside it when that exists, so write that first
    (``report.update_feedback`` does, and writes these only for results that changed)."""
    pages = []
    for r in results:
        if r.lab != lab:
            raise GradingError(f"result of {r.student} is for lab {r.lab!r}, not {lab!r}: "
                               f"pass the results of one lab (results.load_results(course, {lab!r}))")
        check_student_id(r.student)
        folder = Path(course) / "feedback" / r.student / lab
        nbgrader_page = folder / f"{lab}.html"
        pages.append(student_page(r, folder / "results.html",
                                  nbgrader_feedback=nbgrader_page if nbgrader_page.exists() else None))
    return pages


def check_student_id(student: str) -> None:
    """Refuse a student id that is not a single plain folder name (it becomes a path)."""
    if not student or student in (".", "..") or "/" in student or "\\" in student or "\x00" in student:
        raise GradingError(f"student id {student!r} cannot be a folder name: fix the results file "
                           "(ids come from seqlab-grade collect)")


def status_counts(counts: Counter) -> List[Tuple[str, int]]:
    """``counts`` in the order of ``STATUS_COLOURS`` (unknown statuses last), zeros left out."""
    known = [(k, counts[k]) for k in STATUS_COLOURS if counts.get(k)]
    return known + sorted((k, v) for k, v in counts.items() if k not in STATUS_COLOURS and v)


# Alt text of the class report's plots, by file name.
PLOT_ALT = {"score_distribution.png": "histogram of total scores",
            "pass_rates.png": "pass rate per test, hardest first",
            "status_breakdown.png": "status of each test across submissions"}


def class_html(lab: str, results: Sequence[SubmissionResult], stats: Sequence[Any], images: Sequence[str]) -> str:
    """The class report's page: a summary, the plots (``images``, files beside the page), the tests
    hardest first with their most common failure, and the submissions not graded or repaired.

    ``stats`` are ``exports.CellStats``, hardest first."""
    graded = [r for r in results if r.tests]
    problems = [r for r in results if r.problem]
    scores = [r.score for r in graded]
    max_score = max((r.max_score for r in graded), default=0.0)
    body = [f"<h1>{esc(lab)}: class report</h1>",
            f'<p class="meta">{len(results)} submissions: {len(graded)} with test results, '
            f"{len(problems)} flagged as not graded (listed below).</p>"]
    if scores:
        full = sum(s >= max_score for s in scores)
        body.append(f'<p class="score">mean {fmt_points(statistics.mean(scores))} / {fmt_points(max_score)}, '
                    f"median {fmt_points(statistics.median(scores))}; {full} with full marks</p>")
        if any(r.late_penalty for r in graded):
            body.append(f'<p class="meta">after late penalties: mean '
                        f"{fmt_points(statistics.mean(r.final_score for r in graded))} (listed under Late)</p>")
    struggled = [s for s in stats if s.pass_rate < 1.0][:3]
    if struggled:
        items = "".join(f"<li><code>{esc(s.name)}</code>: {100 * s.pass_rate:.0f}% passed; most common "
                        f"failure ({s.common_failure()[1]} alike, numbers aside): <code>{esc(s.common_failure()[0])}</code></li>"
                        for s in struggled)
        body.append(f'<div class="note"><b>Where the class struggled</b><ol>{items}</ol></div>')
    body += ["<h2>Plots</h2>", *(f'<p><img src="{esc(n)}" alt="{esc(PLOT_ALT.get(n, n))}"></p>' for n in images)]
    rows = []
    for s in stats:
        others = " ".join(f'<span class="nowrap">{badge(k)}&nbsp;{v}</span>' for k, v in status_counts(s.statuses) if k != "passed")
        line, count = s.common_failure()
        rows.append([f"<code>{esc(s.name)}</code>", fmt_points(s.max_points), f"{s.statuses['passed']} / {s.graded}",
                     f"{100 * s.pass_rate:.0f}%", others or "none",
                     f"<pre>{esc(line)}</pre>{count} submission{'s' * (count != 1)}" if count else "",
                     f"{statistics.median(s.seconds):.1f}" if s.seconds else ""])
    body += ["<h2>Tests, hardest first</h2>",
             table(["test", "points", "passed", "pass rate", "not passed", "most common failure (first line; numbers may differ)",
                    "median s"], rows, numeric=[1, 2, 3, 6])]
    if any(r.late is not None for r in results):       # the lab has a due date (deadlines.py)
        from .deadlines import describe
        late = [r for r in results if r.late is not None and (r.late.fraction or r.late.problem)]
        body.append(f"<h2>Late ({len(late)})</h2>")
        body.append(table(["student", "submitted (UTC)", "penalty", "why (a time unknown is not penalised)"],
                          ([esc(r.student), esc(r.late.submitted[:16].replace("T", " ") or "unknown"),
                            f"−{fmt_points(r.late_penalty)}" if r.late_penalty else "none", esc(describe(r))]
                           for r in late), numeric=[2]) if late else "<p>No submission lost points for lateness.</p>")
    body.append(f"<h2>Not graded ({len(problems)})</h2>")
    body.append(table(["student", "problem (for the TA)"],
                      ([esc(r.student), f"<pre>{esc(student_text(r.problem, 1000))}</pre>"] for r in problems))
                if problems else "<p>Every submission was graded.</p>")
    repaired = [r for r in results if r.repairs]
    body.append(f"<h2>Repairs ({len(repaired)} submission{'s' * (len(repaired) != 1)})</h2>")
    body.append(table(["student", "what the repair step changed"],
                      ([esc(r.student), "<ul>" + "".join(f"<li>{esc(student_text(x, 500))}</li>" for x in r.repairs)
                        + "</ul>"] for r in repaired)) if repaired else "<p>No submission needed repair.</p>")
    return page(f"{lab}: class report", body)
