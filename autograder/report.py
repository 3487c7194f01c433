"""What goes back to people after grading: feedback pages for students, a grade sheet for TAs.

Feedback is two pages per student under ``feedback/<student>/<lab>/``: the autograded notebook
(``<lab>.html``) and our per-test ``results.html`` (``pages.py``). The notebook page is nbgrader's
``GenerateFeedback`` converter with its ``feedback`` template and the preprocessors configured in
``course.nbgrader_config`` (``GetGrades``, then our ``DropRubrics`` and ``HideHiddenTests``, since
nbgrader 0.9.6 would otherwise render the hidden tests it restored for grading), driven one student
at a time (``render_notebook_page``) with ``FeedbackExporter``: nbconvert's HTML exporter without its
BeautifulSoup pass over the finished page, which took three quarters of each page's time to add alt
text to images (done here directly). It renders the autograded notebook, which ``sanitize.py``
cleaned when it was written, and gets ``pages.CSP`` as the first element of its head before it is
written, so neither nbconvert's own scripts nor anything a student left can run.

A run writes only what changed (``update_feedback``): beside each student's pages is a digest of all
they show (the saved result with the TA's written grades, the autograded notebook, the student's
grades and comments in the gradebook, the code that renders them), and a student whose digest is
unchanged is skipped; ``force`` redoes all. Notebook pages are rendered in worker processes. A student
whose notebook page cannot be made is reported, still gets a results page, and the others go on.
The grade sheet is nbgrader's own ``CsvExportPlugin`` over the gradebook, one row per student and lab.
"""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from .course import GradingError, gradebook, nbgrader_env, open_api
from .pages import check_student_id, student_text, with_csp


# The file beside a student's pages holding the digest of what they were made from.
STAMP = ".seqlab-feedback"
# Our code that shapes the pages: when it changes, every page is made again (no --force needed).
RENDERERS = ("report.py", "pages.py", "preprocessors.py", "written.py", "deadlines.py")
# Fewer notebook pages than this are rendered in this process: a page costs about 0.1 s, starting
# the workers about as much as a few pages (seconds when they must be spawned: ``_pool_context``).
POOL_FROM = 6
# nbconvert's words for an image without alt text.
NO_ALT = "No description has been provided for this image"
# Highlighted code cells kept per process (a lab has about 30, two thirds of them the same in every
# notebook; the cache is emptied when full), and the longest cell kept (a few MB at most in all).
HIGHLIGHT_CACHE, HIGHLIGHT_MAX_CHARS = 256, 20_000
_HIGHLIGHTED: Dict[Tuple[str, str, str, str], str] = {}
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_HAS_ALT = re.compile(r"\salt\s*=", re.IGNORECASE)


@dataclass
class FeedbackRun:
    """What one feedback run did, student by student."""

    pages: List[Path] = field(default_factory=list)       # every page of the students asked for
    written: List[str] = field(default_factory=list)      # students whose pages were made in this run
    unchanged: List[str] = field(default_factory=list)    # students whose pages were up to date
    failed: Dict[str, str] = field(default_factory=dict)  # student -> why a page could not be made

    def format(self) -> str:
        """A summary for the TA: how many were written or kept, and each failure with what to do."""
        lines = [f"{len(self.written)} student(s) given new pages, {len(self.unchanged)} unchanged"
                 + (" (--force rewrites them)" if self.unchanged else "")]
        reasons: Dict[str, List[str]] = {}
        for student, why in sorted(self.failed.items()):
            reasons.setdefault(why, []).append(student)
        lines += [f"  not written for {', '.join(who)}: {why}" for why, who in reasons.items()]
        if self.failed:
            lines.append("  their results page was written where it could be; look at the autograded notebook "
                         "(course/autograded/<student>/), regrade with `autograde --force` if it is damaged, and "
                         "run feedback again (only they are redone)")
        return "\n".join(lines)


class CachedHighlight(Highlight2HTML):
    """nbconvert's code highlighting, remembered: most code cells (tests, data, training) are the same
    in every student's notebook, and Pygments took half of a page's time once BeautifulSoup was gone."""

    def __call__(self, source, language=None, metadata=None):
        if len(source) > HIGHLIGHT_MAX_CHARS:                  # a pasted megabyte is not worth keeping
            return super().__call__(source, language, metadata)
        magics = (metadata or {}).get("magics_language")      # the only metadata Pygments is given
        key = (source, language or self.pygments_lexer, repr(magics), repr(sorted(self.extra_formatter_options.items())))
        if key not in _HIGHLIGHTED:
            if len(_HIGHLIGHTED) >= HIGHLIGHT_CACHE:
                _HIGHLIGHTED.clear()
            _HIGHLIGHTED[key] = super().__call__(source, language, metadata)
        return _HIGHLIGHTED[key]


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter without its pass over the finished page with BeautifulSoup.

    nbconvert 7's ``HTMLExporter.from_notebook_node`` renders the template, then parses and reprints the
    whole page (half a megabyte for a lab, three quarters of its time) to give images without alt
    text nbconvert's alt text and to make Lab-template cells focusable (the feedback template has
    none). This is the same method with the alt text added by ``with_alt_text``, and the code
    highlighted through ``CachedHighlight``; the page is the same document
    (tests/autograder/test_feedback_incremental.py compares them), with ``pages.CSP`` first in its
    head. The course's nbgrader config names this class as ``GenerateFeedback.exporter_class``, so a
    page made by the formgrader's "Generate feedback" button carries the CSP too."""

    def from_notebook_node(self, nb, resources: Optional[dict] = None, **kw: Any) -> Tuple[str, dict]:
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", CachedHighlight(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return with_csp(with_alt_text(html)), resources


def with_alt_text(html: str) -> str:
    """``html`` with nbconvert's alt text on every ``<img>`` that has none, as its last attribute.

    Attribute values cannot hold ``>`` here: the template escapes its own, and ``sanitize.py``'s
    HTML cleaner escapes those of student HTML, so a tag ends at its first ``>``."""
    def add(tag: re.Match) -> str:
        text = tag.group(0)
        if _HAS_ALT.search(text):
            return text
        end = len(text) - (2 if text.endswith("/>") else 1)
        return f'{text[:end].rstrip()} alt="{NO_ALT}"{text[end:]}'
    return _IMG.sub(add, html)


@functools.lru_cache(maxsize=4)
def _converter(course: str) -> Tuple[Any, FeedbackExporter]:
    """nbgrader's feedback converter of ``course`` and its exporter, built once per process (building
    them loads the template), configured as ``NbGraderAPI.generate_feedback`` configures them."""
    from nbgrader.converters import GenerateFeedback
    from traitlets.config import Config

    api = open_api(Path(course))
    app = GenerateFeedback(coursedir=api.coursedir, parent=api)
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    app.update_config(config)
    exporter = FeedbackExporter(parent=app, config=app.config)
    for preprocessor in app.preprocessors:
        exporter.register_preprocessor(preprocessor)
    return app, exporter


def render_notebook_page(course: Path, lab: str, student: str) -> str:
    """Write ``feedback/<student>/<lab>/<lab>.html``, nbgrader's page of the student's autograded
    notebook, with our CSP; returns "" or, never raising, why it could not be made."""
    try:
        check_student_id(student)
        source = Path(course) / "autograded" / student / lab / f"{lab}.ipynb"
        with nbgrader_env():
            app, exporter = _converter(str(course))
            html, _ = exporter.from_filename(str(source), resources=app.init_single_notebook_resources(str(source)))
        _write(Path(course) / "feedback" / student / lab / f"{lab}.html", with_csp(html))
        return ""
    except Exception as err:  # one student's notebook never stops the others' pages
        return student_text(f"{type(err).__name__}: {err}", 1000) or type(err).__name__


def _write(dest: Path, text: str) -> None:
    """Write ``text`` to ``dest`` whole or not at all."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)


def _render_all(course: Path, lab: str, students: List[str], workers: Optional[int]) -> Dict[str, str]:
    """Student -> "" or why not, for the notebook page of each of ``students``: in worker processes
    when there are enough to repay starting them."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(students)))
    if workers == 1 or len(students) < POOL_FROM:
        return {s: render_notebook_page(course, lab, s) for s in students}
    with nbgrader_env():
        _converter(str(course))          # loaded once here: forked workers start with it
    done: Dict[str, str] = {}
    with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(render_notebook_page, course, lab, s): s for s in students}
        for future in as_completed(futures):
            try:
                done[futures[future]] = future.result()
            except Exception as err:  # the worker process itself died
                done[futures[future]] = f"the feedback worker died ({type(err).__name__}); run feedback again"
    return done


def _pool_context() -> Any:
    """fork where it is safe (the platform has it and this process runs no other thread): workers
    then start with nbconvert, nbgrader and the template loaded, in milliseconds; spawned ones (as
    autograde's) spend seconds of CPU importing them again, which a 2-core machine feels."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _fingerprint() -> bytes:
    """What every page depends on besides the student: our rendering code and nbconvert's, nbgrader's versions."""
    import nbconvert
    import nbgrader

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(f"nbconvert {nbconvert.__version__} nbgrader {nbgrader.__version__}".encode())
    for name in RENDERERS:
        h.update((here / name).read_bytes())
    return h.digest()


def _gradebook_facts(course: Path, lab: str, students: List[str]) -> Dict[str, Any]:
    """Student -> what nbgrader's page shows from the gradebook: every grade and comment of their
    notebook (a TA's manual score or comment included) and the late penalty; None if not there."""
    facts: Dict[str, Any] = {}
    with gradebook(course) as gb:
        for student in students:
            try:
                nb = gb.find_submission_notebook(lab, lab, student)
            except Exception:  # not in this gradebook: the notebook page will say why it fails
                facts[student] = None
                continue
            facts[student] = {
                "grades": sorted(([g.name, g.auto_score, g.manual_score, g.extra_credit, g.max_score]
                                  for g in nb.grades), key=lambda g: g[0]),
                "comments": sorted(([c.name, c.auto_comment, c.manual_comment] for c in nb.comments),
                                   key=lambda c: c[0]),
                "late": nb.late_submission_penalty}
    return facts


def _digests(course: Path, lab: str, students: List[str], results: Dict[str, Any],
             notebooks: Dict[str, Path]) -> Dict[str, str]:
    """Student -> digest of everything their two pages are made from."""
    base = hashlib.sha256(_fingerprint())
    facts = _gradebook_facts(course, lab, students)
    digests = {}
    for student in students:
        h = base.copy()
        h.update(results[student].to_json().encode() if student in results else b"no result")
        h.update(notebooks[student].read_bytes() if student in notebooks else b"no notebook")
        h.update(json.dumps(facts.get(student), sort_keys=True, default=str).encode())
        digests[student] = h.hexdigest()
    return digests


def _up_to_date(folder: Path, lab: str, digest: str, notebook: bool, result: bool) -> bool:
    """Are this student's pages there, and made from what ``digest`` sums up?"""
    stamp = folder / STAMP
    return (stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest
            and (not notebook or (folder / f"{lab}.html").is_file())
            and (not result or (folder / "results.html").is_file()))


def update_feedback(course: os.PathLike, lab: str, student: Optional[str] = None, *, force: bool = False,
                    workers: Optional[int] = None) -> FeedbackRun:
    """Write the feedback pages of ``lab`` (every graded student, or one) whose result changed since
    their pages were made (all of them with ``force``); ``workers`` processes render notebook pages
    (default: one per core). Never stops at one student: failures are in the returned run."""
    from .pages import write_pages
    from .results import load_results
    from .written import with_written_grades

    course = Path(course).resolve()
    results = {r.student: r for r in with_written_grades(course, lab, load_results(course, lab))
               if student is None or r.student == student}
    notebooks = {p.parent.parent.name: p for p in sorted((course / "autograded").glob(f"*/{lab}/{lab}.ipynb"))
                 if student is None or p.parent.parent.name == student}
    students = sorted(set(results) | set(notebooks))
    if not students:
        raise GradingError(f"nothing autograded for {lab}{f' from {student}' if student else ''} in {course}: "
                           f"run `seqlab-grade autograde {lab} --course {course}` first")
    run, todo = FeedbackRun(), []
    digests = _digests(course, lab, students, results, notebooks)
    for s in students:
        try:
            check_student_id(s)
        except GradingError as err:
            run.failed[s] = str(err)
            continue
        folder = course / "feedback" / s / lab
        if not force and _up_to_date(folder, lab, digests[s], s in notebooks, s in results):
            run.unchanged.append(s)
        else:
            todo.append(s)
    for s in todo:                       # a run stopped half way leaves these to be made again
        (course / "feedback" / s / lab / STAMP).unlink(missing_ok=True)
    rendered = _render_all(course, lab, [s for s in todo if s in notebooks], workers) if todo else {}
    for s in todo:
        folder = course / "feedback" / s / lab
        problem = rendered.get(s, "")
        if problem:
            (folder / f"{lab}.html").unlink(missing_ok=True)   # never an old page beside a new result
            run.failed[s] = problem
        try:
            if s in results:
                write_pages(course, lab, [results[s]])
        except Exception as err:
            run.failed[s] = student_text(f"{run.failed.get(s, '')} {type(err).__name__}: {err}".strip(), 1000)
        if s not in run.failed:
            _write(folder / STAMP, digests[s] + "\n")
            run.written.append(s)
    run.pages = sorted(p for s in students for p in (course / "feedback" / s / lab).glob("*.html"))
    return run


def feedback(course: os.PathLike, lab: str, student: Optional[str] = None) -> List[Path]:
    """Write the notebook feedback pages of ``lab`` (every autograded student, or one) afresh, each
    with our Content-Security-Policy; returns them. Raises when one could not be made (after the others)."""
    run = update_feedback(course, lab, student, force=True)
    if run.failed:
        raise GradingError(run.format())
    return [p for p in run.pages if p.name == f"{lab}.html"]


def export_csv(course: os.PathLike, dest: Optional[os.PathLike] = None,
               labs: Optional[List[str]] = None) -> Path:
    """Write nbgrader's CSV grade sheet (default ``<course>/grades.csv``); returns its path."""
    from nbgrader.plugins.export import CsvExportPlugin

    course = Path(course).resolve()
    dest = Path(dest) if dest else course / "grades.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    plugin = CsvExportPlugin(to=str(dest), assignment=list(labs or []))
    with gradebook(course) as gb:
        plugin.export(gb)
    return dest


def feedback_pages(course: os.PathLike, lab: str, student: Optional[str] = None, *, force: bool = False,
                   workers: Optional[int] = None) -> List[Path]:
    """The notebook page and our per-test results page of every graded student of ``lab`` (or one),
    made where they changed (``update_feedback``); returns both kinds. Raises after the others when
    one student's could not be made."""
    run = update_feedback(course, lab, student, force=force, workers=workers)
    if run.failed:
        raise GradingError(run.format())
    return run.pages


def export_all(course: os.PathLike, lab: str, sheets: "Optional[SheetOptions]" = None) -> Dict[str, Path]:
    """Every export of ``lab``: nbgrader's CSV (all labs), then under ``exports/<lab>/`` the
    per-test CSV, Gradescope results, the class report and, when there is a roster (``sheets``,
    or the students ``collect --roster`` added), Canvas and Moodle grade sheets with their report
    (``lms.py``). Late penalties are assessed afresh first (``latepenalty.refresh``: a changed deadline,
    or a written grade that changed the score, reaches the gradebook and every file). Returns name -> path."""
    from .exports import class_report, export_gradescope, export_tests_csv
    from .latepenalty import refresh
    from .lms import SheetOptions, write_sheets
    from .results import load_results
    from .written import with_written_grades

    course = Path(course).resolve()
    results = refresh(course, lab, with_written_grades(course, lab, load_results(course, lab)))
    folder = course / "exports" / lab
    export_gradescope(results, folder / "gradescope")
    return {
        "grades": export_csv(course),
        "tests": export_tests_csv(results, folder / "tests.csv"),
        "gradescope": folder / "gradescope",
        "report": class_report(results, folder / "report", lab=lab),
        **write_sheets(course, {lab: results}, folder, sheets or SheetOptions()),
    }
