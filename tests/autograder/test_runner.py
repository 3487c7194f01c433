"""autograder.runner and sandbox: one notebook in a sandboxed kernel, cell by cell, crash-proof."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import jobfolder
from autograder.runner import KernelStartError, run_notebook
from autograder.jobfolder import remove_tree
from autograder.sandbox import Limits, bubblewrap, describe, open_sandbox
from autograder.zygote import KERNEL_MODULES, Zygote, usable

needs_bwrap = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap missing or not usable here "
                                 "(apt-get install bubblewrap; .ci/run installs it)")


@pytest.fixture(scope="module")
def zygote():
    """A zygote for this module's warm kernels (``zygote.py``), where root and bubblewrap allow one."""
    why = usable() or ("" if bubblewrap() else "bubblewrap missing or not usable here")
    if why:
        pytest.skip(why)
    warm = Zygote(KERNEL_MODULES).start().ready()
    yield warm
    warm.stop()


@pytest.fixture(params=["fresh", "warm"])
def kernels(request):
    """Where the test's kernels come from: a new Python each (None), or forked from the zygote. The
    tests that take it hold for both: the sandbox is the same."""
    return request.getfixturevalue("zygote") if request.param == "warm" else None


def run(cells, tmp_path, use_bwrap=True, kernels=None, **limits):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    use_bwrap = use_bwrap and bubblewrap() is not None
    limits = Limits(**{"cell_seconds": 30, "notebook_seconds": 120, **limits})   # ample on a busy machine
    with open_sandbox(limits, use_bwrap, parent=tmp_path) as box:
        box.zygote = kernels
        execution = run_notebook(nb, box, limits)
        execution.leftover = box.processes()       # what still runs after the notebook is done
        execution.left = sorted(str(p.relative_to(box.job)) for p in box.job.rglob("*"))
        execution.sandbox = box.description
    statuses = [execution.cells[i].status for i in range(len(cells))]
    return nb, execution, statuses, box.uid


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def test_errors_are_recorded_per_cell_and_the_rest_runs(tmp_path, kernels):
    """Does a failing cell record its exception (name and message) while later cells still run?"""
    nb, ex, statuses, _ = run(["x = 1", "assert x == 2, 'x should be 2'", "print(x + 1)"], tmp_path, kernels=kernels)
    assert statuses == ["ok", "error", "ok"]
    assert ex.cells[1].error == "AssertionError: x should be 2" and text(nb.cells[2]) == "2\n"


def test_a_timeout_or_dead_kernel_costs_one_cell_and_state_is_replayed(tmp_path, kernels):
    """After an endless loop and an os._exit, is the kernel restarted with earlier definitions back?"""
    nb, ex, statuses, _ = run(["y = 41", "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass",
                               "import os; os._exit(1)", "print(y + 1)"], tmp_path, kernels=kernels, cell_seconds=3)
    assert statuses == ["ok", "timeout", "died", "ok"] and ex.restarts == 2
    assert text(nb.cells[3]) == "42\n"


def test_restart_budget_and_notebook_deadline_leave_later_cells_not_run(tmp_path, kernels):
    """When crashes exceed the restart budget, are the remaining cells marked not run, with why?"""
    crash = "import os; os._exit(1)"
    nb, ex, statuses, _ = run([crash, crash, "print(1)"], tmp_path, kernels=kernels, restarts=1)
    assert statuses == ["died", "died", "not_run"] and "restarted 1 times" in ex.cells[2].error


def test_output_flood_is_cut(tmp_path, kernels):
    """Does a cell that prints megabytes keep only the capped amount, with a notice?"""
    nb, ex, statuses, _ = run(["for i in range(20000):\n    print('x' * 100)"], tmp_path, kernels=kernels, output_kb=16)
    assert statuses == ["ok"]
    assert len(text(nb.cells[0])) < 64 * 1024 and "output cut" in text(nb.cells[0])


@needs_bwrap
def test_sandbox_hides_the_grader_files_network_and_environment(tmp_path, monkeypatch, kernels):
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
    nb, ex, statuses, uid = run([probe], tmp_path, kernels=kernels)
    assert statuses == ["ok"]
    assert text(nb.cells[0]) == f"False False\nNone {uid}\nno net\n"
    assert "bubblewrap" in describe(uid, True)


@needs_bwrap
@pytest.mark.skipif(os.getuid() != 0, reason="per-sandbox uids need root")
def test_fork_bomb_is_capped_and_its_children_reaped(tmp_path, kernels):
    """Does a fork bomb hit the process limit, and are its children gone after the cell?"""
    bomb = ("import os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(600)\n        os._exit(0)\n"
            "    n += 1\nprint(n < 200)")
    nb, ex, statuses, uid = run([bomb, "print('after')"], tmp_path, kernels=kernels, processes=64)
    assert statuses == ["ok", "ok"] and text(nb.cells[0]) == "True\n"
    assert ex.leftover == set()


def test_without_bubblewrap_the_kernel_gets_only_the_sandbox_environment(tmp_path, monkeypatch):
    """With process limits only, is the kernel's environment the sandbox's (emit mode on, no grader variables)?"""
    monkeypatch.setenv("GRADER_CANARY", "visible?")
    probe = "import os\nprint(os.environ.get('GRADER_CANARY'), os.environ.get('SEQLAB_REFERENCE_MODE'))"
    nb, ex, statuses, _ = run([probe], tmp_path, use_bwrap=False)
    assert statuses == ["ok"] and text(nb.cells[0]) == "None emit\n"


@needs_bwrap
def test_sandbox_tmp_is_a_bounded_ram_disk(tmp_path, kernels):
    """Can many files, each under the file-size limit, fill the sandbox's /tmp (RAM) past its size?"""
    fill = ("chunk = b'x' * 2**20\ntry:\n    for i in range(8):\n"
            "        with open(f'/tmp/fill{i}', 'wb') as f:\n            for _ in range(8):\n"
            "                f.write(chunk); f.flush()\n    print('filled')\n"
            "except OSError as err:\n    print('stopped', err.errno)")
    nb, ex, statuses, _ = run([fill], tmp_path, kernels=kernels, file_mb=16)
    assert statuses == ["ok"] and text(nb.cells[0]) == "stopped 28\n"     # ENOSPC: the 16 MB tmpfs is full


def outputs_json(nb) -> str:
    return json.dumps([c.outputs for c in nb.cells], ensure_ascii=False)


# Code a student can run to send the grader any kernel message, of any shape (ipykernel's own session).
FORGE = ("import sys\nout = sys.stdout\n"
         "def forge(kind, content):\n"
         "    out.session.send(out.pub_thread, kind, content=content, parent=out.parent_header, ident=out.topic)\n")


def test_malformed_and_unencodable_kernel_messages_are_survived(tmp_path, kernels):
    """Are kernel messages of a shape nbclient does not expect (display data as a list, content as a list,
    an error without a name) dropped with a note, half an emoji in a stream, a display or an exception
    replaced by U+FFFD, and a markdown display's dangling attachment reference removed, without a crash?"""
    forged = FORGE + r"""forge('display_data', b'{"data": [1, 2], "metadata": {}}')
forge('stream', b'[1]')
forge('error', b'{"ename": 5, "evalue": null}')
forge('stream', b'{"name": "stdout", "text": "half \\ud83d"}')
forge('display_data', b'{"data": {"text/plain": "d\\ud83d", "text/markdown": "![x](attachment:x.png)"}, "metadata": {}}')
print('still here')"""
    nb, ex, statuses, _ = run([forged, "raise ValueError('half \\ud83d')", "print('after')"], tmp_path, kernels=kernels)
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


@pytest.mark.parametrize("use_bwrap,warm", [(True, False), (False, False), (True, True)],
                         ids=["bwrap", "limits", "bwrap, warm kernels"])
def test_files_planted_for_the_next_kernel_never_run(tmp_path, request, use_bwrap, warm):
    """After a cell plants startup files, a .pth file and a fake sandbox trampoline and kills its kernel,
    does the next kernel start clean, with none of them run (as root or otherwise)?"""
    nb, ex, statuses, _ = run(["x = 41", PLANT_FOR_NEXT_KERNEL,
                               "import os\nprint(x + 1, sorted(f for f in os.listdir('.') if f.startswith('RAN')))"],
                              tmp_path, use_bwrap=use_bwrap, kernels=request.getfixturevalue("zygote") if warm else None)
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
    assert list(tmp_path.iterdir()) == []


def test_nothing_the_student_wrote_is_left_in_the_job(tmp_path, kernels):
    """After the run, are 3,000-deep folder chains left in the working folder and home gone, the emitted
    outputs kept until scoring, and then the job folder gone?"""
    deep = ("import os\nwork = os.getcwd()\nfor base in (work, os.path.expanduser('~')):\n    os.chdir(base)\n"
            "    for _ in range(3000):\n        os.mkdir('d')\n        os.chdir('d')\nos.chdir(work)\n"
            "open(os.environ['SEQLAB_EMIT_FILE'], 'a').write('{}\\n')\nprint('deep')")
    nb, ex, statuses, _ = run([deep], tmp_path, kernels=kernels)
    assert statuses == ["ok"] and text(nb.cells[0]) == "deep\n"
    assert ex.left == ["work", "work/.seqlab-emitted.jsonl"] and list(tmp_path.iterdir()) == []


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


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="per-sandbox uids, cgroups and RAM disks need root")


@pytest.mark.parametrize("ram_disk", [True, False], ids=["ram disk", "measured"])
def test_the_job_folder_has_a_size_and_file_budget(tmp_path, monkeypatch, ram_disk):
    """Do files past the job folder's budget fail to be written (RAM disk: "No space left on device"), or
    where the folder is measured, cost that cell only: files removed, kernel restarted, later cells run?"""
    if not ram_disk:
        monkeypatch.setattr(jobfolder, "_mount", lambda folder, options: False)
    elif os.getuid() != 0:
        pytest.skip("a RAM disk needs root")
    fill = ("import os\nn = 0\ntry:\n    for i in range(3000):\n        open(f'f{i}', 'w').close(); n += 1\n"
            "except OSError as err:\n    print('stopped', err.errno)\nprint(n < 3000)")
    nb, ex, statuses, _ = run(["x = 41", fill, "print(x + 1)"], tmp_path, files=1000)
    if ram_disk:
        assert statuses == ["ok", "ok", "ok"] and text(nb.cells[1]) == "stopped 28\nTrue\n"
        assert "job folder 1024 MB and 1,000 files (RAM disk)" in ex.sandbox
    else:
        assert statuses == ["ok", "died", "ok"] and "past its budget" in ex.cells[1].error
        assert "(measured after each cell)" in ex.sandbox
    assert text(nb.cells[2]) == "42\n" and list(tmp_path.iterdir()) == []


# Forks three processes that each fill 500 MB, then reports how each ended.
THREE_HOGS = ("import os, time\npids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
              "        b = bytearray(500 * 2**20)\n        for i in range(0, len(b), 4096):\n            b[i] = 1\n"
              "        time.sleep(3)\n        os._exit(0)\n    pids.append(pid)\n"
              "print(sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids))")


@needs_bwrap
@needs_root
def test_memory_is_limited_for_all_the_sandboxes_processes_together(tmp_path, kernels):
    """Under a 1,200 MB budget, can three processes of 500 MB each all live? Where a cgroup can be
    made, one of them is killed (exit -9) or the kernel dies; the isolation line says which limit held."""
    nb, ex, statuses, _ = run([THREE_HOGS, "print('after')"], tmp_path, kernels=kernels, memory_mb=1200, cell_seconds=60)
    if "together (cgroup" not in ex.sandbox:
        pytest.skip(f"no memory cgroup can be created here: {ex.sandbox}")
    assert "memory 1200 MB for all its processes together" in ex.sandbox
    assert statuses[0] == "died" or "-9" in text(nb.cells[0]), text(nb.cells[0])
    assert statuses[1] == "ok" and ex.leftover == set()


DAEMON = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
          "        time.sleep(600)\n    os._exit(0)\ntime.sleep(0.5)\nprint('started')")


@needs_bwrap
@needs_root
def test_a_daemon_never_outlives_its_cell(tmp_path, kernels):
    """Is a double-forked daemon (its own session, parent gone) killed after its cell, the kernel kept?"""
    count = ("import os\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and os.stat('/proc/' + p).st_uid == "
             "os.getuid() and open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'))")  # zombies are gone
    nb, ex, statuses, _ = run([DAEMON, count], tmp_path, kernels=kernels)
    assert statuses == ["ok", "ok"] and text(nb.cells[1]) == "1\n" and ex.leftover == set()


STORE_KEY = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
             "print(libc.syscall(248, b'user', b'seqlab-secret', b'hello', 5, ctypes.c_int(-4)) > 0)")
READ_KEYS = "print('seqlab-secret' in open('/proc/keys').read())"


@needs_bwrap
@needs_root
def test_each_sandbox_gets_fresh_keyrings(tmp_path, kernels):
    """Can a key one submission stored in its uid's user keyring be seen by the next sandbox of that uid?"""
    if not os.path.exists("/proc/keys") or os.uname().machine != "x86_64":
        pytest.skip("no kernel keyrings here")
    nb, ex, statuses, uid = run([STORE_KEY, READ_KEYS], tmp_path, kernels=kernels)
    assert text(nb.cells[0]) == "True\n" and text(nb.cells[1]) == "True\n"
    nb, ex, statuses, again = run([READ_KEYS], tmp_path, kernels=kernels)
    assert again == uid and text(nb.cells[0]) == "False\n"



def test_a_cell_that_calls_exit_costs_nothing_else(tmp_path, kernels):
    """exit() stops the kernel 0.1 s after its cell (a busy machine may let the next cell start first,
    or not): is the kernel restarted before the next cell, that cell graded as it deserves, and the
    exit() cell, which completed, left as it ran and skipped when the state is rebuilt?"""
    nb, ex, statuses, _ = run(["x = 41", "print('bye')\nexit()", "import time\ntime.sleep(0.5)\nprint(x + 1)",
                               "print(x + 2)"], tmp_path, kernels=kernels)
    assert statuses == ["ok", "ok", "ok", "ok"] and ex.restarts == 1
    assert text(nb.cells[1]) == "bye\n" and text(nb.cells[2]) == "42\n" and text(nb.cells[3]) == "43\n"
