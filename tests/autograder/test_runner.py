"""autograder.runner and sandbox: one notebook in a sandboxed kernel, cell by cell, crash-proof."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.runner import run_notebook
from autograder.sandbox import Limits, bubblewrap, claim_uid, describe, make_job, processes_of

needs_bwrap = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap missing or not usable here "
                                 "(apt-get install bubblewrap; .ci/run installs it)")


def run(cells, tmp_path, use_bwrap=True, **limits):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    job = tmp_path / "job"
    job.mkdir()
    os.chmod(job, 0o755)
    use_bwrap = use_bwrap and bubblewrap() is not None
    with claim_uid() if use_bwrap else contextlib.nullcontext() as uid:
        make_job(job, uid)
        execution = run_notebook(nb, job, Limits(**{"cell_seconds": 10, "notebook_seconds": 60, **limits}),
                                 uid=uid, use_bwrap=use_bwrap)
        execution.leftover = processes_of(uid)     # what still runs under the sandbox uid
    statuses = [execution.cells[i].status for i in range(len(cells))]
    return nb, execution, statuses, uid


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def test_errors_are_recorded_per_cell_and_the_rest_runs(tmp_path):
    """Does a failing cell record its exception (name and message) while later cells still run?"""
    nb, ex, statuses, _ = run(["x = 1", "assert x == 2, 'x should be 2'", "print(x + 1)"], tmp_path)
    assert statuses == ["ok", "error", "ok"]
    assert ex.cells[1].error == "AssertionError: x should be 2" and text(nb.cells[2]) == "2\n"


def test_a_timeout_or_dead_kernel_costs_one_cell_and_state_is_replayed(tmp_path):
    """After an endless loop and an os._exit, is the kernel restarted with earlier definitions back?"""
    nb, ex, statuses, _ = run(["y = 41", "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass",
                               "import os; os._exit(1)", "print(y + 1)"], tmp_path, cell_seconds=3)
    assert statuses == ["ok", "timeout", "died", "ok"] and ex.restarts == 2
    assert text(nb.cells[3]) == "42\n"


def test_restart_budget_and_notebook_deadline_leave_later_cells_not_run(tmp_path):
    """When crashes exceed the restart budget, are the remaining cells marked not run, with why?"""
    crash = "import os; os._exit(1)"
    nb, ex, statuses, _ = run([crash, crash, "print(1)"], tmp_path, restarts=1)
    assert statuses == ["died", "died", "not_run"] and "restarted 1 times" in ex.cells[2].error


def test_output_flood_is_cut(tmp_path):
    """Does a cell that prints megabytes keep only the capped amount, with a notice?"""
    nb, ex, statuses, _ = run(["for i in range(20000):\n    print('x' * 100)"], tmp_path, output_kb=16)
    assert statuses == ["ok"]
    assert len(text(nb.cells[0])) < 64 * 1024 and "output cut" in text(nb.cells[0])


@needs_bwrap
def test_sandbox_hides_the_grader_files_network_and_environment(tmp_path, monkeypatch):
    """Inside the sandbox: no repository, no course, no grader env vars, no network, a fresh uid?"""
    secret = tmp_path / "course" / "reference"
    secret.mkdir(parents=True)
    (secret / "lab.pkl").write_text("the answers")
    monkeypatch.setenv("GRADER_CANARY", "visible?")
    repo = Path(__file__).resolve().parents[2]
    probe = ("import os, socket\n"
             f"print(os.path.exists({str(secret / 'lab.pkl')!r}), os.path.exists({str(repo / 'solutions')!r}))\n"
             "print(os.environ.get('GRADER_CANARY'), os.getuid())\n"
             "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=2); print('net')\n"
             "except OSError:\n    print('no net')")
    nb, ex, statuses, uid = run([probe], tmp_path)
    assert statuses == ["ok"]
    assert text(nb.cells[0]) == f"False False\nNone {uid}\nno net\n"
    assert "bubblewrap" in describe(uid, True)


@needs_bwrap
@pytest.mark.skipif(os.getuid() != 0, reason="per-sandbox uids need root")
def test_fork_bomb_is_capped_and_its_children_reaped(tmp_path):
    """Does a fork bomb hit the process limit, and are its children gone after the cell?"""
    bomb = ("import os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(600)\n        os._exit(0)\n"
            "    n += 1\nprint(n < 200)")
    nb, ex, statuses, uid = run([bomb, "print('after')"], tmp_path, processes=64)
    assert statuses == ["ok", "ok"] and text(nb.cells[0]) == "True\n"
    assert ex.leftover == set()


def test_without_bubblewrap_the_kernel_gets_only_the_sandbox_environment(tmp_path, monkeypatch):
    """With process limits only, is the kernel's environment the sandbox's (emit mode on, no grader variables)?"""
    monkeypatch.setenv("GRADER_CANARY", "visible?")
    probe = "import os\nprint(os.environ.get('GRADER_CANARY'), os.environ.get('SEQLAB_REFERENCE_MODE'))"
    nb, ex, statuses, _ = run([probe], tmp_path, use_bwrap=False)
    assert statuses == ["ok"] and text(nb.cells[0]) == "None emit\n"


@needs_bwrap
def test_sandbox_tmp_is_a_bounded_ram_disk(tmp_path):
    """Can many files, each under the file-size limit, fill the sandbox's /tmp (RAM) past its size?"""
    fill = ("chunk = b'x' * 2**20\ntry:\n    for i in range(8):\n"
            "        with open(f'/tmp/fill{i}', 'wb') as f:\n            for _ in range(8):\n"
            "                f.write(chunk); f.flush()\n    print('filled')\n"
            "except OSError as err:\n    print('stopped', err.errno)")
    nb, ex, statuses, _ = run([fill], tmp_path, file_mb=16)
    assert statuses == ["ok"] and text(nb.cells[0]) == "stopped 28\n"     # ENOSPC: the 16 MB tmpfs is full
