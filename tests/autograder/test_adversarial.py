"""The adversarial corpus (``hostile.py``) graded through the real pipeline, in one run.

One module-scoped run releases the tiny lab (its reference solution carrying a canary), plants
canaries in the grader's /tmp, home and environment, collects every hostile submission from a
folder and autogrades them all (two workers, short limits, bubblewrap), then reruns it. The tests
read what that run left: each kind's statuses and points, the honest control's full marks, the
grader's files untouched, no secret in any output, an idempotent rerun, no sandbox process left.
Two to three minutes on two busy cores; under pytest-xdist one worker grades, the others wait
and read its record.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import seqlab
from autograder import pipeline
from autograder.collect import collect
from autograder.course import grading_template, hidden_cases, reference_store, release_notebook
from autograder.grade import score_table
from autograder.release import release
from autograder.results import STATUSES, load_results, results_dir
from autograder.sandbox import Limits, bubblewrap
from autograder.scoring import grade_cells, read_emitted
from hostile import World, kinds, write_corpus
from labfactory import HIDDEN_MARK, TINY_LAB, tiny_lab, write_tiny_repo

pytestmark = pytest.mark.skipif(bubblewrap() is None or os.getuid() != 0,
                                reason="the corpus needs bubblewrap and root (a uid per sandbox): "
                                       "apt-get install bubblewrap and run as root, as .ci/run does")

# Sized for a 2-core machine at load 8: an honest cell (importing torch, say) never nears the cell
# limit, and the runaway kinds still reach theirs.
# Sized for a busy 2-core machine (load 8): an honest cell that imports torch must finish well inside
# them; the kinds that run into them on purpose pay these seconds, so they are not larger.
LIMITS = Limits(cell_seconds=40, notebook_seconds=150, memory_mb=2048)
CORPUS = kinds()
# Graded after the others, on one worker: the fork bomb's spinning children would starve a kernel
# running beside them (see the report), and its uid's next kernel is the one to watch.
ALONE = ("fork_bomb", "after_fork_bomb")
FORCED = ("honest", "os_exit", "corrupted_json")   # regraded with force=True
# Graded first, so that their seconds overlap the others' (the pool takes jobs in this order).
SLOW = ("sleep_past_notebook", "infinite_loop", "swallow_interrupt", "display_flood", "huge_output")
ENV_CANARY = "SEQLAB_ADVERSARIAL_CANARY"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(*roots: Path) -> dict:
    """Path -> sha256 of every file under (or at) ``roots``."""
    found = {}
    for root in roots:
        for path in ([root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())):
            found[str(path)] = sha(path)
    return found


def folder_state(root: Path) -> list:
    """(path, mode) of ``root`` and everything under it: what a followed link would change."""
    return [(str(p), p.lstat().st_mode) for p in [root, *sorted(root.rglob("*"))]]


def with_canary(repo: Path, token: str) -> None:
    """Put ``token`` inside the reference solution of ``add`` (hidden from the student version)."""
    path = repo / "solutions" / f"{TINY_LAB}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "add")
    cell.source = cell.source.replace("    return a + b", f"    # {token}\n    return a + b")
    nbformat.write(nb, str(path))


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def left_behind(results, since: float, token: str, jobs: Path) -> list:
    """Processes this run left: under the uids its results' sandboxes had, started after ``since``
    (seconds since boot) and running in one of its job folders (under ``jobs``: a test beside it
    may get a uid this run released), or, but for this one, carrying ``token`` in their
    environment (its workers and the bubblewrap parents of its kernels)."""
    uids = {int(m.group(1)) for r in results for m in [re.search(r"uid (\d+)", r.sandbox)] if m}
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            started = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            command = (entry / "cmdline").read_bytes()
            mine = token.encode() in (entry / "environ").read_bytes() and b"resource_tracker" not in command
            ours = b"kernel.json" not in command or str(jobs).encode() in command
            if mine or (entry.stat().st_uid in uids and started >= since and ours):
                found.append((int(entry.name), entry.stat().st_uid, command[:200]))
        except (OSError, IndexError, ValueError):
            pass
    return found


def code_cells(course: Path, student: str) -> list:
    """The code cells of a student's autograded notebook (none if nothing ran)."""
    path = course / "autograded" / student / TINY_LAB / f"{TINY_LAB}.ipynb"
    return [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"] if path.exists() else []


def outputs(course: Path, student: str) -> str:
    """All output text (streams, displays, errors) of a student's autograded notebook."""
    return "\n".join(json.dumps(o) for c in code_cells(course, student) for o in c.outputs)


def snapshot(course: Path) -> dict:
    """The saved results (bytes) and the gradebook's scores."""
    return {"results": {p.name: p.read_bytes() for p in sorted(results_dir(course, TINY_LAB).glob("*.json"))},
            "scores": score_table(course, TINY_LAB).scores}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus graded once per test run. Under pytest-xdist the first worker to get here grades
    it and the others wait, then read its record: two gradings at once would starve each other's
    kernels past their 5 s limit."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return grade_corpus(tmp_path_factory.mktemp("adversarial"))
    shared = tmp_path_factory.getbasetemp().parent      # the run's basetemp, above each worker's own
    with open(shared / "adversarial.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = shared / "adversarial.pickle"
        if not record.exists():
            record.write_bytes(pickle.dumps(grade_corpus(tmp_path_factory.mktemp("adversarial"))))
        return pickle.loads(record.read_bytes())


def grade_corpus(root: Path) -> SimpleNamespace:
    """Release, collect and autograde the whole corpus under ``root``, then rerun it; what the tests read."""
    token = uuid.uuid4().hex
    secret = {name: f"{name}-canary-{token}" for name in ("solution", "tmp", "home", "env")}
    repo, course, grader_tmp, jobs = root / "repo", root / "course", root / "grader-tmp", root / "jobs"
    jobs.mkdir()
    write_tiny_repo(repo)
    with_canary(repo, secret["solution"])
    grader_tmp.mkdir()
    (grader_tmp / "canary.txt").write_text(secret["tmp"])
    home_canary = Path.home() / f".seqlab-adversarial-{token}"
    home_canary.write_text(secret["home"])
    timings = {}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(ENV_CANARY, secret["env"])
            mp.setenv("TMPDIR", str(jobs))      # the workers' job folders, to tell this run's kernels
            start = time.monotonic()
            release(TINY_LAB, course, repo=repo, cell_timeout=60)
            timings["release"] = time.monotonic() - start
            honest_path = course / "submitted" / "honest" / TINY_LAB / f"{TINY_LAB}.ipynb"
            world = World(
                released=nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4),
                source=tiny_lab(),   # the answers, without the canary
                reference=reference_store(course, TINY_LAB),
                secrets=(reference_store(course, TINY_LAB), hidden_cases(course, TINY_LAB),
                         grading_template(course, TINY_LAB), course / "source" / TINY_LAB / f"{TINY_LAB}.ipynb",
                         repo / "solutions" / f"{TINY_LAB}.ipynb", course / "gradebook.db", honest_path,
                         grader_tmp / "canary.txt", home_canary),
                targets=(course / "PWNED.txt", course / "reference" / "PWNED.txt", repo / "solutions" / "PWNED.txt",
                         Path(seqlab.__file__).parent / f"PWNED-{token}.txt", Path(sys.prefix) / f"PWNED-{token}.txt",
                         Path.home() / f"PWNED-{token}.txt", grader_tmp / "PWNED.txt"),
                escape=root / "outside" / "escaped.txt", escape_dir=root / "outside" / "conn")
            world.escape_dir.mkdir(parents=True)
            write_corpus(world, root / "inbox", CORPUS)
            report = collect(root / "inbox", course, TINY_LAB)
            guarded = [*world.secrets[:5], grader_tmp, home_canary]
            before = hashes(*guarded)
            outside_before = folder_state(world.escape.parent)
            hidden = [sha(p) for p in world.secrets if p.name != "gradebook.db"]   # it changes as grades land
            start, booted = time.monotonic(), uptime()
            crowd = [*SLOW, *(k.name for k in CORPUS if k.name not in SLOW + ALONE)]
            results = pipeline.autograde(course, TINY_LAB, crowd, workers=2, limits=LIMITS, sandbox="bwrap",
                                         progress=False)
            timings["autograde"] = time.monotonic() - start
            leftover = left_behind(results, booted, secret["env"], jobs)
            start, booted = time.monotonic(), uptime()
            alone = pipeline.autograde(course, TINY_LAB, ALONE, workers=1, limits=LIMITS, sandbox="bwrap",
                                       progress=False)
            timings["fork bomb alone"] = time.monotonic() - start
            results += alone
            leftover += left_behind(alone, booted, secret["env"], jobs)
            first = snapshot(course)
            start = time.monotonic()
            # One worker: what a rerun grades again (results with a problem) must not race a fork bomb.
            rerun = pipeline.autograde(course, TINY_LAB, workers=1, limits=LIMITS, sandbox="bwrap", progress=False)
            timings["rerun"] = time.monotonic() - start
            second = snapshot(course)
            start = time.monotonic()
            pipeline.autograde(course, TINY_LAB, FORCED, workers=2, limits=LIMITS, sandbox="bwrap", force=True,
                               progress=False)
            timings["force"] = time.monotonic() - start
            forced = snapshot(course)
            after = hashes(*guarded)
            outside_after = folder_state(world.escape.parent)
            # nothing of the job folders either: no RAM disk still mounted, no folder left
            leftover += [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(jobs) in line]
            leftover += [str(p) for p in jobs.glob("sg-*")]
        created = [t for t in world.targets if t.exists()]
        for target in created:   # never leave a file behind in the repository or home
            target.unlink()
    finally:
        home_canary.unlink(missing_ok=True)
    print("\nadversarial corpus timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    for r in results:
        print(f"  {r.student:22s} {r.score:g}/{r.max_score:g} {[t.status for t in r.tests]} {r.seconds:.1f} s")
    return SimpleNamespace(course=course, world=world, report=report, results={r.student: r for r in results},
                           rerun={r.student: r for r in rerun}, first=first, second=second, forced=forced,
                           before=before, after=after, created=created, leftover=leftover,
                           outside_before=outside_before, outside_after=outside_after,
                           secrets=[*secret.values(), "SQLite format 3", *hidden])


def max_points(course: Path) -> dict:
    template = nbformat.read(str(grading_template(course, TINY_LAB)), as_version=4)
    return {name: points for _, name, points in grade_cells(template)}


def test_corpus_is_large_and_uses_known_statuses():
    """Does the corpus hold at least 24 kinds, with unique names and only statuses the grader knows?"""
    assert len(CORPUS) >= 24 and len({k.name for k in CORPUS}) == len(CORPUS)
    assert {s for k in CORPUS for s in (k.add, k.scale)} <= set(STATUSES)


def test_every_kind_was_collected(corpus):
    """Did collect find every kind's folder, the "Copy of" one included, and set nothing aside?"""
    assert sorted(corpus.report.collected) == sorted(k.name for k in CORPUS)
    assert not corpus.report.unmatched and not corpus.report.skipped


@pytest.mark.parametrize("kind", CORPUS, ids=[k.name for k in CORPUS])
def test_kind_gets_the_grade_it_deserves(corpus, kind):
    """Does this hostile submission get exactly its deserved status and points per test, the grader unharmed?"""
    result = corpus.results[kind.name]
    most = max_points(corpus.course)
    got = {t.name: (t.status, t.points) for t in result.tests}
    want = {name: (status, most[name] if status == "passed" else 0.0)
            for name, status in (("test_add", kind.add), ("test_scale", kind.scale))}
    assert got == want, f"{kind.name} ({kind.what}): {[(t.name, t.status, t.message[:300]) for t in result.tests]}"
    assert result.score == kind.score
    assert not result.problem.startswith(("the grader failed", "the grading worker died")), result.problem
    text = outputs(corpus.course, kind.name)
    for needed in kind.shows:
        assert needed in text, f"{kind.name}: no {needed!r} in its outputs"
    messages = "\n".join(t.message for t in result.tests)
    hidden = [t.message for t in result.tests if t.status == "hidden_failed"]
    assert not any(re.search(r"= \S+ but ", m) for m in hidden), f"{kind.name}: a hidden check's values shown: {hidden}"
    for needed in kind.says:
        assert needed in messages, f"{kind.name}: no {needed!r} in its messages: {messages}"


def test_honest_control_gets_full_marks(corpus):
    """Does the honest submission, graded beside the hostile ones, get every point?"""
    honest = corpus.results["honest"]
    assert [t.status for t in honest.tests] == ["passed", "passed"]
    assert honest.score == honest.max_score == sum(max_points(corpus.course).values())


def test_grader_files_are_untouched(corpus):
    """Are the reference, hidden cases, template, solutions and the /tmp and home canaries unchanged, and
    did no write into the course, repository, home or /tmp get through?"""
    assert corpus.after == corpus.before
    assert corpus.created == []


def test_probes_were_all_blocked(corpus):
    """Did every read, network and kill probe report itself blocked, none leaking?"""
    text = "\n".join(outputs(corpus.course, k.name) for k in CORPUS)
    assert "PROBE-LEAK" not in text
    reads = outputs(corpus.course, "read_secrets").count("PROBE-BLOCKED read")
    assert reads == len(corpus.world.secrets) + 3   # the files, then /proc/1/environ, the parent's, /proc/1/root


def test_no_secret_reaches_outputs_or_results(corpus):
    """Is no canary, hash of a grader-only file or gradebook byte anywhere in an autograded notebook or
    result, and no hidden-test text in a result or an output (tracebacks aside: they quote hidden lines
    for the TA, and feedback cuts them)?"""
    notebooks = sorted((corpus.course / "autograded").rglob("*.ipynb"))
    results = sorted(results_dir(corpus.course, TINY_LAB).glob("*.json"))
    assert len(notebooks) > len(CORPUS) / 2 and len(results) == len(CORPUS)
    for path in notebooks + results:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not [s for s in corpus.secrets if s in text], path
    for path in results:
        assert HIDDEN_MARK not in path.read_text(encoding="utf-8"), path
    for kind in CORPUS:
        shown = [{k: v for k, v in o.items() if k != "traceback"} for c in code_cells(corpus.course, kind.name)
                 for o in c.outputs]
        assert HIDDEN_MARK not in json.dumps(shown), kind.name


def test_outputs_stay_small(corpus):
    """Does every cell of the printing kinds keep no more than its output cap, and every result stay small?"""
    cap = LIMITS.output_kb * 1024
    for name in ("huge_output", "printing_thread"):
        for cell in code_cells(corpus.course, name):
            assert len(json.dumps(cell.outputs)) < 1.1 * cap, f"{name}, cell {cell.id}"
    for path in results_dir(corpus.course, TINY_LAB).glob("*.json"):
        assert path.stat().st_size < 64 * 1024, path.name


def test_display_flood_is_capped(corpus):
    """Is a cell of 10,000 display outputs kept within the per-cell output cap, with a notice?"""
    flood = max(code_cells(corpus.course, "display_flood"), key=lambda c: len(c.outputs))
    assert len(json.dumps(flood.outputs)) < 1.1 * LIMITS.output_kb * 1024
    assert "output cut" in json.dumps(flood.outputs)    # reached within the first thousand displays


def test_planted_links_cannot_make_the_grader_write_outside(corpus):
    """Can a kernel that turns its job's kernel.log or conn/ into links make the grader create or change
    anything outside the sandbox?"""
    assert corpus.outside_after == corpus.outside_before


def test_emit_file_cannot_be_a_fifo_or_link(tmp_path):
    """Does the grader read the emitted outputs without blocking on a FIFO or following a link out?"""
    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps({"key": "tiny/add/arrays", "value": [1.0, 2.0, 3.0]}) + "\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(outside)
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    box = {}
    reader = threading.Thread(target=lambda: box.update(fifo=read_emitted(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():        # free the blocked reader: a writer that closes at once
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        box["blocked"] = True
    assert not box.get("blocked") and box.get("fifo") == {}
    assert read_emitted(link) == {}


def test_rerun_is_idempotent(corpus):
    """Does a second autograde leave every result file and gradebook score byte for byte as it was?"""
    assert corpus.second["scores"] == corpus.first["scores"]
    assert corpus.second["results"] == corpus.first["results"]


def verdicts(results) -> dict:
    return {r.student: [(t.status, t.points) for t in r.tests] for r in results}


def test_rerun_keeps_every_score(corpus):
    """Does a second autograde give every student the same statuses and points as the first?"""
    assert corpus.second["scores"] == corpus.first["scores"]
    assert verdicts(corpus.rerun.values()) == verdicts(corpus.results.values())


def test_forced_regrade_gives_the_same_scores(corpus):
    """Does force=True, regrading a few kinds from scratch, give the same gradebook scores and verdicts?"""
    assert corpus.forced["scores"] == corpus.first["scores"]
    assert verdicts(load_results(corpus.course, TINY_LAB)) == verdicts(corpus.results.values())


def test_no_sandbox_process_is_left(corpus):
    """After autograde returns, is nothing of this run left: no process under the uids its sandboxes
    had (kernels, fork-bomb children), none carrying its environment (workers, bubblewrap), no job
    folder and no RAM disk mounted under them?"""
    assert corpus.leftover == []
