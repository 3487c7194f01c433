"""The processes of a sandbox: its uid, its memory group, and killing what it started.

As root each running sandbox holds a uid of its own (``claim_uid``, a lock file per uid), so that
its processes can be found, limited in number and killed, and a memory cgroup (``MemoryGroup``,
v2 or v1's memory hierarchy) that limits their memory together and from which none escapes by
forking or leaving its session. ``reap`` kills what a cell started (keeping the kernel and its
launchers, ``kernel_of``); ``drain`` kills everything and waits until it is gone.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import time
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

# First uid handed to sandboxed kernels when the grader runs as root (one per running sandbox).
SANDBOX_UID_BASE = 64000
# What a kernel forked from a zygote (``zygote.py``) names itself in /proc/PID/comm: its command line is
# the zygote's, so ``kernel_of`` tells it from its launchers by this name.
FORKED_KERNEL_NAME = b"ipykernel"


@functools.lru_cache(maxsize=None)
def libc():
    """The C library, for the system calls Python does not wrap (mount, keyctl)."""
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


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
    """The kernel among ``pids`` (the first started Python whose command runs ipykernel, or that a
    zygote named ``ipykernel``, ``zygote.py``) and its launchers among them (the memory group also holds
    bubblewrap's or the zygote's processes): what per-cell reaping keeps. A process the kernel forked,
    even before any cell ran, is not kept."""
    info = {}
    for pid in pids:
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
            fields = stat_line[stat_line.rindex(")") + 2:].split()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            python = os.path.basename(argv[0]).startswith(b"python")
            if b"autograder.zygote" in argv:      # forked, not started: its name says which one is the kernel
                is_kernel = python and Path(f"/proc/{pid}/comm").read_bytes().strip() == FORKED_KERNEL_NAME
            else:
                is_kernel = python and any(b"ipykernel" in a for a in argv)
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


def members(uid: Optional[int], group: Optional[MemoryGroup] = None) -> set:
    """Pids of a sandbox's processes: those running as its uid and those in its memory group."""
    return processes_of(uid) | (group.pids() if group else set())


def drain(uid: Optional[int], timeout: float = 10.0, group: Optional[MemoryGroup] = None) -> bool:
    """Kill every process of ``uid`` (and of ``group``) and wait until none is left (True), at most ``timeout`` s.

    Killing is asynchronous: a fork bomb's hundreds of children outlive their kernel's stop for a
    moment, and while they do they count against the next kernel's process limit (it then dies
    at start, "Resource temporarily unavailable")."""
    deadline = time.monotonic() + timeout
    while members(uid, group):
        if time.monotonic() > deadline:
            return False
        reap(uid, keep=set(), group=group)
        time.sleep(0.02)
    return True


def reap(uid: Optional[int], keep: set, group: Optional[MemoryGroup] = None, wait: float = 0.0) -> int:
    """Kill the processes of ``uid`` (and of ``group``) other than ``keep`` (the kernel): a fork
    bomb's children outlive the cell that started them. Killing is asynchronous: with ``wait``, wait
    up to that many seconds until the killed are dead (a busy machine can take a while), so that the
    next cell never sees them. Returns how many were killed."""
    killed = set()
    for pid in members(uid, group) - keep:
        try:
            os.kill(pid, 9)
            killed.add(pid)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    while killed and time.monotonic() < deadline and any(_alive(pid) for pid in killed):
        time.sleep(0.01)
    return len(killed)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet waited for, does not)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line[stat_line.rindex(")") + 2:][:1] not in ("Z", "X")
