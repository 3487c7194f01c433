"""The job folder of one sandbox: made, sized, measured and removed, whatever the student left in it.

A job folder holds the kernel's working folder (``work/``, where the notebook runs and emits its
outputs), its connection files (``conn/``), a fresh home and IPython folder, and its log. As root it
is a RAM disk (tmpfs) of the disk budget and file count; otherwise the runner measures it after
each cell. Folders are removed by ``remove_tree``: no recursion (a student can nest folders deeper
than Python's stack), a constant number of open files, links removed, never followed.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Tuple

from .processes import libc


@contextlib.contextmanager
def job_folder(disk_mb: int, files: int, parent: Optional[Path] = None) -> Iterator[Tuple[Path, bool]]:
    """A new, empty job folder, and whether it is a RAM disk of ``disk_mb`` and ``files`` (as root,
    where tmpfs can be mounted: writes past the budget fail with "No space left on device");
    otherwise the runner measures it after each cell (``folder_usage``). Removed afterwards,
    whatever the student left in it."""
    job = Path(tempfile.mkdtemp(prefix="sg-", dir=parent))
    os.chmod(job, 0o755)
    sized = os.getuid() == 0 and _mount(job, f"size={disk_mb}m,nr_inodes={files},mode=0755")
    try:
        yield job, sized
    finally:
        if sized:
            libc().umount2(bytes(job), 2)  # MNT_DETACH: the kernel is gone, nothing may hold it open
        remove_tree(job)


def _mount(folder: Path, options: str) -> bool:
    MS_NOSUID, MS_NODEV = 2, 4
    try:
        return libc().mount(b"tmpfs", bytes(folder), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()) == 0
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
