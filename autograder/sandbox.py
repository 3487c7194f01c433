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

Each kernel starts in a fresh home (``fresh_home``) with an IPython folder the student cannot
write, and no user site-packages, so no startup file, config or ``.pth`` planted by one kernel runs
in the next. Folders are removed by ``remove_tree``: no recursion (a student can nest folders
deeper than Python's stack), a constant number of open files, links removed, never followed.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import resource
import shutil
import stat
import itertools
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

# First uid handed to sandboxed kernels when the grader runs as root (one per running sandbox).
SANDBOX_UID_BASE = 64000


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
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # /tmp and /dev/shm live in RAM: sized, or files there would bypass the memory limit.
    tmp_bytes = str(limits.file_mb * 1024 * 1024)
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", tmp_bytes, "--tmpfs", "/tmp",
             "--perms", "1777", "--size", tmp_bytes, "--tmpfs", "/dev/shm"]
    binds = [*_python_paths(), job]
    # bwrap makes missing parent folders private to root; the kernel must be able to walk them.
    parents = sorted({a for p in binds for a in p.parents if str(a) not in ("/", "/tmp")},
                     key=lambda a: len(a.parts))
    for parent in parents:
        if not any(parent == b or b in parent.parents for b in binds):
            args += ["--perms", "0755", "--dir", str(parent)]
    for p in _python_paths():
        args += ["--ro-bind-try", str(p), str(p)]
    for cpu in ("/sys/devices/system/cpu",):  # torch reads the CPU count here
        args += ["--ro-bind-try", cpu, cpu]
    args += ["--bind", str(job), str(job), "--chdir", str(job / "work"), "--clearenv"]
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


# --- the budgets of a whole sandbox: its memory (a cgroup) and its job folder (a sized RAM disk) ---

_GROUP_IDS = itertools.count()


class MemoryGroup:
    """A memory cgroup (v2, or v1's memory hierarchy) holding every process of one sandbox: their memory
    is limited together, however many the student starts, and ``close`` kills every one of them, a
    daemon that left its parent included, before the group is removed."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version
        self.procs = path / "cgroup.procs"

    @classmethod
    def create(cls, limit_mb: int) -> Optional["MemoryGroup"]:
        """A new group inside this process's own, limited to ``limit_mb`` with no swap; None where
        this process may not create one (not root, no delegated cgroup)."""
        for version, parent in _group_parents():
            group = cls(parent / f"seqlab-{os.getpid()}-{next(_GROUP_IDS)}", version)
            try:
                group.path.mkdir()
            except OSError:
                continue
            try:
                group._limit(limit_mb * 1024 * 1024)
                return group
            except OSError:
                group.close()
        return None

    def _limit(self, nbytes: int) -> None:
        memory, swap = (("memory.max", "memory.swap.max") if self.version == 2 else
                        ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"))
        (self.path / memory).write_text(str(nbytes))
        if (self.path / swap).exists():     # v2 counts swap apart (0: none), v1 memory and swap together
            with contextlib.suppress(OSError):
                (self.path / swap).write_text("0" if self.version == 2 else str(nbytes))

    def pids(self) -> set:
        try:
            return {int(pid) for pid in self.procs.read_text().split()}
        except OSError:
            return set()

    def close(self, timeout: float = 10.0) -> bool:
        """Kill every process in the group and remove it; False if it is still busy after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            for pid in self.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:                 # busy: killed processes take a moment to go
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)


def _group_parents() -> List[Tuple[int, Path]]:
    """(version, folder) of this process's own memory cgroups that it may create groups in, v2 first."""
    mounts = {}
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            fstype, options = fields[fields.index("-") + 1], fields[-1].split(",")
            if fstype == "cgroup2" or (fstype == "cgroup" and "memory" in options):
                mounts.setdefault(2 if fstype == "cgroup2" else 1, Path(fields[4]))
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except (OSError, ValueError, IndexError):
        return []
    found = []
    for line in own:
        _, controllers, path = line.split(":", 2)
        version = 2 if controllers == "" else 1 if "memory" in controllers.split(",") else 0
        if version not in mounts:
            continue
        folder = mounts[version] / path.lstrip("/")
        try:
            usable = version == 1 or "memory" in (folder / "cgroup.subtree_control").read_text().split()
        except OSError:
            usable = False
        if usable and os.access(folder, os.W_OK):
            found.append((version, folder))
    return sorted(found, reverse=True)


@contextlib.contextmanager
def job_folder(limits: Limits, parent: Optional[Path] = None) -> Iterator[Tuple[Path, bool]]:
    """A new, empty job folder, and whether it is a RAM disk sized to ``limits.disk_mb`` and
    ``limits.files`` (as root, where tmpfs can be mounted: writes past the budget fail with "No
    space left on device"); otherwise the runner measures it after each cell (``folder_usage``).
    Removed afterwards, whatever the student left in it."""
    job = Path(tempfile.mkdtemp(prefix="sg-", dir=parent))
    os.chmod(job, 0o755)
    sized = os.getuid() == 0 and _mount(job, f"size={limits.disk_mb}m,nr_inodes={limits.files},mode=0755")
    try:
        yield job, sized
    finally:
        if sized:
            _libc().umount2(bytes(job), 2)  # MNT_DETACH: the kernel is gone, nothing may hold it open
        remove_tree(job)


@functools.lru_cache(maxsize=None)
def _libc():
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


def _mount(folder: Path, options: str) -> bool:
    MS_NOSUID, MS_NODEV = 2, 4
    try:
        return _libc().mount(b"tmpfs", bytes(folder), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()) == 0
    except (OSError, AttributeError):
        return False


def folder_usage(folder: Path, most_files: int) -> Tuple[int, int]:
    """(bytes on disk, files and folders) under ``folder``, without recursion or following links;
    counting stops after ``most_files`` (then the budget is blown anyway)."""
    used, count, todo = 0, 0, [os.fspath(folder)]
    while todo and count <= most_files:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    count += 1
                    info = entry.stat(follow_symlinks=False)
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
        except OSError:
            continue
    return used, count


@dataclass
class Sandbox:
    """Where one submission's kernels run: the job folder, the uid, the memory group, the isolation."""

    job: Path
    uid: Optional[int]
    use_bwrap: bool
    group: Optional[MemoryGroup] = None
    sized: bool = False                 # the job folder is a sized RAM disk (else measured per cell)
    description: str = ""               # the isolation line the TA sees

    def processes(self) -> set:
        return processes_of(self.uid) | (self.group.pids() if self.group else set())


@contextlib.contextmanager
def open_sandbox(limits: Limits, use_bwrap: bool, chosen: bool = False,
                 parent: Optional[Path] = None) -> Iterator[Sandbox]:
    """A sandbox for one submission; afterwards none of its processes, files or groups is left."""
    with job_folder(limits, parent) as (job, sized):
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


def make_job(root: Path, uid: Optional[int]) -> Path:
    """Create the job folder layout (work/, conn/, home/, ipython/), the first three owned by the
    sandbox uid.

    The job folder itself stays the grader's: the grader, maybe root, opens ``kernel.log`` there
    and reads ``work/`` and writes ``conn/``, so the student must not be able to replace any of
    them by a link out of the sandbox.
    """
    for sub in ("work", "conn"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        if uid is not None:
            for dirpath, dirnames, filenames in os.walk(root / sub):
                for name in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
                    os.chown(name, uid, uid)
    fresh_home(root, uid)
    return root


def fresh_home(job: Path, uid: Optional[int]) -> None:
    """Empty the kernel's home (owned by the sandbox uid) and IPython folder (the grader's, so
    read-only to a sandbox uid), before each kernel start: a startup file, an IPython config or a
    ``.pth`` file that one kernel planted there must not run in the next."""
    for sub in ("home", "ipython"):
        remove_tree(job / sub)
    for sub in ("home", "home/runtime", "ipython"):
        (job / sub).mkdir(mode=0o755)
        if uid is not None and sub != "ipython":
            os.chown(job / sub, uid, uid)


def empty_job(job: Path, keep: Path) -> None:
    """Remove everything in ``job`` but the job folder itself and ``keep`` (a regular file in it, the
    emitted outputs scoring reads; anything else by that name goes too), once the kernel is gone."""
    with os.scandir(job) as entries:
        tops = [Path(e.path) for e in entries]
    for top in tops:
        if top in keep.parents and top.is_dir() and not top.is_symlink():
            with os.scandir(top) as entries:
                inner = [Path(e.path) for e in entries]
            for path in inner:
                if path != keep or not stat.S_ISREG(path.lstat().st_mode):
                    remove_tree(path)
        else:
            remove_tree(top)


def remove_tree(path: os.PathLike) -> None:
    """Remove ``path`` and everything under it, like ``shutil.rmtree`` but without recursion (a chain
    of 100,000 folders is fine), with two open folders at a time, removing links without following
    them, and making a folder its owner locked (mode 000) removable again. A missing path is fine."""
    parent, name = os.path.split(os.path.abspath(path))
    top = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            info = os.stat(name, dir_fd=top, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=top)
            return
        names, fd = [name], _open_folder(top, name)
        ids = [(os.fstat(top).st_dev, os.fstat(top).st_ino)]     # each open folder's parent, to climb back
        try:
            while names:
                child = _empty_files(fd)
                if child is not None:                        # go down into the first folder left
                    try:
                        down = _open_folder(fd, child)
                    except OSError as err:                   # no longer a folder: now a link or a file
                        if err.errno not in (errno.ENOTDIR, errno.ENOENT, errno.ELOOP):
                            raise
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(child, dir_fd=fd)
                        continue
                    ids.append((os.fstat(fd).st_dev, os.fstat(fd).st_ino))
                    os.close(fd)
                    fd, names = down, names + [child]
                    continue
                up = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                if (os.fstat(up).st_dev, os.fstat(up).st_ino) != ids.pop():
                    os.close(up)
                    raise OSError(f"{path} changed while it was being removed")
                os.close(fd)
                fd = up
                with contextlib.suppress(FileNotFoundError):  # empty now: remove it and go on above
                    os.rmdir(names.pop(), dir_fd=fd)
        finally:
            os.close(fd)
    finally:
        os.close(top)


def _open_folder(parent_fd: int, name: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except PermissionError:     # a folder its owner locked (mode 000): we are that owner, or root
        os.chmod(name, 0o700, dir_fd=parent_fd)
        return os.open(name, flags, dir_fd=parent_fd)


def _empty_files(fd: int) -> Optional[str]:
    """Unlink every file and link in the open folder ``fd``; the name of a folder in it, if one is left."""
    while True:
        seen = 0
        with os.scandir(fd) as entries:
            for entry in entries:
                seen += 1
                if entry.is_dir(follow_symlinks=False):
                    return entry.name
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:
                    pass
                except PermissionError:   # a folder its owner made read-only
                    os.chmod(fd, 0o700)
                    os.unlink(entry.name, dir_fd=fd)
        if not seen:
            return None


# Where running sandboxes hold their uid: one lock file per uid, so graders running at the same
# time (two courses, parallel test workers, Dask workers on one host) never share a uid, and one
# grader's reaping can never touch another's kernel.
# The uids are the host's, so their locks are too: one folder whatever TMPDIR a grader runs with.
UID_LOCKS = Path("/run" if os.access("/run", os.W_OK) else "/tmp") / "seqlab-sandbox-uids"
UID_RANGE = 4096


@contextlib.contextmanager
def claim_uid() -> Iterator[Optional[int]]:
    """Hold an unused sandbox uid for the duration (None when not root: keep the grader's uid)."""
    if os.getuid() != 0:
        yield None
        return
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + UID_RANGE):
        handle = open(UID_LOCKS / str(uid), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            drain(uid)                   # whatever a crashed grader left behind under this uid
            yield uid
        finally:
            drain(uid)
            handle.close()
        return
    raise RuntimeError(f"all {UID_RANGE} sandbox uids from {SANDBOX_UID_BASE} are in use")


def kernel_of(pids: set) -> set:
    """The kernel among ``pids`` (the first started Python whose command runs ipykernel) and its
    launchers among them (the memory group also holds bubblewrap's processes): what per-cell reaping
    keeps. A process the kernel forked, even before any cell ran, is not kept."""
    info = {}
    for pid in pids:
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
            fields = stat_line[stat_line.rindex(")") + 2:].split()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            is_kernel = os.path.basename(argv[0]).startswith(b"python") and any(b"ipykernel" in a for a in argv)
            info[pid] = (int(fields[1]), int(fields[19]), is_kernel)
        except (OSError, ValueError, IndexError):
            continue
    kernels = [pid for pid, (_, _, is_kernel) in info.items() if is_kernel]
    if not kernels:
        return set()
    keep, pid = set(), min(kernels, key=lambda p: info[p][1])
    while pid in info and pid not in keep:
        keep.add(pid)
        pid = info[pid][0]
    return keep


def processes_of(uid: Optional[int]) -> set:
    """Pids (outside view) of the processes running as ``uid``."""
    if uid is None:
        return set()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


def drain(uid: Optional[int], timeout: float = 10.0, group: Optional[MemoryGroup] = None) -> bool:
    """Kill every process of ``uid`` (and of ``group``) and wait until none is left (True), at most ``timeout`` s.

    Killing is asynchronous: a fork bomb's hundreds of children outlive their kernel's stop for a
    moment, and while they do they count against the next kernel's process limit (it then dies
    at start, "Resource temporarily unavailable")."""
    deadline = time.monotonic() + timeout
    while processes_of(uid) or (group and group.pids()):
        if time.monotonic() > deadline:
            return False
        reap(uid, keep=set(), group=group)
        time.sleep(0.02)
    return True


def reap(uid: Optional[int], keep: set, group: Optional[MemoryGroup] = None) -> int:
    """Kill the processes of ``uid`` (and of ``group``) other than ``keep`` (the kernel): a fork
    bomb's children outlive the cell that started them. Returns how many were killed."""
    killed = 0
    for pid in (processes_of(uid) | (group.pids() if group else set())) - keep:
        try:
            os.kill(pid, 9)
            killed += 1
        except OSError:
            pass
    return killed


# --- the trampoline, run inside the sandbox ----------------------------------------------------

def exec_main(argv: List[str]) -> None:
    """``exec LIMITS_JSON UID -- COMMAND...``: set limits, drop to UID (if >= 0), exec COMMAND."""
    limits = Limits(**json.loads(argv[0]))
    uid = int(argv[1])
    command = argv[argv.index("--") + 1:]
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
    os.execvp(command[0], command)


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
    call = _libc().syscall
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
