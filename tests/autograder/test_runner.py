"""autograder.runner and sandbox: one notebook in a sandboxed kernel, cell by cell, crash-proof."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.runner import KernelStartError, run_notebook
from autograder.sandbox import Limits, bubblewrap, claim_uid, describe, make_job, processes_of, remove_tree

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


def outputs_json(nb) -> str:
    return json.dumps([c.outputs for c in nb.cells], ensure_ascii=False)


# Code a student can run to send the grader any kernel message, of any shape (ipykernel's own session).
FORGE = ("import sys\nout = sys.stdout\n"
         "def forge(kind, content):\n"
         "    out.session.send(out.pub_thread, kind, content=content, parent=out.parent_header, ident=out.topic)\n")


def test_malformed_and_unencodable_kernel_messages_are_survived(tmp_path):
    """Are kernel messages of a shape nbclient does not expect (display data as a list, content as a list,
    an error without a name) dropped with a note, half an emoji in a stream, a display or an exception
    replaced by U+FFFD, and a markdown display's dangling attachment reference removed, without a crash?"""
    forged = FORGE + r"""forge('display_data', b'{"data": [1, 2], "metadata": {}}')
forge('stream', b'[1]')
forge('error', b'{"ename": 5, "evalue": null}')
forge('stream', b'{"name": "stdout", "text": "half \\ud83d"}')
forge('display_data', b'{"data": {"text/plain": "d\\ud83d", "text/markdown": "![x](attachment:x.png)"}, "metadata": {}}')
print('still here')"""
    nb, ex, statuses, _ = run([forged, "raise ValueError('half \\ud83d')", "print('after')"], tmp_path)
    assert statuses == ["ok", "error", "ok"]
    text = outputs_json(nb)
    text.encode("utf-8")     # raises on a lone surrogate
    assert "the grader ignored a 'display_data' message whose data is a list" in text
    assert "half \ufffd" in text and "d\ufffd" in text and "still here" in text and "after" in text
    assert "attachment:x.png" not in text
    assert "\ud83d" not in ex.cells[1].error and ex.cells[1].error


def test_error_outputs_count_against_the_output_cap(tmp_path):
    """Is a 2 MB exception message cut to a few KB (with a notice) yet still the cell's error, and is an
    error raised after a print flood kept, past the cap?"""
    nb, ex, statuses, _ = run(["raise ValueError('E' * 2_000_000)",
                               "print('x' * 100_000)\nraise KeyError('after the flood')"], tmp_path, output_kb=16)
    assert statuses == ["error", "error"]
    assert ex.cells[0].error.startswith("ValueError: EEEE") and 2000 < len(ex.cells[0].error) < 6000
    assert ex.cells[1].error == "KeyError: 'after the flood'"
    assert "[cut: " in json.dumps(nb.cells[0].outputs) and len(json.dumps(nb.cells[0].outputs)) < 16 * 1024
    assert "output cut" in text(nb.cells[1]) and len(json.dumps(nb.cells[1].outputs)) < 2 * 16 * 1024


# Plants, for the next kernel: an IPython startup file (where IPYTHONDIR and ~ say), a user-site .pth
# file, and an `autograder` package in the working folder (the sandbox trampoline's name, which runs
# as root before it drops to the sandbox uid); then kills the kernel so that the next one starts.
PLANT_FOR_NEXT_KERNEL = r"""import os, sys
work, home = os.getcwd(), os.path.expanduser('~')
mark = f"import os; open({work!r} + '/RAN-' + str(os.getuid()), 'w').close(); os._exit(3)\n"
for path in (os.environ['IPYTHONDIR'] + '/profile_default/startup/00-x.py',
             home + '/.ipython/profile_default/startup/00-x.py',
             home + '/.local/lib/python%d.%d/site-packages/x.pth' % sys.version_info[:2],
             'autograder/__init__.py', 'autograder/sandbox.py'):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(mark)
        print('planted', path)
    except OSError as err:
        print('blocked', path, type(err).__name__)
os._exit(1)"""


@pytest.mark.parametrize("use_bwrap", [True, False], ids=["bwrap", "limits"])
def test_files_planted_for_the_next_kernel_never_run(tmp_path, use_bwrap):
    """After a cell plants startup files, a .pth file and a fake sandbox trampoline and kills its kernel,
    does the next kernel start clean, with none of them run (as root or otherwise)?"""
    nb, ex, statuses, _ = run(["x = 41", PLANT_FOR_NEXT_KERNEL,
                               "import os\nprint(x + 1, sorted(f for f in os.listdir('.') if f.startswith('RAN')))"],
                              tmp_path, use_bwrap=use_bwrap)
    assert statuses == ["ok", "died", "ok"] and ex.restarts == 1
    assert text(nb.cells[2]) == "42 []\n"


def test_a_kernel_that_cannot_start_again_leaves_results_not_a_crash(tmp_path):
    """When a cell leaves a module that stops the next kernel from starting (ipykernel_launcher.py in the
    working folder) and kills its kernel, are the cells after it not run, saying why, instead of an exception?"""
    plant = "open('ipykernel_launcher.py', 'w').write('import os\\nos._exit(7)\\n')\nimport os\nos._exit(1)"
    nb, ex, statuses, _ = run(["x = 1", plant, "print(x)"], tmp_path, restarts=2)
    assert statuses == ["ok", "died", "not_run"]
    assert "could not be started again after cell 2" in ex.cells[2].error, ex.cells[2].error


def test_a_kernel_that_never_starts_is_the_graders_error_with_a_reason(tmp_path):
    """When the very first kernel cannot start (here: 1 MB of memory), is that a KernelStartError saying
    what to do, the job folder emptied, rather than a bare RuntimeError?"""
    with pytest.raises(KernelStartError, match="did not start .*rerun autograde"):
        run(["print(1)"], tmp_path, memory_mb=1)
    assert [p.name for p in (tmp_path / "job").rglob("*")] == ["work"]


def test_nothing_the_student_wrote_is_left_in_the_job(tmp_path):
    """After the run, are 3,000-deep folder chains left in the working folder and home gone, the emitted
    outputs kept, and the job folder removable by shutil.rmtree?"""
    deep = ("import os\nwork = os.getcwd()\nfor base in (work, os.path.expanduser('~')):\n    os.chdir(base)\n"
            "    for _ in range(3000):\n        os.mkdir('d')\n        os.chdir('d')\nos.chdir(work)\n"
            "open(os.environ['SEQLAB_EMIT_FILE'], 'a').write('{}\\n')\nprint('deep')")
    nb, ex, statuses, _ = run([deep], tmp_path)
    assert statuses == ["ok"] and text(nb.cells[0]) == "deep\n"
    job = tmp_path / "job"
    assert sorted(str(p.relative_to(job)) for p in job.rglob("*")) == ["work", "work/.seqlab-emitted.jsonl"]
    shutil.rmtree(job)


def test_remove_tree_takes_deep_chains_links_and_locked_folders(tmp_path):
    """Does remove_tree remove a 3,000-deep folder chain, a link out of it (not what it points to) and a
    folder locked with mode 000, and take a missing path or a link in stride?"""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    root = tmp_path / "tree"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.symlink(outside, "out", dir_fd=fd)
    os.mkdir("locked", dir_fd=fd)
    os.close(os.open("locked/x", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.chmod("locked", 0, dir_fd=fd)
    os.close(fd)
    with pytest.raises(RecursionError):
        shutil.rmtree(root)       # what the job folder's cleanup did
    remove_tree(root)
    assert not root.exists() and (outside / "keep.txt").read_text() == "keep"
    remove_tree(root)
    link = tmp_path / "link"
    link.symlink_to(outside)
    remove_tree(link)
    assert not link.is_symlink() and (outside / "keep.txt").exists()
