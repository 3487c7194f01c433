"""Autograde a lab's submissions: repaired, sandboxed, in parallel, with one gradebook writer.

Each submission goes through ``GRADE_STEPS`` in a worker (``grade_one``, a pure function of a
``Job``, so it runs the same in a local process pool or on a Dask cluster):

  repair   read the file (``reading.py``), rebuild it on the grading template (``repair.py``):
           metadata, ids, moved, deleted or edited test cells; an unreadable file becomes a result,
           not a crash;
  execute  run it cell by cell in a sandboxed kernel (``runner.py``, ``sandbox.py``), forked from a
           zygote that imported the lab's libraries once for the whole run (``zygote.py``: the same
           sandbox; where the grader is root with bubblewrap, else a new Python for each kernel);
  rules    check the student's cells on their source (``rules.py``): a part that calls a test
           helper or a shortcut it forbids earns nothing, whatever its kernel then does;
  score    compare, outside the sandbox, with the reference outputs (``scoring.py``), and redact
           any hidden-test source the submission printed (``preprocessors.redact_hidden_lines``).

Only the parent process writes: the result JSON, the autograded notebook (for nbgrader's
feedback and formgrader) and the scores in nbgrader's gradebook, one submission at a time as
results arrive. A worker that fails for any reason yields an ``ungraded`` result for that
student and the others go on. A rerun is idempotent: a submission whose inputs (file, template,
reference, limits) are unchanged keeps its saved result unless ``force`` is given.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from .course import GradingError, gradebook, grading_template, hidden_cases, nbgrader_env, reference_store
from .results import SubmissionResult, TestResult, load_result, save_result
from .sandbox import Limits, bubblewrap, open_sandbox
from .zygote import Zygote, for_worker, preload, usable

# Bump when grading rules change: saved results with another version are graded again.
GRADER_VERSION = "3"


@dataclass
class Job:
    """Everything a worker needs to grade one submission (picklable, paths absolute)."""

    course: Path
    lab: str
    student: str
    submission: Path
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "auto"           # auto (bubblewrap when it works), bwrap, or limits
    digest: str = ""
    kernels: str = "auto"           # auto (forked from a zygote where it can be), warm, or fresh
    zygote: str = ""                # the folder of the zygote autograde started for this run, if any


@dataclass
class Graded:
    """What a worker sends back to the writer."""

    result: SubmissionResult
    notebook: Optional[str] = None   # the executed notebook (JSON), None when nothing ran


# --- in the worker -------------------------------------------------------------------------------

def grade_one(job: Job) -> Graded:
    """Repair, execute and score one submission. Never raises: failures become results.

    Each step's seconds go to ``result.phases`` (with the runner's own, and each code cell's)."""
    import nbformat
    start, lap = time.monotonic(), time.perf_counter()
    template = nbformat.read(str(grading_template(job.course, job.lab)), as_version=4)
    result = SubmissionResult(job.student, job.lab, source=str(job.submission), digest=job.digest)
    try:
        from .reading import UnreadableNotebook, read_submission
        from .repair import repair
        try:
            submitted = read_submission(job.submission.read_bytes())
        except UnreadableNotebook as err:
            result.problem = str(err)
            result.tests = _all(template, "unreadable", str(err))
            return Graded(_timed(result, start))
        repaired = repair(submitted, template)
        result.repairs = list(repaired.repairs)
        nb = repaired.notebook
        from . import rules
        broken = {name: rules.describe(v) for name, v in rules.violations(nb.cells, template.cells).items()}
        lap = _lap(result.phases, "read and repair", lap)
        use_bwrap = _uses_bwrap(job.sandbox)
        if job.sandbox == "bwrap" and bubblewrap() is None:
            raise GradingError("--sandbox bwrap was asked for, but bubblewrap is missing or does not "
                               "work here: `apt-get install bubblewrap`, or use --sandbox auto")
        from .runner import EMIT_NAME, run_notebook
        from .scoring import read_emitted, score
        # The job folder goes after every process of the sandbox is killed, without recursion (a student
        # can leave a chain of folders thousands deep) and without following links.
        box_zygote, kernels = for_worker(job.kernels, use_bwrap, preload(template), job.zygote)
        lap = _lap(result.phases, "zygote start", lap)   # waits for its imports at a worker's first submission
        with open_sandbox(job.limits, use_bwrap, chosen=job.sandbox == "limits") as box:
            lap = _lap(result.phases, "sandbox set-up", lap)
            box.zygote = box_zygote
            result.sandbox = f"{box.description}; {kernels}"
            run = run_notebook(nb, box, job.limits)
            if run.unforked:
                result.sandbox += f"; the zygote could not fork a kernel, so new Pythons ran it ({run.unforked})"
            lap = _lap(result.phases, "run the notebook", lap)
            emitted = read_emitted(box.job / "work" / EMIT_NAME)
        lap = _lap(result.phases, "sandbox tear-down", lap)
        result.phases.update(run.phases)
        result.phases.update({f"cell {i}": round(c.seconds, 4) for i, c in sorted(run.cells.items())})
        reference = pickle.loads(reference_store(job.course, job.lab).read_bytes())
        cases = json.loads(hidden_cases(job.course, job.lab).read_text())
        result.tests = score(nb, run.cells, cases, emitted, reference, _tolerances(job.course, job.lab), broken)
        _redact(nb, result.tests, template)
        if run.restarts:
            result.repairs.append(f"the kernel was restarted {run.restarts} time(s) after a crash or timeout")
        _mark_hidden_failures(nb, result.tests)
        _add_rubrics(nb, job.course, job.lab)
        lap = _lap(result.phases, "scoring", lap)
        text = nbformat.writes(nb)
        _lap(result.phases, "serialise", lap)
        return Graded(_timed(result, start), text)
    except Exception as err:  # the grader's own failure: say so, never lose the other students
        result.problem = f"the grader failed on this submission: {type(err).__name__}: {err}"
        result.tests = _all(template, "ungraded", result.problem)
        print(traceback.format_exc(), file=sys.stderr)
        return Graded(_timed(result, start))


def _add_rubrics(nb, course: Path, lab: str) -> None:
    """The TA's copy (what the formgrader shows) gets each written answer's rubric, from the course's
    source notebook, right below the answer; feedback drops it (``written.drop_rubrics``)."""
    import nbformat
    from .written import add_rubrics, rubrics
    source = Path(course) / "source" / lab / f"{lab}.ipynb"
    if source.exists():
        add_rubrics(nb, rubrics(nbformat.read(str(source), as_version=4)))


def _tolerances(course: Path, lab: str) -> dict:
    """Key -> [rtol, atol] recorded at release (none for a lab released before they were)."""
    from seqlab.grading import tolerances_path
    path = tolerances_path(reference_store(course, lab))
    return json.loads(path.read_text()) if path.exists() else {}


def _all(template, status: str, message: str) -> List[TestResult]:
    from .scoring import grade_cells
    from .written import written_cells
    return [TestResult(name, 0.0, points, status, message[:2000])
            for _, name, points in sorted(grade_cells(template) + written_cells(template))]


def _lap(phases: Dict[str, float], name: str, since: float) -> float:
    """Record the seconds since ``since`` as ``phases[name]``; returns now, the next step's start."""
    now = time.perf_counter()
    phases[name] = round(now - since, 4)
    return now


def _timed(result: SubmissionResult, start: float) -> SubmissionResult:
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _redact(nb, tests: List[TestResult], template) -> None:
    """No hidden-test source the submission printed or raised survives in what is saved."""
    from .preprocessors import hidden_lines_pattern, redact_hidden_lines, redact_text
    pattern = hidden_lines_pattern(template.cells)
    for cell in nb.cells:
        redact_hidden_lines(cell, pattern)
    for test in tests:
        test.message = redact_text(test.message, pattern)


def _mark_hidden_failures(nb, tests: List[TestResult]) -> None:
    """Show the outside verdict in the autograded notebook, where nbgrader's pages look."""
    import nbformat
    verdicts = {t.name: t for t in tests if t.status in ("hidden_failed", "missing", "forbidden")}
    for cell in nb.cells:
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if name in verdicts:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="HiddenTestFailed", evalue=verdicts[name].message,
                traceback=[f"HiddenTestFailed: {verdicts[name].message}"]))


# --- in the parent: jobs, workers, the single writer ------------------------------------------

def submissions(course: Path, lab: str, students: Optional[Iterable[str]] = None) -> Dict[str, Path]:
    """Student -> collected notebook under ``submitted/``."""
    found = {p.parent.parent.name: p for p in sorted((course / "submitted").glob(f"*/{lab}/{lab}.ipynb"))}
    if students is not None:
        wanted = list(students)
        unknown = [s for s in wanted if s not in found]
        if unknown:
            raise GradingError(f"no submission of {lab} for {unknown}: run `seqlab-grade collect` first")
        found = {s: found[s] for s in wanted}
    return found


def digest(course: Path, lab: str, submission: Path, limits: Limits) -> str:
    h = hashlib.sha256(GRADER_VERSION.encode())
    for path in (submission, grading_template(course, lab), reference_store(course, lab), hidden_cases(course, lab)):
        h.update(path.read_bytes())
    h.update(json.dumps(_tolerances(course, lab), sort_keys=True).encode())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()


def autograde(course: os.PathLike, lab: str, students: Optional[Iterable[str]] = None, *,
              workers: Optional[int] = None, limits: Optional[Limits] = None, sandbox: str = "auto",
              engine: str = "local", scheduler: Optional[str] = None, force: bool = False,
              progress: bool = True, kernels: str = "auto") -> List[SubmissionResult]:
    """Grade ``students`` (default: all collected) of ``lab``; returns their results.

    ``engine`` is ``local`` (a process pool of ``workers``, default one per core) or ``dask``
    (``scheduler`` is a Dask scheduler address; without one a local Dask cluster is started).
    ``kernels``: ``auto`` forks each kernel from a zygote where the grader runs as root with bubblewrap
    (``zygote.py``: the same sandbox, the lab's imports paid once per run, or once per Dask worker),
    ``warm`` insists on it, ``fresh`` starts a new Python for every kernel.
    """
    if kernels not in ("auto", "warm", "fresh"):
        raise GradingError(f"unknown kernels {kernels!r}: use auto, warm or fresh")
    course = Path(course).resolve()
    for need in (grading_template(course, lab), reference_store(course, lab), hidden_cases(course, lab)):
        if not need.exists():
            raise GradingError(f"{need} is missing: run `seqlab-grade release {lab} --course {course}` "
                               "before autograding")
    limits = limits or Limits()
    # first: its imports take seconds, and go on beside everything until the workers' first kernels
    zygote = _shared_zygote(course, lab, kernels, sandbox, engine)
    try:
        return _autograde(course, lab, students, workers, limits, sandbox, engine, scheduler, force, progress,
                          kernels, zygote)
    finally:
        if zygote is not None:
            zygote.stop()


def _autograde(course: Path, lab: str, students, workers, limits: Limits, sandbox: str, engine: str,
               scheduler: Optional[str], force: bool, progress: bool, kernels: str,
               zygote: Optional[Zygote]) -> List[SubmissionResult]:
    from .deadlines import lab_deadline
    from .latepenalty import refresh
    deadline = lab_deadline(course, lab)     # a seqlab.toml with a mistake stops here, before any grading
    jobs, results, kept = [], [], []
    for student, path in submissions(course, lab, students).items():
        job = Job(course, lab, student, path.resolve(), limits, sandbox, digest(course, lab, path, limits), kernels,
                  str(zygote.folder) if zygote else "")
        saved = None if force else load_result(course, lab, student)
        if saved is not None and saved.digest == job.digest and not _grader_failed(saved):
            kept.append(saved)          # unchanged since it was graded: only its lateness may have changed
        else:
            jobs.append(job)
    workers = workers or os.cpu_count() or 1
    run = _run_dask if engine == "dask" else _run_local
    if engine not in ("local", "dask"):
        raise GradingError(f"unknown engine {engine!r}: use local or dask")
    with _progress(len(jobs), lab, progress) as bar:
        for graded in run(jobs, workers, scheduler):
            write(course, graded, deadline)
            results.append(graded.result)
            bar.update(1)
    results += refresh(course, lab, kept, deadline)     # a new time, extension or deadline since
    return sorted(results, key=lambda r: r.student)


def _uses_bwrap(sandbox: str) -> bool:
    return sandbox == "bwrap" or (sandbox == "auto" and bubblewrap() is not None)


def _shared_zygote(course: Path, lab: str, kernels: str, sandbox: str, engine: str) -> Optional[Zygote]:
    """A zygote for this run's local workers, started now so that its imports overlap everything else; None
    where none can serve them (then each worker decides for itself, ``zygote.for_worker``)."""
    if engine != "local" or kernels == "fresh" or usable() or not _uses_bwrap(sandbox):
        return None
    # plain JSON (the lab's own file): nbformat takes a second to import, and the zygote should start at once
    template = json.loads(grading_template(course, lab).read_text(encoding="utf-8"))
    try:
        return Zygote(preload(template)).start()
    except OSError:
        return None


def _grader_failed(saved: SubmissionResult) -> bool:
    """Was it left ungraded by the grader or its worker (worth another try)? An unreadable file
    with the same digest would only be unreadable again."""
    return any(t.status == "ungraded" for t in saved.tests)


def write(course: Path, graded: Graded, deadline=None) -> None:
    """The single writer: result JSON, autograded notebook (sanitised: TAs and students open it),
    gradebook scores, then the late penalty, from the submission's time and the lab's ``deadline``
    (default: the course's), set nbgrader's way (``latepenalty.record``) once the scores are in."""
    import nbformat
    from .deadlines import lab_deadline
    from .latepenalty import assess_result, record
    from .sanitize import sanitize_notebook
    r = graded.result
    deadline = deadline or lab_deadline(course, r.lab)
    r.late = assess_result(course, r, deadline)
    dest = course / "autograded" / r.student / r.lab / f"{r.lab}.ipynb"
    before = _written_answers(dest)  # what the TA graded, if this submission was graded before
    after = before
    if graded.notebook is not None:
        after = _written_answers(nbformat.reads(graded.notebook, as_version=4))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        safe = sanitize_notebook(nbformat.reads(graded.notebook, as_version=4))
        tmp.write_text(nbformat.writes(safe), encoding="utf-8")
        tmp.replace(dest)
    with nbgrader_env(), gradebook(course) as gb:
        gb.update_or_create_student(r.student)
        try:
            gb.find_submission(r.lab, r.student)
        except Exception:
            gb.add_submission(r.lab, r.student)
        for test in r.tests:
            try:
                grade = gb.find_grade(test.name, r.lab, r.lab, r.student)
            except Exception:
                continue
            if test.status == "needs_grading":   # a written answer: the TA's to grade
                if before.get(test.name) != after.get(test.name):  # a new or changed answer: graded again
                    grade.manual_score = None
                grade.auto_score, grade.needs_manual_grade = None, grade.manual_score is None
                continue
            grade.auto_score = test.points
            grade.needs_manual_grade = grade.manual_score is not None   # nbgrader's SaveAutoGrades rule
        gb.db.commit()
    save_result(course, r)
    record(course, r.lab, [r], deadline)


def _written_answers(notebook) -> Dict[str, str]:
    """Grade id -> text of each written answer in an autograded notebook (a path, or read); {} when
    there is none or it cannot be read."""
    import nbformat
    from .written import is_written
    try:
        nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, Path) else notebook
        return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if is_written(c)}
    except Exception:
        return {}


def _run_local(jobs: List[Job], workers: int, scheduler: Optional[str]):
    if not jobs:
        return
    workers = max(1, min(workers, len(jobs)))
    # spawn: a clean interpreter per worker (forking a process that holds threads is unsafe).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(grade_one, job): job for job in jobs}
        for future in as_completed(futures):
            yield _outcome(future, futures[future])


def _run_dask(jobs: List[Job], workers: int, scheduler: Optional[str]):
    try:
        from distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise GradingError("the dask engine needs Dask: pip install 'seqlab[scale]'") from None
    if not jobs:
        return
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                  processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = {client.submit(grade_one, job, pure=False): job for job in jobs}
        for future in dask_completed(futures):
            yield _outcome(future, futures[future])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _outcome(future, job: Job) -> Graded:
    try:
        return future.result()
    except Exception as err:  # the worker process itself died (killed, out of memory)
        result = SubmissionResult(job.student, job.lab, source=str(job.submission), digest=job.digest,
                                  problem=f"the grading worker died: {type(err).__name__}: {err}")
        import nbformat
        template = nbformat.read(str(grading_template(job.course, job.lab)), as_version=4)
        result.tests = _all(template, "ungraded", result.problem)
        return Graded(result)


class _progress:
    """A tqdm bar with an ETA on stderr (quiet when ``show`` is false)."""

    def __init__(self, total: int, lab: str, show: bool):
        self.total, self.lab, self.show, self.bar = total, lab, show, None

    def __enter__(self):
        if self.show and self.total:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.total, desc=f"autograde {self.lab}", unit="submission", file=sys.stderr)
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
