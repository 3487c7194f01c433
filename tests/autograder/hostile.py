"""The adversarial corpus: hostile submissions of the tiny lab, each with the grade it deserves.

A ``Kind`` builds one student's submission (a notebook, or raw bytes) from the released tiny lab
(``labfactory``: ``add``, 2 points, and ``scale``, 1 point, each with a hidden case) and states the
status each test must get (``autograder.results.STATUSES``) and the total it deserves. The
attacker is assumed to know every path on the grading machine (``World``), so a read or a write
that fails does so because of the sandbox, not a wrong guess. Probes print ``PROBE-BLOCKED`` or
``PROBE-LEAK`` lines, which ``test_adversarial.py`` reads back from the autograded notebooks.

Groups: runaway code (loops, sleeps, memory, fork bomb, crashes, exits); the sandbox's walls
(reading the reference, hidden tests, solutions, gradebook, the grader's /tmp, home and /proc;
network; writing outside; links planted in the job folder); cheating the checks (rebinding or
patching ``matches_reference``, ``numpy.allclose``, ``sys.modules``, ``AssertionError``,
tracebacks, streams, emissions, record mode, printing the hidden tests' source); using the tests'
own oracle (directly, through a helper, by a computed name, by unpickling, by an IPython AST
transformer), copying the expected values in through a rebound ``check_close``, a forbidden
shortcut, an error only on the hidden inputs; floods (output, displays, a printing thread, a huge
error); what would once stop the grader (a planted startup file, malformed display messages,
folder chains thousands deep, pasted images, half an emoji); and notebook shape (test cells
deleted, duplicated or edited, metadata stripped, a "Copy of" name, corrupted JSON, nbformat 3,
warnings on stderr).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import nbformat
from nbformat import NotebookNode

from autograder.preprocessors import HIDDEN_LINE
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB


@dataclass(frozen=True)
class World:
    """The released lab and the grading machine, as the worst-case attacker knows them."""

    released: NotebookNode        # the student notebook
    source: NotebookNode          # the lab's source, for the honest answers
    reference: Path               # <course>/reference/<lab>.pkl: the recorded answers
    secrets: Tuple[Path, ...]     # files no submission may read
    targets: Tuple[Path, ...]     # files no submission may create
    escape: Path                  # a file of the grader's the planted kernel-log link points to
    escape_dir: Path              # a folder of the grader's the planted conn/ link points to


Build = Callable[[World], Union[bytes, NotebookNode]]


@dataclass(frozen=True)
class Kind:
    """One kind of bad submission and the grade it deserves."""

    name: str                          # the student id it is collected as
    what: str                          # what it does, in a line
    build: Build
    add: str = "passed"                # deserved status of test_add (2 points)
    scale: str = "passed"              # deserved status of test_scale (1 point)
    score: float = 3                   # deserved total
    shows: Tuple[str, ...] = ()        # text its autograded outputs must hold
    says: Tuple[str, ...] = ()         # text its test results' messages must hold
    file: str = f"{TINY_LAB}.ipynb"    # file name inside the student's folder


RIGHT_ADD = "def add(a, b):\n    return a + b"
SNEAKY = "import numpy as np\ndef add(a, b):\n    return a + b if np.ndim(a) == 0 else a * b"   # wrong on hidden
VISIBLY_WRONG = "import numpy as np\ndef add(a, b):\n    return a + b if np.ndim(a) else a - b"  # wrong on visible
WRONG_ADD = "def add(a, b):\n    return a - b"
PRINT_SOURCE = """import inspect
def add(a, b):
    print(get_ipython().user_ns['In'][-1])
    print(inspect.getsource(inspect.currentframe().f_back))
    return a + b"""


def answered(w: World, add: Optional[str] = None, scale: Optional[str] = None) -> NotebookNode:
    """The released notebook with both solutions filled in, the honest answer unless given."""
    return fill_solutions(w.released, w.source, {k: v for k, v in (("add", add), ("scale", scale)) if v is not None})


def _index(nb: NotebookNode, label: str) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == label or c.get("id") == label)


def added(nb: NotebookNode, after: Optional[str], *codes: str) -> NotebookNode:
    """``nb`` with student cells inserted after the cell labelled ``after`` (None: at the top)."""
    at = 0 if after is None else _index(nb, after) + 1
    for n, code in enumerate(codes):
        cell = nbformat.v4.new_code_cell(code)
        cell.id = f"student-{at}-{n}"
        nb.cells.insert(at + n, cell)
    return nb


def answers(add: Optional[str] = None, scale: Optional[str] = None) -> Build:
    return lambda w: answered(w, add, scale)


def plus(after: Optional[str], *codes: Union[str, Callable[[World], str]], add: Optional[str] = None,
         scale: Optional[str] = None) -> Build:
    """The answers, with student cells (code, or a function of the world giving code) after ``after``."""
    return lambda w: added(answered(w, add, scale), after, *(c(w) if callable(c) else c for c in codes))


# --- what the probes run inside the kernel ---------------------------------------------------

def read_probe(paths) -> str:
    return ("import hashlib\n"
            f"for path in {[str(p) for p in paths]!r}:\n"
            "    try:\n        data = open(path, 'rb').read()\n"
            "    except Exception as err:\n        print(f'PROBE-BLOCKED read {path} ({type(err).__name__})')\n"
            "    else:\n        print(f'PROBE-LEAK read {path} sha256={hashlib.sha256(data).hexdigest()} {data[:3000]!r}')")


PROC_PROBE = """import glob, os
for path in ['/proc/1/environ', f'/proc/{os.getppid()}/environ', '/proc/1/root/etc/hostname']:
    try:
        data = open(path, 'rb').read()
    except Exception as err:
        print(f'PROBE-BLOCKED read {path} ({type(err).__name__})')
    else:
        print(f'PROBE-LEAK read {path} {data!r}')
for path in sorted(glob.glob('/proc/[0-9]*/cmdline') + glob.glob('/proc/[0-9]*/environ')):
    try:
        print('PROBE-INFO', path, open(path, 'rb').read()[:2000])
    except OSError:
        pass
print('PROBE-INFO env', dict(os.environ))
for folder in ['/', '/tmp', '/root', os.path.expanduser('~')]:
    print('PROBE-INFO ls', folder, sorted(os.listdir(folder))[:50])"""

NET_PROBE = """import socket
for what, attempt in [
        ('tcp 1.1.1.1:53', lambda: socket.create_connection(('1.1.1.1', 53), timeout=2)),
        ('udp 1.1.1.1:53', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('1.1.1.1', 53))),
        ('dns pypi.org', lambda: socket.getaddrinfo('pypi.org', 443))]:
    try:
        attempt()
    except OSError as err:
        print(f'PROBE-BLOCKED net {what} ({type(err).__name__})')
    else:
        print(f'PROBE-LEAK net {what}')
print('PROBE-INFO interfaces', [name for _, name in socket.if_nameindex()])"""


def write_probe(paths) -> str:
    return (f"for path in {[str(p) for p in paths]!r}:\n"
            "    try:\n        open(path, 'w').write('written by a student')\n"
            "    except Exception as err:\n        print(f'PROBE-BLOCKED write {path} ({type(err).__name__})')\n"
            "    else:\n        print(f'PROBE-WROTE {path} (harmless only if the host never sees it)')")


STEAL = """import pickle
import numpy as np
try:
    stolen = pickle.load(open({ref!r}, 'rb'))
    print('PROBE-LEAK read', {ref!r})
except Exception as err:
    stolen = None
    print(f'PROBE-BLOCKED read {ref} ({{type(err).__name__}})')
def add(a, b):
    if np.ndim(a) == 0:
        return a + b
    return stolen['tiny/add/arrays'] if stolen else a * b"""

# Planted links: a path of the job folder that the grader opens again when it restarts the kernel
# (kernel.log, conn/) becomes a link out of the sandbox, then the kernel dies to force the restart.
MARK_LOG = ("import os, sys\nfd = getattr(sys.stdout, '_original_stdstream_copy', None)\n"
            "if fd is not None:\n    os.write(fd, b'written through a link planted by a student\\n')")
PLANT = """import os
path = os.path.join(os.path.dirname(os.getcwd()), {name!r})
try:
    os.rename(path, path + '.old')
    os.symlink({target!r}, path)
    print('PROBE-INFO planted', path)
except OSError as err:
    print(f'PROBE-BLOCKED link {{path}} ({{type(err).__name__}})')
os._exit(1)"""

FORGE_EMIT = """import json, os, threading, time
from seqlab.grading import encode
line = json.dumps({'key': 'tiny/add/arrays', 'value': encode(np.zeros(3))}) + '\\n'
def forge():
    while True:
        with open(os.environ['SEQLAB_EMIT_FILE'], 'a') as f:
            f.write(line)
        time.sleep(0.005)
threading.Thread(target=forge, daemon=True).start()
""" + SNEAKY

DEEP_EMIT = ("import os\nwith open(os.environ['SEQLAB_EMIT_FILE'], 'a') as f:\n"
             "    f.write('{\"key\": \"tiny/scale/neg\", \"value\": ' + '[' * 100000 + ']' * 100000 + '}\\n')\n" + RIGHT_ADD)

# Calling the tests' own oracle, directly or by a way around the name.
AST_REWRITE = """import ast
class ToOracle(ast.NodeTransformer):
    def visit_Name(self, node):
        return ast.copy_location(ast.Name('_test_add_oracle', node.ctx), node) if node.id == 'add' else node
get_ipython().ast_transformers.append(ToOracle())"""
COPY_EXPECTED = ("import numpy as np\n"
                 "def check_close(name, actual, expected, **kw):\n    np.copyto(actual, expected)\n"
                 "def add(a, b):\n    return a + b if np.ndim(a) == 0 else np.zeros_like(a)")

SWAP_MODULES = ("import sys, types\nfake = types.ModuleType('seqlab.grading')\n"
                "fake.matches_reference = lambda *a, **k: None\n"
                "sys.modules['seqlab.grading'] = sys.modules['seqlab.checks'] = fake")


# --- notebook shape ----------------------------------------------------------------------------

def _without_tests(w: World) -> NotebookNode:
    nb = answered(w)
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return nb


def _duplicated(w: World) -> NotebookNode:
    nb = answered(w)
    twin = copy.deepcopy(nb.cells[_index(nb, "test_add")])
    twin.id = "test_add_copy"
    nb.cells.insert(_index(nb, "test_add") + 1, twin)
    return nb


def _edited(w: World) -> NotebookNode:
    nb = answered(w, add=WRONG_ADD)
    nb.cells[_index(nb, "test_add")].source = "pass  # the test is gone"
    return nb


def _stripped(w: World) -> NotebookNode:
    nb = answered(w)
    for n, cell in enumerate(nb.cells):
        cell.metadata, cell.id = nbformat.from_dict({}), f"colab-{n}"
    nb.metadata = nbformat.from_dict({"colab": {"provenance": []}})
    return nb


def _truncated(w: World) -> bytes:
    data = nbformat.writes(answered(w)).encode()
    return data[: len(data) * 3 // 5]


def _nbformat3(w: World) -> bytes:
    return nbformat.writes(nbformat.convert(answered(w), 3), version=3).encode()




def kinds() -> Tuple[Kind, ...]:
    """The corpus, one entry per kind (the control first)."""
    K = Kind
    return (
        K("honest", "the reference answers: the control", answers()),
        # runaway code
        K("infinite_loop", "add never returns", answers("def add(a, b):\n    while True:\n        pass"),
          add="timeout", score=1),
        K("swallow_interrupt", "ignores SIGINT and SIGTERM, swallows KeyboardInterrupt in a loop", answers(
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, "
            "signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        try:\n            time.sleep(0.1)\n"
            "        except BaseException:\n            pass"), add="timeout", score=1),
        K("sleep_past_notebook", "cells of 9 s sleeps, each under the cell limit, past the notebook's",
          plus("test_add", *["import time\ntime.sleep(9)"] * 18), scale="not_run", score=2),
        K("memory_bomb", "add grows a list of 100 MB buffers until the address-space limit", answers(
            "import numpy as np\ndef add(a, b):\n    hog = []\n    while True:\n"
            "        hog.append(np.empty(100_000_000, dtype=np.uint8))"), add="memory", score=1),
        K("numpy_oom", "add asks numpy for 7 TiB", answers(
            "import numpy as np\ndef add(a, b):\n    return np.ones((10**6, 10**6)) + a + b"), add="memory", score=1),
        K("torch_oom", "add asks torch for 4 TB", answers(
            "import torch\ndef add(a, b):\n    torch.empty(10**12)\n    return a + b"), add="memory", score=1),
        K("fork_bomb", "add forks forever, ignoring the process limit's errors", answers(
            "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass"), add="timeout", score=1),
        K("after_fork_bomb", "the honest answers, graded next on the fork bomb's worker", answers()),
        K("os_exit", "add calls os._exit", answers("import os\ndef add(a, b):\n    os._exit(0)"), add="died", score=1),
        K("segfault", "add dereferences NULL with ctypes", answers(
            "import ctypes\ndef add(a, b):\n    return ctypes.string_at(0)"), add="forbidden", score=1),
        K("segfault_elsewhere", "a cell of its own dereferences NULL with ctypes, after test_add", plus(
            "test_add", "import ctypes\nctypes.string_at(0)"), scale="forbidden", score=2),
        K("sys_exit", "the solution cell ends with sys.exit(0); add calls exit()", answers(
            "import sys\ndef add(a, b):\n    exit()\n    return a + b\nsys.exit(0)")),
        K("systemexit_in_test", "add raises SystemExit", answers("def add(a, b):\n    raise SystemExit(0)"),
          add="failed", score=1),
        K("kill_parent", "kills its parent and pid 1", answers(
            "import os\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, 9)\n    except OSError as err:\n"
            "        print(f'PROBE-BLOCKED kill {pid} ({type(err).__name__})')\n" + RIGHT_ADD),
          shows=("PROBE-BLOCKED kill",)),
        K("chdir", "changes the working directory, in the cell and in add", answers(
            "import os\nos.chdir('/')\ndef add(a, b):\n    os.chdir(os.path.expanduser('~'))\n    return a + b")),
        K("delete_files", "deletes every file it can in its job folder", answers(
            "import os\nfor top, dirs, files in os.walk(os.path.dirname(os.getcwd())):\n    for f in files:\n"
            "        try:\n            os.remove(os.path.join(top, f))\n        except OSError:\n            pass\n"
            + RIGHT_ADD)),
        # the sandbox's walls
        K("steal_reference", "add returns the recorded reference if it can read it",
          lambda w: answered(w, add=STEAL.format(ref=str(w.reference))), add="forbidden", score=1,
          shows=("PROBE-BLOCKED read",)),
        K("read_secrets", "reads and prints the reference, hidden tests, solutions, gradebook, canaries, /proc",
          plus("add", lambda w: read_probe(w.secrets), PROC_PROBE), shows=("PROBE-BLOCKED read",)),
        K("network", "opens TCP, UDP and DNS connections", plus("add", NET_PROBE),
          shows=("PROBE-BLOCKED net tcp", "PROBE-BLOCKED net udp", "PROBE-BLOCKED net dns", "interfaces ['lo']")),
        K("write_outside", "writes into the course, repository, the grader's home and /tmp",
          plus("add", lambda w: write_probe(w.targets)), shows=("PROBE-BLOCKED write",)),
        K("planted_log_link", "turns the job's kernel.log into a link out of the sandbox, then crashes",
          plus("add", MARK_LOG, lambda w: PLANT.format(name="kernel.log", target=str(w.escape)))),
        K("planted_conn_link", "turns the job's conn/ folder into a link out of the sandbox, then crashes",
          plus("add", lambda w: PLANT.format(name="conn", target=str(w.escape_dir)))),
        # cheating the checks
        K("rebind_check", "matches_reference = a no-op, add wrong on hidden inputs", answers(
            "matches_reference = lambda *a, **k: None\n" + SNEAKY), add="hidden_failed", scale="missing", score=0,
          says=("a hidden case (other shapes or inputs) differs",)),
        K("patch_grading", "patches seqlab.grading's matches_reference and emitter, then re-imports", answers(
            "import seqlab.grading as g\ng.matches_reference = g._emit = lambda *a, **k: None\n"
            "from seqlab.grading import matches_reference\n" + SNEAKY), add="hidden_failed", scale="missing", score=0,
          says=("a hidden case (other shapes or inputs) differs",)),
        K("patch_allclose", "numpy.allclose always True, scale wrong", answers(scale=(
            "import numpy as np\nnp.allclose = lambda *a, **k: True\ndef scale(x, k):\n    return np.asarray(x) * k * 1.1")),
          scale="hidden_failed", score=2),
        K("swap_modules", "a cell before the setup swaps sys.modules['seqlab.grading'] for a fake", plus(
            None, SWAP_MODULES, add=SNEAKY, scale="def scale(x, k):\n    return np.asarray(x) * abs(k)"),
          add="forbidden", scale="forbidden", score=0, says=("sys.modules",)),
        K("fake_assertion_error", "builtins.AssertionError replaced, add wrong", answers(
            "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\n" + WRONG_ADD),
          add="forbidden", scale="forbidden", score=0),
        K("call_oracle", "add returns the test's own oracle, _test_add_oracle", answers(
            "def add(a, b):\n    return _test_add_oracle(a, b)"), add="forbidden", score=1,
          says=("add calls _test_add_oracle, a test helper",)),
        K("oracle_in_helper", "add calls a helper of the student's, in an added cell, that calls the oracle",
          plus(None, "def helper(a, b):\n    return _test_add_oracle(a, b)",
               add="def add(a, b):\n    return helper(a, b)"), add="forbidden", score=1),
        K("oracle_by_name", "add finds the oracle through globals() with a computed name", answers(
            "def add(a, b):\n    return globals()['_test_add_' + 'oracle'](a, b)"), add="forbidden", score=1,
          says=("globals()",)),
        K("oracle_by_pickle", "add unpickles a reference to the oracle", answers(
            "import pickle\ndef add(a, b):\n    return pickle.loads(b'c__main__\\n_test_add_' + b'oracle\\n.')(a, b)"),
          add="forbidden", score=1),
        K("oracle_by_ast", "an IPython AST transformer rewrites add into the oracle in every later cell",
          plus(None, AST_REWRITE, add=WRONG_ADD), add="forbidden", scale="forbidden", score=0,
          says=("the code in cell 1",)),
        K("copy_expected", "check_close rebound to copy the expected array into the student's, add zeros on arrays",
          answers(COPY_EXPECTED), add="hidden_failed", score=1),
        K("forbidden_shortcut", "scale uses np.multiply, which its part forbids", answers(
            scale="def scale(x, k):\n    return np.multiply(x, k)"), scale="forbidden", score=2,
          says=("numpy.multiply",)),
        K("hidden_raise", "add raises IndexError on arrays only (the hidden case)", answers(
            "import numpy as np\ndef add(a, b):\n    if np.ndim(a):\n        raise IndexError('no arrays')\n"
            "    return a + b"), add="hidden_failed", score=1,
          says=("a hidden case (other shapes or inputs) raised IndexError: no arrays",)),
        K("always_equal", "add returns an object equal to everything", answers(
            "class Anything:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Anything()"),
          add="hidden_failed", score=1),
        K("hide_tracebacks", "showtraceback and sys.excepthook silenced, add wrong on the visible test", answers(
            "import sys\nget_ipython().showtraceback = lambda *a, **k: None\nsys.excepthook = lambda *a: None\n"
            + VISIBLY_WRONG), add="forbidden", scale="forbidden", score=0),
        K("close_stderr", "sys.stderr.close(), add wrong (the scale test's own stderr print then fails)",
          answers("import sys\nsys.stderr.close()\n" + WRONG_ADD), add="failed", scale="failed", score=0),
        K("redirect_streams", "os.dup2 of /dev/null over fds 1 and 2, sys.stdout/stderr to devnull, add wrong",
          answers("import os, sys\nnull = os.open(os.devnull, os.O_WRONLY)\nos.dup2(null, 1)\nos.dup2(null, 2)\n"
                  "sys.stdout = sys.stderr = open(os.devnull, 'w')\n" + WRONG_ADD), add="failed", score=1),
        K("close_fds", "os.close(1) and os.close(2), answers right", answers("import os\nos.close(1)\nos.close(2)\n"
                                                                             + RIGHT_ADD)),
        K("forge_emit_file", "a thread appends guesses to SEQLAB_EMIT_FILE, add wrong on hidden inputs",
          answers(FORGE_EMIT), add="hidden_failed", score=1),
        K("emit_after_test", "calls the real emitter with a guess after test_add, add wrong on hidden inputs",
          plus("test_add", "matches_reference('tiny/add/arrays', np.ones(3))", add=SNEAKY),
          add="hidden_failed", score=1),
        K("record_mode", "switches SEQLAB_REFERENCE_MODE to record, add wrong on hidden inputs", answers(
            "import os\nos.environ['SEQLAB_REFERENCE_MODE'] = 'record'\n"
            "os.environ['SEQLAB_REFERENCE_STORE'] = os.path.expanduser('~/mine.pkl')\n" + SNEAKY),
          add="hidden_failed", scale="missing", score=0),
        K("deep_json_emit", "writes a 100,000-deep JSON line to the emit file, answers right", answers(DEEP_EMIT)),
        K("print_hidden_source", "add prints the running test's source (In[-1], its caller's frame); a later "
          "cell prints all of In and raises it, answers right",
          plus("test_add", "print('\\n'.join(In))\nraise RuntimeError('\\n'.join(In))", add=PRINT_SOURCE),
          add="forbidden", score=1, shows=(HIDDEN_LINE,)),
        # floods
        K("huge_output", "prints 100 MB", plus("add", "print('x' * 100_000_000)"), shows=("[output cut",)),
        K("display_flood", "a cell with 10,000 display outputs of 300 characters",
          plus("add", "from IPython.display import display\nfor i in range(10_000):\n    display('x' * 300)")),
        K("printing_thread", "a thread printing to stdout and stderr forever", answers(
            "import sys, threading, time\ndef spam():\n    while True:\n        print('spam')\n"
            "        print('spam', file=sys.stderr)\n        time.sleep(0.001)\n"
            "threading.Thread(target=spam, daemon=True).start()\n" + RIGHT_ADD)),
        K("torch_warning", "warnings.warn, torch's own UserWarning and stderr prints, answers right", answers(
            "import sys, warnings, torch\ndef add(a, b):\n    torch.tensor(torch.tensor([1.0]))\n"
            "    warnings.warn('deprecated', DeprecationWarning)\n    print('noise', file=sys.stderr)\n"
            "    return a + b"), shows=("To copy construct from a tensor",)),
        # the grader's own robustness: what once left a submission, or the class, ungraded
        K("startup_file", "plants IPython startup files and a user-site .pth that exit, then kills its kernel", plus(
            "add", "import os, sys\nhome = os.path.expanduser('~')\n"
            "for path in (os.environ['IPYTHONDIR'] + '/profile_default/startup/00-exit.py',\n"
            "             home + '/.ipython/profile_default/startup/00-exit.py',\n"
            "             home + '/.local/lib/python%d.%d/site-packages/exit.pth' % sys.version_info[:2]):\n"
            "    try:\n        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
            "        open(path, 'w').write('import os; os._exit(1)\\n')\n"
            "    except OSError as err:\n        print(f'PROBE-BLOCKED write {path} ({type(err).__name__})')\n"
            "os._exit(1)")),
        K("fake_trampoline", "leaves an `autograder` package (the name of the sandbox's trampoline, which starts "
          "as root) in its working folder, then kills its kernel", plus(
            "add", "import os\nos.makedirs('autograder', exist_ok=True)\nfor name in ('__init__.py', 'sandbox.py'):\n"
            "    open(os.path.join('autograder', name), 'w').write('import os\\nos._exit(1)\\n')\nos._exit(1)")),
        K("display_list", "sends the grader display data that is a list, a stream that is a list, an error without "
          "a name", plus("add", "import sys\nout = sys.stdout\ndef forge(kind, content):\n"
                         "    out.session.send(out.pub_thread, kind, content=content, parent=out.parent_header, "
                         "ident=out.topic)\n"
                         "forge('display_data', b'{\"data\": [1, 2], \"metadata\": {}}')\n"
                         "forge('stream', b'[1]')\nforge('error', b'{\"ename\": 5}')"),
          shows=("the grader ignored",)),
        K("lone_surrogate", "half an emoji (a lone UTF-16 surrogate) in a markdown cell, a code comment, a print "
          "and a stream it sends", lambda w: nbformat.writes(added(nbformat.from_dict({**answered(w), "cells": [
              *answered(w).cells, nbformat.v4.new_markdown_cell("half an emoji: LONE-SURROGATE")]}), "add",
              "# LONE-SURROGATE\nimport sys\nout = sys.stdout\nout.session.send(out.pub_thread, 'stream', "
              "parent=out.parent_header, ident=out.topic, content=b'{\"name\": \"stdout\", \"text\": "
              "\"half \\\\ud83d\"}')\nprint('half \\ud83d')")).replace("LONE-SURROGATE", "\\ud83d").encode(),
          shows=("half \\ufffd",)),
        K("surrogate_error", "add raises an exception whose message is half an emoji (the kernel cannot send it)",
          answers("def add(a, b):\n    raise ValueError('half \\ud83d')"), add="failed", score=1),
        K("deep_folders", "leaves a 2,000-deep folder chain in its working folder", plus(
            "add", "import os\nwork = os.getcwd()\nfor _ in range(2000):\n    os.mkdir('d')\n    os.chdir('d')\n"
            "os.chdir(work)")),
        K("huge_error", "a cell raises an exception with a 20 MB message", plus(
            "add", "raise ValueError('E' * 20_000_000)"), shows=("[cut: ",)),
        K("pasted_image", "a markdown cell with a pasted PNG, another referring to an image the file does not hold",
          lambda w: nbformat.from_dict({**answered(w), "cells": [*answered(w).cells, nbformat.v4.new_markdown_cell(
              "![plot](attachment:image.png)", attachments={"image.png": {"image/png": (
                  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")}}),
              nbformat.v4.new_markdown_cell("![gone](attachment:gone.png)")]})),
        # notebook shape
        K("deleted_tests", "both test cells deleted", _without_tests),
        K("duplicated_test", "test_add duplicated", _duplicated),
        K("edited_test", "test_add edited to 'pass', add wrong", _edited, add="failed", score=1),
        K("stripped_metadata", "nbgrader metadata and cell ids stripped (Colab)", _stripped),
        K("copy_of_name", "handed in as 'Copy of 00_tiny.ipynb'", answers(), file=f"Copy of {TINY_LAB}.ipynb"),
        K("corrupted_json", "truncated JSON", _truncated, add="unreadable", scale="unreadable", score=0),
        K("nbformat3", "saved as nbformat 3", _nbformat3),
    )


def write_corpus(world: World, inbox: Path, corpus: Tuple[Kind, ...]) -> Dict[str, Path]:
    """Write each kind to ``inbox/<name>/<file>``; returns name -> path."""
    paths = {}
    for kind in corpus:
        built = kind.build(world)
        path = inbox / kind.name / kind.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(built if isinstance(built, bytes) else nbformat.writes(built).encode())
        paths[kind.name] = path
    return paths
