"""The sandbox a student's kernel runs in: bubblewrap where it works, process limits always.

Only the *kernel* is sandboxed. The grader's own process starts it, sends it the cells, reads
its outputs and scores them, so nothing the student's code does to its interpreter (patching
the check helpers, hiding tracebacks, closing stderr) reaches the scoring.

With bubblewrap (Debian package ``bubblewrap``) the kernel gets:
- new PID, network, IPC and UTS namespaces: no network at all, and killing the sandbox kills
  every process the student started;
- a read-only view of the system and of this Python environment only. The repository
  (``solutions/``), the course (gradebook, reference outputs, other students' work) and the
  grader's home are simply not there; ``/tmp`` and ``$HOME`` are fresh and empty;
- one writable folder, the job folder, which also holds the kernel's connection sockets.
Run as root, the grader gives each worker its own unprivileged uid inside the sandbox, so the
process-count limit is per sandbox; otherwise bubblewrap runs unprivileged (user namespaces).

Budgets hold for the whole sandbox where the system allows it (``open_sandbox``): a memory cgroup
holds every process the kernel starts, limited together and all killed when the sandbox closes, and
the job folder is a RAM disk sized to the disk budget; where neither can be made (not root), the
runner measures the folder after each cell and the isolation line says that memory is limited per
process only (``budgets``). Each kernel gets a new session keyring, and its uid's keyrings are emptied.

Without bubblewrap only the limits apply, and ``describe`` says so.
Limits (``resource.setrlimit`` in a small trampoline, ``python -I -m autograder.sandbox exec``,
isolated so that no module the student left in the working folder can stand in for it while it
still runs as root): address space (memory), process count, file size, open files, and CPU
seconds; wall-clock limits per cell and per notebook are enforced by the runner (``runner.py``).

Each kernel starts in a fresh home (``jobfolder.fresh_home``) with an IPython folder the student
cannot write, and no user site-packages, so no startup file, config or ``.pth`` planted by one
kernel runs in the next. The job folder is ``jobfolder.py``'s; the uid, the memory group and the
killing of processes are ``processes.py``'s.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, List, Optional

from .jobfolder import job_folder, make_job
from .processes import MemoryGroup, claim_uid, libc, members


@dataclass
class Limits:
    """What one submission may use."""

    cell_seconds: int = 600        # wall clock per cell (training cells take minutes at full budget)
    notebook_seconds: int = 1800   # wall clock for the whole notebook, restarts included
    memory_mb: int = 6144          # address space of the kernel (torch maps ~2 GB before any work)
    processes: int = 256           # tasks of the sandbox uid (threads count: torch and zmq use some)
    file_mb: int = 512             # largest file the kernel may write
    open_files: int = 1024
    output_kb: int = 256           # outputs kept per cell (the rest is cut with a notice)
    disk_mb: int = 1024            # everything in the job folder together (work, home, logs)
    files: int = 20000             # files and folders in the job folder
    restarts: int = 3              # kernel restarts after a crash or timeout, per notebook


@functools.lru_cache(maxsize=None)
def bubblewrap() -> Optional[str]:
    """The ``bwrap`` executable if it exists *and* works here (containers may forbid it)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    probe = [exe, *_namespaces(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return exe if ok else None


def describe(uid: Optional[int], use_bwrap: bool, chosen: bool = False) -> str:
    """One line for the TA: which isolation graded this submission."""
    who = f"uid {uid}" if uid is not None else f"the grader's uid {os.getuid()}"
    if use_bwrap:
        return f"bubblewrap: no network, read-only system, no repository or course files; {who}"
    nproc = " (no process-count limit: root is exempt)" if os.getuid() == 0 else ""
    why = ("--sandbox limits was chosen" if chosen else
           "bubblewrap not available: install the Debian package 'bubblewrap'")
    return f"process limits only ({why}); no filesystem or network isolation; {who}{nproc}"


def _namespaces() -> List[str]:
    # As root, a user namespace would map the student back to root outside; we drop to an
    # unprivileged uid instead (see exec_main). Unprivileged, bwrap needs the user namespace.
    if os.getuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return ["--unshare-all"]


def _python_paths() -> List[Path]:
    """What the kernel must read: this interpreter, its environment, and our two packages (they
    may be editable installs living in the repository, whose other folders stay hidden)."""
    import seqlab

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(seqlab.__file__).resolve().parent,
             Path(__file__).resolve().parent}
    for entry in sys.path:
        p = Path(entry or ".").resolve()
        if p.is_dir() and "site-packages" in p.parts:
            paths.add(p)
    real = {p.resolve() for p in paths}
    return sorted(real | paths)


def plan(job: Path, limits: Limits) -> List[tuple]:
    """The file system a kernel sees, step by step: what ``wrap`` gives bubblewrap as arguments and what
    ``zygote.py`` mounts itself (one list, so the two sandboxes cannot drift apart). Steps are
    ("symlink", target, path), ("ro-bind", path, must_exist), ("proc", path), ("dev", path),
    ("tmpfs", path, bytes, mode), ("dir", path, mode), ("bind", path) and ("chdir", path)."""
    steps: List[tuple] = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            steps.append(("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            steps.append(("ro-bind", top, True))
    # /tmp and /dev/shm live in RAM: sized, or files there would bypass the memory limit.
    tmp_bytes = limits.file_mb * 1024 * 1024
    steps += [("proc", "/proc"), ("dev", "/dev"), ("tmpfs", "/tmp", tmp_bytes, 0o1777),
              ("tmpfs", "/dev/shm", tmp_bytes, 0o1777)]
    binds = [*_python_paths(), job]
    # bwrap makes missing parent folders private to root; the kernel must be able to walk them.
    parents = sorted({a for p in binds for a in p.parents if str(a) not in ("/", "/tmp")},
                     key=lambda a: len(a.parts))
    for parent in parents:
        if not any(parent == b or b in parent.parents for b in binds):
            steps.append(("dir", str(parent), 0o755))
    steps += [("ro-bind", str(p), False) for p in _python_paths()]
    steps.append(("ro-bind", "/sys/devices/system/cpu", False))   # torch reads the CPU count here
    return steps + [("bind", str(job)), ("chdir", str(job / "work"))]


def wrap(command: List[str], job: Path, env: dict, limits: Limits, uid: Optional[int],
         use_bwrap: bool, group: Optional["MemoryGroup"] = None) -> List[str]:
    """The command line that runs ``command`` (the kernel) in the sandbox of ``job``."""
    # -I: neither the working folder (the student's) nor any PYTHON* variable shapes the trampoline.
    trampoline = [sys.executable, "-I", "-m", "autograder.sandbox", "exec", json.dumps(asdict(limits)),
                  str(-1 if uid is None else uid), "--", *command]
    # The first process joins the memory group before anything else runs: all it starts stays there.
    join = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group.procs)] if group else []
    if not use_bwrap:
        return join + trampoline
    args = [*join, bubblewrap(), "--die-with-parent", "--new-session", *_namespaces()]
    for kind, path, *rest in plan(job, limits):
        if kind == "symlink":
            args += ["--symlink", path, rest[0]]
        elif kind == "ro-bind":
            args += ["--ro-bind" if rest[0] else "--ro-bind-try", path, path]
        elif kind in ("proc", "dev"):
            args += [f"--{kind}", path]
        elif kind == "tmpfs":
            args += ["--perms", f"{rest[1]:o}", "--size", str(rest[0]), "--tmpfs", path]
        elif kind == "dir":
            args += ["--perms", f"{rest[0]:04o}", "--dir", path]
        elif kind == "bind":
            args += ["--bind", path, path]
        else:
            args += ["--chdir", path]
    args.append("--clearenv")
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + trampoline


def kernel_env(job: Path, emit_file: Path) -> dict:
    """The whole environment of a sandboxed kernel (nothing inherited from the grader)."""
    home = job / "home"
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home), "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
        "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(home / ".matplotlib"),
        # Read-only to a sandbox uid: IPython then keeps its profile in a temporary folder of its own.
        "IPYTHONDIR": str(job / "ipython"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONNOUSERSITE": "1",
        # One thread each: N sandboxes share the cores, and torch's pool would oversubscribe them.
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
        "SEQLAB_REFERENCE_MODE": "emit", "SEQLAB_EMIT_FILE": str(emit_file),
    }


@dataclass
class Sandbox:
    """Where one submission's kernels run: the job folder, the uid, the memory group, the isolation."""

    job: Path
    uid: Optional[int]
    use_bwrap: bool
    group: Optional[MemoryGroup] = None
    sized: bool = False                 # the job folder is a sized RAM disk (else measured per cell)
    description: str = ""               # the isolation line the TA sees
    zygote: Optional[object] = None     # a zygote.Zygote that forks this sandbox's kernels, or None: fresh ones

    def processes(self) -> set:
        return members(self.uid, self.group)


@contextlib.contextmanager
def open_sandbox(limits: Limits, use_bwrap: bool, chosen: bool = False,
                 parent: Optional[Path] = None) -> Iterator[Sandbox]:
    """A sandbox for one submission; afterwards none of its processes, files or groups is left."""
    with job_folder(limits.disk_mb, limits.files, parent) as (job, sized):
        with claim_uid() if use_bwrap else contextlib.nullcontext() as uid:
            group = MemoryGroup.create(limits.memory_mb)
            try:
                make_job(job, uid)
                box = Sandbox(job, uid, use_bwrap, group, sized)
                box.description = f"{describe(uid, use_bwrap, chosen)}; {budgets(limits, group, sized)}"
                yield box
            finally:
                if group is not None:
                    group.close()


def budgets(limits: Limits, group: Optional[MemoryGroup], sized: bool) -> str:
    """The memory and disk budgets as enforced here, for the isolation line."""
    memory = (f"memory {limits.memory_mb} MB for all its processes together (cgroup v{group.version})"
              if group else f"memory {limits.memory_mb} MB of address space per process (no cgroup can be "
                            "created here, so its processes together may use more)")
    disk = f"job folder {limits.disk_mb} MB and {limits.files:,} files ({'RAM disk' if sized else 'measured after each cell'})"
    return f"{memory}; {disk}"


# --- the trampoline, run inside the sandbox ----------------------------------------------------

def exec_main(argv: List[str]) -> None:
    """``exec LIMITS_JSON UID -- COMMAND...``: set limits, drop to UID (if >= 0), exec COMMAND."""
    command = argv[argv.index("--") + 1:]
    confine(Limits(**json.loads(argv[0])), int(argv[1]))
    os.execvp(command[0], command)


def confine(limits: Limits, uid: int) -> None:
    """What every kernel gets just before it starts, bubblewrap's or the zygote's: the limits, UID
    (when >= 0, the sandbox's own) and fresh keyrings."""
    mb = 1024 * 1024
    _limit(resource.RLIMIT_AS, limits.memory_mb * mb)
    _limit(resource.RLIMIT_FSIZE, limits.file_mb * mb)
    _limit(resource.RLIMIT_NOFILE, limits.open_files)
    _limit(resource.RLIMIT_CPU, limits.notebook_seconds + 60)
    _limit(resource.RLIMIT_CORE, 0)
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        _limit(resource.RLIMIT_NPROC, limits.processes)
    else:  # the grader's own uid: allow what it already runs, plus the sandbox's share
        _limit(resource.RLIMIT_NPROC, _tasks_of(os.getuid()) + limits.processes)
    _fresh_keyrings(own_uid=uid >= 0)


# keyctl(2) and its operations; the syscall's number differs by architecture.
KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219}
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR = 1, 7
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5


def _fresh_keyrings(own_uid: bool) -> None:
    """A new, empty session keyring for the kernel; with a sandbox uid of its own, that uid's user
    keyrings emptied too (they outlive processes: a key the last submission under this uid stored
    must not be readable by the next). Nothing happens where the kernel has no keyrings."""
    import ctypes
    import platform

    number = KEYCTL.get(platform.machine())
    if number is None:
        return
    call = libc().syscall
    call(number, KEYCTL_JOIN_SESSION_KEYRING, None)
    if own_uid:
        for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            call(number, KEYCTL_CLEAR, ctypes.c_int(ring))


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                pass
    return count


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "exec":
        exec_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m autograder.sandbox exec LIMITS_JSON UID -- COMMAND...")
