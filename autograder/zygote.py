"""Kernels forked from a warm interpreter: the imports paid once per autograde run, the sandbox unchanged.

A new kernel spent 2 s of a Lab 1 submission's 5.6 s starting Python and ipykernel and importing torch,
matplotlib and seqlab, and 0.3 s more when torch first imported sympy (``benchmarks/grading_phases.py``).
So autograde starts a *zygote*: a Python started clean (an environment of its own, a working folder of
its own, no grader state, never a line of student code) that imports the lab's libraries once
(``preload``, read from the lab's grading template, never from a submission) and then only forks. For
each kernel a worker asks it, over a Unix socket in a folder only the grader can open, for a child that
builds the sandbox bubblewrap would build, from the same list of steps (``sandbox.plan``), and then
becomes the kernel without exec:

  launcher  what jupyter_client starts and watches (``launch_kernel.py``). It hands the zygote the
            request and its stdout and stderr (the kernel's log), forwards signals, and exits with
            the kernel's status. Outside the sandbox, like bubblewrap's first process; when it is
            killed, the sandbox is.
  outer     the zygote's child: joins the sandbox's memory group, then new mount, PID, network,
            IPC, UTS and cgroup namespaces (bubblewrap's as root), and waits for init.
  init      PID 1 of the new namespace: mounts the plan on a fresh root, pivots into it, starts a
            new session, reaps and forwards signals, and exits with the kernel (as bubblewrap's init).
  kernel    PID 2: no new privileges, the limits, the sandbox uid and fresh keyrings
            (``sandbox.confine``, what the trampoline runs before exec), exactly the kernel's
            environment, fresh random seeds, and then ipykernel, as ``python -m ipykernel_launcher``.

``tests/autograder/test_zygote.py`` checks that a probe sees the same in both sandboxes: mounts and
their flags, namespaces, uid and groups, capabilities, limits, environment, working folder, devices,
``sys.path`` and ``sys.flags``. What differs (the README says it too): the kernels of one run share the
zygote's address-space layout (no new ASLR per kernel) and Python's string-hash seed; the pages of the
libraries the zygote loaded are shared copy-on-write and counted in its memory, not in the
submission's memory group; the zygote also covers /proc/sys read-only (bubblewrap tries and, here,
fails). Only root can build the sandbox this way (bubblewrap, unprivileged, goes through a user
namespace; we do not), so elsewhere, or with ``--kernels fresh``, each kernel is a new Python.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import List, Optional, Tuple

from .launch_kernel import FORWARDED
from .processes import FORKED_KERNEL_NAME, libc

# What the zygote imports (``preload``): every module the lab's own code cells import (its grading
# template, never a submission); what torch imports on its first use of autograd with a given gradient
# (sympy, 0.3 s) and, in a lab that builds torch.nn models and so trains them with torch.optim, on an
# optimizer's first step (torch._dynamo, 0.6 s); and ipykernel's. Never a module that starts a thread at
# import (pyarrow: a fork would copy one thread of several), nor one that looks for a running kernel at
# import (tqdm.auto, ipywidgets: they would decide there is none).
FIRST_USE = {"torch": ("torch.fx.experimental.symbolic_shapes",), "torch.nn": ("torch._dynamo",)}
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger")
NEVER = ("pyarrow", "tqdm", "ipywidgets")
# The zygote's own environment (each kernel's is replaced by the one its request holds).
ZYGOTE_ENV = {"LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
              "PYDEVD_DISABLE_FILE_VALIDATION": "1"}

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_SILENT = 1024, 2048, 4096, 16384, 32768
MS_SLAVE, MS_RELATIME, MS_STRICTATIME = 1 << 19, 1 << 21, 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NAME, PR_SET_NO_NEW_PRIVS = 1, 4, 15, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def preload(template: dict) -> Tuple[str, ...]:
    """The modules to import once for the kernels of ``template`` (a notebook, or its JSON as a dict; see
    FIRST_USE above), in order."""
    import ast

    found: List[str] = []
    for cell in template.get("cells", []):
        if cell.get("cell_type") != "code" or cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        source = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
    found += [name for trigger, names in FIRST_USE.items() if trigger in found for name in names]
    found += KERNEL_MODULES
    keep = [name for name in found if name.split(".")[0] not in NEVER and name != "__future__"]
    return tuple(dict.fromkeys(keep))


def usable() -> str:
    """Why kernels cannot be forked from a zygote here, or "" when they can."""
    if platform.system() != "Linux" or platform.machine() not in PIVOT_ROOT:
        return f"forked kernels need Linux on x86_64 or arm64, not {platform.system()} on {platform.machine()}"
    if os.getuid() != 0:
        return "forked kernels need the grader to run as root (to build the sandbox without bubblewrap)"
    return ""


# --- the grader's side --------------------------------------------------------------------------

class Zygote:
    """A warm interpreter: ``start`` it, wait until it is ``ready`` (its imports take seconds), ask
    ``command`` for each kernel, ``stop`` it. Autograde starts one before its workers and each worker
    ``attach``es to it; where none was started for it (Dask), a worker starts its own."""

    def __init__(self, modules: Tuple[str, ...] = KERNEL_MODULES, folder: Optional[Path] = None) -> None:
        self.modules = tuple(modules)
        self.folder = folder
        self.process: Optional[subprocess.Popen] = None   # None in a process that attached
        self.requests = 0

    @classmethod
    def attach(cls, folder: str) -> "Zygote":
        return cls(tuple(Path(folder, "modules").read_text().split()), Path(folder))

    def start(self) -> "Zygote":
        self.folder = Path(tempfile.mkdtemp(prefix="seqlab-zygote-"))   # 0700: the grader's alone
        env = {**ZYGOTE_ENV, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               "HOME": str(self.folder), "MPLCONFIGDIR": str(self.folder / "matplotlib")}
        (self.folder / "modules").write_text("\n".join(self.modules))
        with open(self.folder / "zygote.log", "wb") as log:
            self.process = subprocess.Popen(
                # Not -I, so that its kernels' sys.flags are a new kernel's: the environment is ours alone, and the
                # working folder this puts first on sys.path (``serve`` drops it) is the zygote's own.
                [sys.executable, "-m", "autograder.zygote", "serve", str(self.folder), str(os.getpid())],
                env=env, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        return self

    def ready(self, timeout: float = 300.0) -> "Zygote":
        """Wait until it listens; RuntimeError (with its last words) if it ended or took over ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not (self.folder / "ready").exists():
            if not self.alive(starting=True) or time.monotonic() > deadline:
                raise RuntimeError(f"the kernels' zygote did not start: {self.log()}")
            time.sleep(0.02)
        return self

    def alive(self, starting: bool = False) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(int((self.folder / "ready").read_text()), 0)
            return True
        except FileNotFoundError:
            return starting and (self.folder / "modules").exists()
        except (OSError, ValueError):
            return False

    def log(self) -> str:
        try:
            return (self.folder / "zygote.log").read_text(errors="replace")[-2000:].strip() or "no output"
        except OSError:
            return "no log"

    def command(self, kernel: List[str], plan: list, env: dict, limits: dict, uid: Optional[int],
                group: Optional[str]) -> List[str]:
        """The launcher's command line for one kernel (``kernel``: ``python -m ipykernel_launcher ARGS``)."""
        self.requests += 1
        request = self.folder / f"request-{os.getpid()}-{self.requests}.json"
        request.write_text(json.dumps({"plan": plan, "env": env, "limits": limits, "group": group,
                                       "uid": -1 if uid is None else uid, "argv": kernel[3:]}))
        return [sys.executable, "-I", "-S", str(Path(__file__).with_name("launch_kernel.py")),
                str(self.folder / "socket"), str(request)]

    def stop(self) -> None:
        """Stop it and remove its folder (only where it was started)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        import shutil
        shutil.rmtree(self.folder, ignore_errors=True)


_WORKER_ZYGOTE: Optional[Zygote] = None
_WORKER_FAILED = ""   # why this worker's zygote did not start: not tried again for every submission


def for_worker(kernels: str, use_bwrap: bool, modules: Tuple[str, ...], shared: str = "") -> Tuple[Optional[Zygote], str]:
    """The zygote for this worker's kernels under ``kernels`` ("auto": where it can be used, "warm": or
    fail, "fresh": never) with ``modules`` imported: the grader's ``shared`` one (a folder) when it has
    them and runs, else one of the worker's own, started on first use and again if it died or another lab
    needs other modules, stopped when the worker ends; and the words for the isolation line."""
    global _WORKER_ZYGOTE, _WORKER_FAILED
    if kernels == "fresh":
        return None, "a new kernel for each run (--kernels fresh)"
    why = usable() or ("" if use_bwrap else "forked kernels need bubblewrap's sandbox")
    zygote = None
    if not why and shared:
        with contextlib.suppress(OSError, RuntimeError):
            attached = Zygote.attach(shared)
            if attached.modules == tuple(modules):
                zygote = attached.ready()
    if not why and zygote is None:
        why = _WORKER_FAILED
        if not why and (_WORKER_ZYGOTE is None or not _WORKER_ZYGOTE.alive() or _WORKER_ZYGOTE.modules != modules):
            if _WORKER_ZYGOTE is None:
                import atexit
                atexit.register(lambda: _WORKER_ZYGOTE and _WORKER_ZYGOTE.stop())
            else:
                _WORKER_ZYGOTE.stop()
            try:
                _WORKER_ZYGOTE = Zygote(modules).start().ready()
            except (OSError, RuntimeError) as err:
                why = _WORKER_FAILED = str(err)[:500]
                _WORKER_ZYGOTE = None
        zygote = _WORKER_ZYGOTE
    if not why:
        return zygote, "kernels forked from a warm interpreter that imported the lab's libraries once"
    if kernels == "warm":
        from .course import GradingError
        raise GradingError(f"--kernels warm was asked for, but {why}; use --kernels auto")
    return None, f"a new kernel for each run ({why})"


# --- the zygote ----------------------------------------------------------------------------------

_FOLDER = ""   # the zygote's own folder (serve)
_IMPORTED_ENV: dict = {}   # what the zygote's imports set in its environment (serve)


def serve(folder: str, parent: int) -> None:
    """Import the modules listed in FOLDER/modules, then fork one outer process per connection, until the
    grader's worker goes."""
    global _FOLDER
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return
    _FOLDER = folder
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.abspath(folder):
        del sys.path[0]
    import gc
    import importlib
    gc.disable()          # until the imports are frozen: a collection would touch every object
    before = dict(os.environ)
    for name in Path(folder, "modules").read_text().split():
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # What the imports wrote into the environment (debugpy's PYDEVD_USE_FRAME_EVAL): a kernel that imported
    # them itself would have it on top of its own environment, so each kernel gets it again.
    _IMPORTED_ENV.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    # What the imports made is never collected here: frozen, the kernels' collections skip it too, so that
    # they do not touch (and so copy) the pages they share with the zygote.
    gc.freeze()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:   # a fork would copy one thread of several, and whatever locks the others hold
        sys.exit(f"the zygote runs {threads} threads after its imports; forking it would not be safe")
    # Outer processes are reaped by the system the moment they end: a zombie would stay in its sandbox's
    # memory group, and the grader waits for that group to empty before the next kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(folder, "socket"))
    listener.listen(64)
    Path(folder, "ready").write_text(f"{os.getpid()}\n")
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], 0.5)
        if ready:
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                _child(_outer, conn)
            conn.close()


def _child(body, *args) -> None:
    """Run ``body`` in a forked child, which never returns into its parent's code."""
    code = 1
    try:
        code = body(*args)
    except BaseException:  # noqa: BLE001  (the kernel's log says what stopped the sandbox)
        with contextlib.suppress(Exception):
            os.write(2, f"seqlab sandbox: {traceback.format_exc()[-3000:]}".encode())
    finally:
        os._exit(code if isinstance(code, int) else 1)


def _outer(conn: socket.socket) -> int:
    """Receive a request, enter the sandbox's group and namespaces, start init, and wait for it."""
    for number in (*FORWARDED, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    message, fds, _, _ = socket.recv_fds(conn, 4096, 2)
    if len(fds) != 2:
        return 1
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    path = Path(message.decode())
    request = json.loads(path.read_text())
    path.unlink()
    _prctl(PR_SET_NAME, b"seqlab-sandbox")
    if request["group"]:    # before anything else: all this process starts stays in the group
        Path(request["group"]).write_text(str(os.getpid()))
    _check(libc().unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    libc().unshare(CLONE_NEWCGROUP)             # where it can, as bubblewrap's --unshare-cgroup-try
    request["root"] = os.path.join(_FOLDER, f"root-{os.getpid()}")
    init = os.fork()
    if init == 0:
        conn.close()
        _child(_init, request)
    watch = [conn, os.pidfd_open(init)]       # the pidfd is readable the moment init ends
    while True:
        ready, _, _ = select.select(watch, [], [], 1.0)
        if conn in ready:
            data = conn.recv(256)
            if not data:            # the launcher is gone: so is the sandbox
                os.kill(init, signal.SIGKILL)
                watch.remove(conn)
            for line in data.decode(errors="replace").splitlines():
                if line.startswith("signal "):
                    with contextlib.suppress(OSError, ValueError):
                        os.kill(init, int(line.split()[1]))
        pid, status = os.waitpid(init, os.WNOHANG)
        if pid:
            with contextlib.suppress(OSError):   # the empty mount point init left in the zygote's folder
                os.rmdir(request["root"])
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {os.waitstatus_to_exitcode(status) % 256}\n".encode())
            return 0


def _init(request: dict) -> int:
    """PID 1: build the file system, start the kernel, reap everything, exit with the kernel."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_NAME, b"seqlab-init")
    cwd = _build_root(request["plan"], request["root"])
    os.setsid()
    kernel = os.fork()
    if kernel == 0:
        _child(_kernel, request, cwd)
    for number in FORWARDED:
        signal.signal(number, lambda n, _frame: os.kill(kernel, n))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == kernel:
            return os.waitstatus_to_exitcode(status) % 256


def _kernel(request: dict, cwd: str) -> int:
    """PID 2: the limits, uid and environment a sandboxed kernel gets, then ipykernel in this process."""
    from .sandbox import Limits, confine

    for number in FORWARDED:
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)    # a new Python's: KeyboardInterrupt
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.chdir(cwd)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.closerange(3, 1 << 16)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    confine(Limits(**request["limits"]), request["uid"])
    _prctl(PR_SET_DUMPABLE, 1)          # as after an exec: the kernel may read its own /proc entries
    _prctl(PR_SET_NAME, FORKED_KERNEL_NAME)
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(_IMPORTED_ENV)
    os.environ["PWD"] = cwd
    _fresh_process_state()
    import gc
    gc.enable()
    sys.argv = [str(Path(_module_file("ipykernel_launcher"))), *request["argv"]]
    from ipykernel import kernelapp
    code = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return code


def _fresh_process_state() -> None:
    """What a new Python process would have that a fork does not: its own random seeds, and matplotlib's
    folders read from the kernel's environment. (IPython puts the working folder on ``sys.path``.)"""
    import random
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:              # a new process draws torch's first seed at random too
        sys.modules["torch"].seed()
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        for name in ("get_configdir", "get_cachedir"):
            with contextlib.suppress(AttributeError):
                getattr(mpl, name).cache_clear()


def _module_file(name: str) -> str:
    import importlib.util
    spec = importlib.util.find_spec(name)
    return spec.origin if spec and spec.origin else name


# --- the file system, as bubblewrap builds it --------------------------------------------------

def _build_root(plan: list, root: str) -> str:
    """Mount ``plan`` (``sandbox.plan``) on a fresh root at ``root`` (a folder of the zygote's, so that the
    plan's sources stay in view) and pivot into it; returns the working folder."""
    _mount(None, "/", None, MS_SILENT | MS_SLAVE | MS_REC)   # nothing mounted here reaches the host
    os.mkdir(root, 0o700)
    _mount("tmpfs", root, "tmpfs", MS_NODEV | MS_NOSUID, "mode=0755")
    cwd = "/"
    for kind, path, *rest in plan:
        target = root + path if kind != "symlink" else root + rest[0]
        if kind == "symlink":
            os.symlink(path, target)
        elif kind in ("ro-bind", "bind"):
            if not os.path.exists(path):
                if kind == "ro-bind" and not rest[0]:
                    continue
                raise FileNotFoundError(f"the sandbox needs {path}, which does not exist")
            _bind(path, target, readonly=kind == "ro-bind")
        elif kind == "proc":
            _makedirs(target)
            _mount("proc", target, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV)
            for covered in ("sys", "sysrq-trigger", "irq", "bus"):   # as bubblewrap, where they exist
                with contextlib.suppress(OSError):
                    _bind(f"{target}/{covered}", f"{target}/{covered}", readonly=True)
        elif kind == "dev":
            _dev(target)
        elif kind == "tmpfs":
            _makedirs(target)
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={rest[1]:o},size={rest[0]}")
        elif kind == "dir":
            _makedirs(target)
            os.chmod(target, rest[0])
        elif kind == "chdir":
            cwd = path
    os.chdir(root)
    _check(libc().syscall(PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc().umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")
    return cwd


def _dev(target: str) -> None:
    """A /dev of a few devices, as bubblewrap's --dev makes it."""
    _makedirs(target)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name in DEVICES:
        _bind(f"/dev/{name}", f"{target}/{name}", readonly=False, devices=True)
    for link, to in (("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                     ("fd", "/proc/self/fd"), ("core", "/proc/kcore")):
        os.symlink(to, f"{target}/{link}")
    os.mkdir(f"{target}/shm", 0o755)
    os.mkdir(f"{target}/pts", 0o755)
    _mount("devpts", f"{target}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{target}/ptmx")


def _bind(source: str, target: str, readonly: bool, devices: bool = False) -> None:
    """Bind ``source`` at ``target`` (made if missing), every mount under it nosuid, and nodev and
    read-only as asked, its other flags (noexec, atime) kept, as bubblewrap binds."""
    if not os.path.exists(target):
        if os.path.isdir(source):
            _makedirs(target)
        else:
            _makedirs(os.path.dirname(target))
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o444))
    _mount(source, target, None, MS_SILENT | MS_BIND | MS_REC)
    add = MS_NOSUID | (0 if devices else MS_NODEV) | (MS_RDONLY if readonly else 0)
    for point, flags in _mounts_under(target):
        _mount(None, point, None, MS_SILENT | MS_BIND | MS_REMOUNT | flags | add)


def _mounts_under(target: str) -> List[tuple]:
    """(mount point, flags) of the mounts at or under ``target``, from /proc/self/mountinfo."""
    names = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
             "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME,
             "strictatime": MS_STRICTATIME}
    found = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            if point == target or point.startswith(target.rstrip("/") + "/"):
                found.append((point, sum(names.get(o, 0) for o in fields[5].split(","))))
    return found


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _mount(source, target, fstype, flags: int, data: Optional[str] = None) -> None:
    enc = lambda v: None if v is None else str(v).encode()  # noqa: E731
    _check(libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _prctl(option: int, value) -> None:
    if isinstance(value, bytes):
        libc().prctl(option, ctypes.c_char_p(value), 0, 0, 0)
    else:
        libc().prctl(option, ctypes.c_ulong(int(value)), 0, 0, 0)



if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: python -m autograder.zygote serve FOLDER PARENT_PID")
