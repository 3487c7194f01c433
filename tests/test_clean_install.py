"""Do the labs work from a clean install, the way they will on Colab or a student's laptop?

The package is built as a wheel from the files git would ship and installed, with the pinned
torch first, into a fresh virtual environment; nbclient and ipykernel are added (Colab has them;
they are not part of the student install). Each notebook is copied alone into an empty folder and
run there by that environment's Python, with a scrubbed environment and a fresh HOME, so nothing
in the repository can be imported. The reference notebooks must run without an error; the student
notebooks must run their setup cell and fail only where code is missing (NotImplementedError,
or a NameError it causes further down).

The notebooks run with NBGRADER_EXECUTION=autograde (the reduced training budget), so this file
fits in CI; SEQLAB_FULL_BUDGET=1 runs the reference notebooks with the classroom budget instead.
Timings are printed and appended to clean_install_timings.txt in the artifacts folder
($SEQLAB_ARTIFACTS, else tests/artifacts/). Deselect with ``-m "not slow"``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from test_lab_notebooks import stopped_by_missing_code

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LABS = sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb"))
RUNNER = Path(__file__).with_name("clean_install_run.py")
FULL_BUDGET = os.environ.get("SEQLAB_FULL_BUDGET") == "1"
NOTEBOOK_TIMEOUT = 3600 if FULL_BUDGET else 900   # seconds for a whole notebook
SETUP_CELL_ID = "seqlab-colab-setup"                # autograder.release.SETUP_ID


def torch_requirement() -> str:
    """The torch the Makefile installs first (``TORCH ?= torch==X``; the TORCH variable overrides it)."""
    spec = os.environ.get("TORCH") or re.search(r"^TORCH\s*\?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)[1]
    assert "==" in spec, f"torch must be pinned ({spec!r}): an open range downloads a CUDA build of several GB"
    return spec


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("SEQLAB_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report(line: str) -> None:
    """Print a timing and keep it in the artifacts folder (xdist hides a worker's prints)."""
    print(line)
    with open(artifacts_dir() / "clean_install_timings.txt", "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def pip_env() -> dict:
    """The environment for pip: the machine's (its index and wheel settings), minus Python paths."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def build_environment(root: Path) -> dict:
    """Wheel -> fresh venv -> pinned torch, the wheel, nbclient and ipykernel. Returns paths and timings."""
    started = time.perf_counter()
    source, wheels = root / "source", root / "wheels"
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():  # a tracked file deleted in the work tree is not shipped
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source], env=pip_env())
    wheel = next(wheels.glob("seqlab-*.whl"))
    built = time.perf_counter()
    venv.create(root / "venv", with_pip=True, clear=True)
    python = root / "venv" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, torch_requirement()], env=pip_env())
    run([*pip, wheel, "nbclient", "ipykernel"], env=pip_env())
    installed = json.loads(run([python, "-m", "pip", "list", "--format=json"], env=pip_env()).stdout)
    done = time.perf_counter()
    home = root / "home"
    home.mkdir()
    return {"python": str(python), "prefix": str(root / "venv"), "wheel": str(wheel), "home": str(home),
            "packages": {p["name"].lower(): p["version"] for p in installed},
            "build_s": built - started, "install_s": done - built}


@pytest.fixture(scope="session")
def clean_env(tmp_path_factory) -> dict:
    """The clean environment, built once per run (pytest-xdist workers share it through a lock)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # one folder for all workers of this run
    root = shared / "clean-install"
    with open(shared / "clean-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = root / "environment.json"
        if not manifest.exists():
            if root.exists():
                shutil.rmtree(root)  # a half-built one from a failed attempt
            root.mkdir()
            env = build_environment(root)
            manifest.write_text(json.dumps(env))
            report(f"clean install: wheel {env['build_s']:.0f} s, venv + torch + wheel + nbclient "
                   f"{env['install_s']:.0f} s ({torch_requirement()}, {len(env['packages'])} packages)")
    return json.loads(manifest.read_text())


def execute(clean_env: dict, notebook: Path, tmp_path: Path, autograde: bool) -> dict:
    """Run ``notebook`` alone in an empty folder with the clean environment's Python; return its summary."""
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(notebook, folder)
    shutil.copy(RUNNER, folder)
    env = {"PATH": f"{Path(clean_env['python']).parent}:/usr/bin:/bin", "HOME": clean_env["home"],
           "LANG": "C.UTF-8", "TMPDIR": str(tmp_path)}
    if autograde:
        env["NBGRADER_EXECUTION"] = "autograde"
    run([clean_env["python"], RUNNER.name, notebook.name, "result.json"], cwd=folder, env=env,
        timeout=NOTEBOOK_TIMEOUT)
    result = json.loads((folder / "result.json").read_text())
    prefix = Path(clean_env["prefix"])
    assert prefix in Path(result["probe"]["seqlab"]).parents, f"the kernel imported {result['probe']}, not the clean install's seqlab"
    assert prefix in Path(result["probe"]["python"]).parents, f"the kernel ran {result['probe']['python']}"
    return result


def test_wheel_ships_helpers_but_no_notebooks(clean_env):
    """Does the wheel hold seqlab and the autograder, and no reference notebook or test?"""
    names = zipfile.ZipFile(clean_env["wheel"]).namelist()
    assert "seqlab/__init__.py" in names and "autograder/__init__.py" in names
    leaked = [n for n in names if n.endswith(".ipynb") or n.split("/")[0] in ("solutions", "labs", "tests")]
    assert not leaked, f"the wheel ships files a student must not get: {leaked}"


def test_clean_install_keeps_the_pinned_cpu_torch(clean_env):
    """Does installing the wheel keep the pinned torch, pulling in no CUDA packages?"""
    wanted = torch_requirement().split("==")[1]
    assert clean_env["packages"]["torch"].split("+")[0] == wanted.split("+")[0], clean_env["packages"]["torch"]
    cuda = sorted(name for name in clean_env["packages"] if name.startswith("nvidia-") or name == "triton")
    assert not cuda, f"the install pulled GPU packages: {cuda}"
    grading = {"nbgrader", "jupyterlab"} & set(clean_env["packages"])
    assert not grading, f"the student install pulled in grading packages: {grading}"


@pytest.mark.parametrize("lab", LABS)
def test_reference_runs_from_a_clean_install(lab, clean_env, tmp_path):
    """Does the reference notebook, alone in an empty folder, run every cell on a clean install?"""
    result = execute(clean_env, REPO / "solutions" / f"{lab}.ipynb", tmp_path, autograde=not FULL_BUDGET)
    budget = "full budget" if FULL_BUDGET else "autograde budget"
    report(f"clean install: solutions/{lab}.ipynb ran in {result['seconds']:.1f} s ({budget})")
    assert not result["errors"], "cells failed on a clean install:\n" + "\n".join(
        f"  cell {i} ({first[:50]!r}): {name}: {value[:300]}" for i, name, value, first in result["errors"])


@pytest.mark.parametrize("lab", LABS)
def test_student_notebook_fails_only_where_code_is_missing_on_a_clean_install(lab, clean_env, tmp_path):
    """Does the student notebook set up on a clean install, every error being missing student code?"""
    notebook = REPO / "labs" / f"{lab}.ipynb"
    result = execute(clean_env, notebook, tmp_path, autograde=True)
    report(f"clean install: labs/{lab}.ipynb ran in {result['seconds']:.1f} s")
    nb = nbformat.read(str(notebook), as_version=4)
    setup = next((i for i, c in enumerate(nb.cells) if c.get("id") == SETUP_CELL_ID), None)
    assert setup is not None, f"labs/{lab}.ipynb has no setup cell (id {SETUP_CELL_ID!r}): run `seqlab-grade labs`"
    printed = dict((i, text) for i, text in result["outputs"])
    assert "Not on Colab" in printed.get(setup, ""), f"the setup cell printed {printed.get(setup)!r}"
    found = [(i, name, value) for i, name, value, _ in result["errors"]]
    assert found, "the blank notebook raised nothing: are the exercises really blank?"
    first_exercise = min(i for i, _, _ in found)
    setup_errors = [e for e in found if e[0] <= setup]
    assert not setup_errors, f"the setup cell failed: {setup_errors}"
    lab_code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and setup < i < first_exercise]
    assert lab_code, "no code cell ran cleanly between the setup cell and the first exercise"
    stopped, others = stopped_by_missing_code(nb, found)
    assert not others, f"cells failing for another reason than missing student code: {others}"
