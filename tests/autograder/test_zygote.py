"""autograder.zygote: kernels forked from a warm interpreter get the sandbox a new kernel gets."""
from __future__ import annotations

import json
import os
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.sandbox import bubblewrap
from autograder.zygote import KERNEL_MODULES, NEVER, Zygote, preload, usable
from test_runner import run, text

WHY = usable() or ("" if bubblewrap() else "bubblewrap missing or not usable here")
needs_zygote = pytest.mark.skipif(bool(WHY), reason=WHY or "-")

# What a kernel can see of its own process and sandbox, as JSON.
PROBE = r"""import json, os, resource, sys
status = dict(line.split(':', 1) for line in open('/proc/self/status'))
mounts = []
for line in open('/proc/self/mountinfo'):
    f = line.split()
    flags = ','.join(o for o in f[5].split(',') if o in ('ro', 'rw', 'nosuid', 'nodev', 'noexec'))
    mounts.append([f[4], f[f.index('-') + 1], flags])
print(json.dumps({
    'status': {k: status[k].strip() for k in ('Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd',
                                              'CapAmb', 'NoNewPrivs', 'Seccomp')},
    'mounts': mounts, 'cwd': os.getcwd(), 'env': dict(os.environ), 'path': sys.path, 'flags': list(sys.flags),
    'limits': {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith('RLIMIT_')},
    'ids': [os.getpid(), os.getppid(), os.getsid(0), os.getpgrp()], 'host': os.uname().nodename,
    'ns': {n: os.readlink('/proc/self/ns/' + n) for n in ('mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup')},
    'dev': sorted(os.listdir('/dev')), 'umask': os.umask(0o22), 'dumpable': os.access('/proc/self/environ', os.R_OK),
}))"""
RANDOM = "import random, numpy, torch\nprint(random.random(), numpy.random.rand(), torch.rand(1).item())"


@pytest.fixture(scope="module")
def warm():
    if WHY:
        pytest.skip(WHY)
    zygote = Zygote(("numpy", "torch", *KERNEL_MODULES)).start().ready()
    yield zygote
    zygote.stop()


def probe(tmp_path, kernels) -> dict:
    tmp_path.mkdir()
    nb, ex, statuses, _ = run([PROBE], tmp_path, kernels=kernels)
    assert statuses == ["ok"], ex.cells[0].error
    seen = json.loads(text(nb.cells[0]))
    job = re.escape(os.path.dirname(seen["cwd"]))
    return json.loads(re.sub(job, "JOB", json.dumps(seen)))   # each sandbox has its own job folder


@needs_zygote
def test_a_forked_kernel_sees_the_sandbox_a_new_kernel_sees(tmp_path, warm):
    """Does a kernel forked from the zygote see what a new kernel in bubblewrap sees: the same mounts with
    the same flags, uid, groups, capabilities, no new privileges, limits, environment, working folder,
    devices, sys.path and sys.flags, process ids, and namespaces of its own?"""
    fresh, forked = probe(tmp_path / "fresh", None), probe(tmp_path / "warm", warm)
    for key in ("status", "cwd", "env", "path", "flags", "limits", "ids", "host", "dev", "umask", "dumpable"):
        assert forked[key] == fresh[key], key
    extra = [m for m in forked["mounts"] if m not in fresh["mounts"]]
    assert [m for m in fresh["mounts"] if m not in forked["mounts"]] == []
    assert extra in ([], [["/proc/sys", "proc", "ro,nosuid,nodev,noexec"]])   # bubblewrap's cover, where it fails
    assert [m[0] for m in forked["mounts"] if m not in extra] == [m[0] for m in fresh["mounts"]]
    assert forked["ids"][:2] == [2, 1] and forked["status"]["CapEff"] == "0000000000000000"
    own = {n: os.readlink(f"/proc/self/ns/{n}") for n in forked["ns"]}
    assert all(forked["ns"][n] != own[n] and fresh["ns"][n] != own[n] for n in own)


@needs_zygote
def test_each_forked_kernel_draws_its_own_random_numbers(tmp_path, warm):
    """Do two kernels forked from one zygote start Python's, numpy's and torch's generators apart, as two
    new processes would, rather than from the state the zygote had?"""
    draws = [text(run([RANDOM], tmp_path, kernels=warm)[0].cells[0]).split() for _ in range(2)]
    assert all(a != b for a, b in zip(*draws)), draws


@needs_zygote
def test_a_planted_launcher_or_startup_file_changes_nothing(tmp_path, warm):
    """Can a cell that leaves ipykernel_launcher.py, sitecustomize.py or a torch package in the working
    folder and kills its kernel run code in the next kernel (a new one would import the launcher it left;
    a forked one has its modules already, and imports from the folder only what the student imports)?"""
    plant = ("for name in ('ipykernel_launcher.py', 'sitecustomize.py', 'usercustomize.py'):\n"
             "    open(name, 'w').write('import os\\nopen(\"RAN\", \"w\").close()\\nos._exit(7)\\n')\n"
             "import os\nos.makedirs('torch', exist_ok=True)\n"
             "open('torch/__init__.py', 'w').write('raise SystemExit(\"fake torch\")')\nos._exit(1)")
    nb, ex, statuses, _ = run(["x = 41", plant, "import os, torch\nprint(x + 1, os.path.exists('RAN'), "
                               "torch.__file__.startswith(os.getcwd()))"], tmp_path, kernels=warm)
    assert statuses == ["ok", "died", "ok"] and text(nb.cells[2]) == "42 False False\n"


@needs_zygote
def test_a_kernel_cannot_reach_its_launchers_or_the_zygote(tmp_path, warm):
    """From inside, are the only processes the kernel and its init (PID 1, root, not the student's to
    signal or read), and is the zygote's socket out of sight?"""
    look = ("import os, signal\npids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "try:\n    os.kill(1, signal.SIGKILL)\nexcept OSError as err:\n    print('kill', err.errno)\n"
            "try:\n    open('/proc/1/environ').read()\nexcept OSError as err:\n    print('read', err.errno)\n"
            f"print(pids, os.path.exists({str(warm.folder / 'socket')!r}))")
    nb, ex, statuses, _ = run([look], tmp_path, kernels=warm)
    assert statuses == ["ok"] and text(nb.cells[0]) == "kill 1\nread 13\n[1, 2] False\n"


@needs_zygote
def test_a_kernel_the_zygote_cannot_fork_runs_in_a_new_python(tmp_path):
    """When the zygote is gone (or cannot build a sandbox), does the notebook still run, in new Pythons, with
    the reason kept for the isolation line?"""
    gone = Zygote(KERNEL_MODULES).start().ready()
    gone.process.kill()
    gone.process.wait()
    try:
        nb, ex, statuses, _ = run(["print(1 + 1)"], tmp_path, kernels=gone)
    finally:
        gone.stop()
    assert statuses == ["ok"] and text(nb.cells[0]) == "2\n" and ex.unforked


@needs_zygote
def test_a_zygote_whose_imports_start_a_thread_is_refused(tmp_path):
    """A fork copies only the thread that forks: does a zygote whose imports left a second thread running
    refuse to serve (the grader then starts new kernels), saying why?"""
    pytest.importorskip("pyarrow")
    with pytest.raises(RuntimeError, match="runs 2 threads"):
        Zygote(("pyarrow",)).start().ready()


def test_preload_reads_the_labs_own_cells_never_a_students():
    """Does the zygote import what the lab's given and test cells import (and torch's first-use modules),
    nothing a solution cell names, and nothing that starts a thread or looks for a kernel at import?"""
    template = new_notebook(cells=[
        new_code_cell("%matplotlib inline\nimport numpy as np\nfrom torch import nn\nimport tqdm.auto"),
        new_code_cell("import evil_module", metadata={"nbgrader": {"solution": True, "grade_id": "f"}}),
        new_markdown_cell("import not_code"),
        new_code_cell("def test():\n    from seqlab.grading import matches_reference\n    import pyarrow"),
        new_code_cell("this is not python("),
    ])
    modules = preload(nbformat.from_dict(template))
    assert modules[:4] == ("numpy", "torch", "seqlab.grading", "torch.fx.experimental.symbolic_shapes")
    assert "torch._dynamo" not in modules     # `from torch import nn` names torch, not torch.nn
    assert not {"evil_module", "not_code", "tqdm.auto", "pyarrow"} & set(modules)
    assert modules[-len(KERNEL_MODULES):] == KERNEL_MODULES and "pyarrow" in NEVER
    both = preload(nbformat.from_dict(new_notebook(cells=[new_code_cell("import torch\nimport torch.nn")])))
    assert both[:4] == ("torch", "torch.nn", "torch.fx.experimental.symbolic_shapes", "torch._dynamo")
