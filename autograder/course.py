"""The course folder and the nbgrader configuration every step shares.

A course is nbgrader's standard layout under one root (``source/``, ``release/``,
``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db``) plus one folder of ours,
``reference/``, holding the recorded outputs of each lab's reference solution (grader-only:
never under ``release/``). Steps talk to nbgrader only through ``NbGraderAPI`` built here, so
the settings that suit these labs live in one place:

- a generous per-cell timeout (training cells run for minutes), with the kernel interrupted
  when it runs out so one runaway cell costs that cell, not the whole notebook;
- stderr noise demoted before grades are saved (see ``preprocessors.DemoteStderr``);
- feedback pages with hidden tests and rubrics removed (``preprocessors.HideHiddenTests``, ``DropRubrics``).

nbgrader is imported inside functions so ``import autograder`` stays light.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

# Seconds one cell may run under autograding before it is interrupted (the labs' reduced
# training budget takes well under a minute on a laptop CPU; this leaves room for slow graders).
DEFAULT_CELL_TIMEOUT = 600

# The folder, under the course root, that holds the reference outputs (grader-only).
REFERENCE_DIR = "reference"

# nbgrader's late-submission plugin for every course: the policy in the course's seqlab.toml.
LATE_PLUGIN = "autograder.latepenalty.SeqlabLatePenalty"


# Kernels log only errors: ipykernel >= 7 warns at every start that it runs over local TCP.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)


class GradingError(RuntimeError):
    """A step of the pipeline could not do its job; the message says what to do."""


def find_repo(repo: Optional[os.PathLike] = None) -> Path:
    """The repository root holding ``solutions/``: ``repo`` if given, else the current folder,
    else the checkout this package was installed from (``pip install -e .``)."""
    candidates = [Path(repo)] if repo is not None else [Path.cwd(), Path(__file__).resolve().parents[1]]
    for path in candidates:
        if (path / "solutions").is_dir():
            return path.resolve()
    where = " or ".join(str(p) for p in candidates)
    raise GradingError(f"no solutions/ folder in {where}: run from the repository root or pass --repo")


def source_notebook(repo: Path, lab: str) -> Path:
    """``solutions/<lab>.ipynb``, checked to exist."""
    path = Path(repo) / "solutions" / f"{lab}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in (Path(repo) / "solutions").glob("*.ipynb"))
        raise GradingError(f"solutions/{lab}.ipynb not found in {repo}: labs there are {known or 'none'}; "
                           "run from the repository root or pass --repo")
    return path


def reference_store(course: Path, lab: str) -> Path:
    """Where the release step records the reference outputs of ``lab``."""
    return Path(course) / REFERENCE_DIR / f"{lab}.pkl"


def grading_template(course: Path, lab: str) -> Path:
    """The student notebook with hidden tests restored: what repair rebuilds submissions on."""
    return Path(course) / REFERENCE_DIR / f"{lab}.template.ipynb"


def hidden_cases(course: Path, lab: str) -> Path:
    """JSON: grade id -> the hidden cases (reference keys) its test cell checks."""
    return Path(course) / REFERENCE_DIR / f"{lab}.cases.json"


def release_notebook(course: Path, lab: str) -> Path:
    """The student notebook of ``lab`` as released into the course."""
    return Path(course) / "release" / lab / f"{lab}.ipynb"


def nbgrader_config(course: Path, *, cell_timeout: int = DEFAULT_CELL_TIMEOUT) -> Any:
    """The traitlets ``Config`` for nbgrader in this course."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader import preprocessors as nbp
    from traitlets.config import Config

    from .preprocessors import DemoteStderr, DropRubrics, HideHiddenTests

    c = Config()
    c.CourseDirectory.root = str(Path(course).resolve())
    # nbgrader's exchange (JupyterHub release/collect) is unused here; a folder inside the course
    # stops its CRITICAL "Unwritable directory /usr/local/share/nbgrader/exchange" on every start.
    c.Exchange.root = str(Path(course).resolve() / "exchange")
    c.NbGraderAPI.log_level = "WARN"
    c.Execute.timeout = int(cell_timeout)
    c.Execute.interrupt_on_timeout = True
    c.Execute.startup_timeout = 120
    c.Execute.extra_arguments = list(KERNEL_ARGUMENTS)
    # nbgrader's own list with DemoteStderr added. Order matters:
    #   Execute first (it makes the outputs); DemoteStderr after LimitOutput (which may trim
    #   streams) and before SaveAutoGrades (which turns any stderr into a zero).
    c.Autograde.autograde_preprocessors = [
        nbp.Execute,
        nbp.IgnorePattern,
        ClearMetadataPreprocessor,
        nbp.LimitOutput,
        DemoteStderr,
        nbp.SaveAutoGrades,
        nbp.AssignLatePenalties,
        nbp.CheckCellMetadata,
    ]
    # The course's late policy (seqlab.toml) as nbgrader's late-submission plugin (``latepenalty.py``).
    c.AssignLatePenalties.plugin_class = LATE_PLUGIN
    # nbgrader 0.9.6 renders the autograded notebook, hidden tests included; HideHiddenTests
    # runs after GetGrades (which needs the cells' grade ids, not their source).
    c.GenerateFeedback.preprocessors = [nbp.GetGrades, DropRubrics, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    c.GenerateFeedback.exporter_class = FEEDBACK_EXPORTER    # every page with our Content-Security-Policy
    return c


# What the formgrader's own buttons must do as seqlab-grade does (names, since the config file is text).
FEEDBACK_EXPORTER = "autograder.report.FeedbackExporter"
FORMGRADER_LINES = {
    "AssignLatePenalties.plugin_class": f"c.AssignLatePenalties.plugin_class = {LATE_PLUGIN!r}\n",
    # "Generate feedback" in the formgrader: hidden tests and rubrics left out, the CSP in every page
    "GenerateFeedback.preprocessors": "c.GenerateFeedback.preprocessors = ['nbgrader.preprocessors.GetGrades', "
                                      "'autograder.preprocessors.DropRubrics', 'autograder.preprocessors.HideHiddenTests', "
                                      "'nbconvert.preprocessors.CSSHTMLHeaderPreprocessor']\n",
    "GenerateFeedback.exporter_class": f"c.GenerateFeedback.exporter_class = {FEEDBACK_EXPORTER!r}\n",
}


def write_course_config(course: Path) -> Path:
    """``<course>/nbgrader_config.py``, so that ``jupyter lab`` started in the course folder finds
    the course in nbgrader's formgrader (and logs no warning about a missing exchange folder), and
    what the formgrader or an ``nbgrader`` command run there does follows the course's rules: the
    late policy, and feedback pages without hidden tests or rubrics and with our CSP. Lines missing
    from a file written before are added to it."""
    path = Path(course).resolve() / "nbgrader_config.py"
    if not path.exists():
        path.write_text("# Written by seqlab-grade: lets `jupyter lab` here open this course in the formgrader.\n"
                        "c = get_config()  # noqa: F821\n"
                        f"c.CourseDirectory.root = {str(path.parent)!r}\n"
                        f"c.Exchange.root = {str(path.parent / 'exchange')!r}\n" + "".join(FORMGRADER_LINES.values()))
        return path
    text = path.read_text(encoding="utf-8")
    missing = [line for setting, line in FORMGRADER_LINES.items() if setting not in text]
    if missing:
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(missing))
    return path


def open_api(course: Path, *, cell_timeout: int = DEFAULT_CELL_TIMEOUT) -> Any:
    """An ``NbGraderAPI`` on the course at ``course`` (created if missing)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    (Path(course) / "exchange").mkdir(parents=True, exist_ok=True)
    write_course_config(course)
    config = nbgrader_config(course, cell_timeout=cell_timeout)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@contextlib.contextmanager
def gradebook(course: Path) -> Iterator[Any]:
    """The course's nbgrader ``Gradebook`` (sqlite), closed on exit."""
    from nbgrader.api import Gradebook

    with nbgrader_env():
        db = Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}")
    try:
        yield db
    finally:
        db.close()


@contextlib.contextmanager
def nbgrader_env(**env: Optional[str]) -> Iterator[None]:
    """Run nbgrader with ``env`` set (``None`` unsets) and this Python's scripts on PATH.

    nbgrader runs the ``alembic`` script by name when it creates a gradebook, and kernels are
    started by name; both must resolve to this environment even when it is not activated.
    The grading kernel inherits this environment, which is how ``SEQLAB_REFERENCE_STORE``
    reaches the hidden tests.
    """
    from sqlalchemy.exc import SAWarning

    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if shutil.which("alembic") is None or not path.startswith(scripts):
        env.setdefault("PATH", scripts + os.pathsep + path)
    saved = {key: os.environ.get(key) for key in env}
    with warnings.catch_warnings():
        # nbgrader 0.9.6's gradebook, on SQLAlchemy 2.x, warns on every new submission
        # ("Object of type <SubmittedAssignment> not in session"); the rows are saved all the same.
        warnings.filterwarnings("ignore", message="Object of type .* not in session", category=SAWarning)
        try:
            _apply(env)
            yield
        finally:
            _apply(saved)


def _apply(env: dict) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def failure_reason(result: dict) -> str:
    """The most telling line of a failed ``NbGraderAPI`` call: the last exception in its log."""
    log = result.get("log") or ""
    raised = [m.group(1) for m in _RAISED.finditer(log) if "NbGraderException" not in m.group(1)]
    if raised:
        return raised[-1].strip()
    errors = [ln.strip() for ln in log.splitlines() if "[ERROR]" in ln]
    return errors[0] if errors else "nbgrader reported a failure without a message"


_RAISED = re.compile(r"^\s*((?:[\w.]+\.)?\w*(?:Error|Exception|Exit)\b: .*)$", re.MULTILINE)


def check(result: dict, what: str, hint: str = "") -> None:
    """Raise ``GradingError`` when an ``NbGraderAPI`` call reports failure."""
    if not result.get("success"):
        raise GradingError(f"{what} failed: {failure_reason(result)}" + (f"\n{hint}" if hint else ""))
