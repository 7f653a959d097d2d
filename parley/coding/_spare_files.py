"""Unnamed files made ahead in a directory, so that writing the next code file allocates no inode.

Every block is saved to a new file, and creating a file costs the file system an inode. On
ext4 that is the slow part of a small write: the allocator scans the group's bitmap from the
start and, without a journal, skips each inode freed in the last minute or so (it reads the
inode table for each), which took 0.4 to 1 ms per file here on a busy disk, against about
10 µs for the write and the name. So after a code file is written in a directory, a background
thread makes the next one's inode there (``O_TMPFILE``: a file with no name, that nothing else
can open by a path), and the next write takes it, writes its bytes and links it in under its
final name (``linkat`` through ``/proc/self/fd``). The first write in a directory, and every
write where ``O_TMPFILE`` or ``/proc`` is missing, takes the plain path.

A spare is used only when it is still as made: empty and with no name (a same-user process
could reach it through ``/proc/<pid>/fd``; one that was written to or linked is thrown away).
Spares are kept for at most `MAX_DIRECTORIES` directories, keyed by the directory's device and
inode (a directory renamed or replaced is another key), and a forked child forgets its parent's.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading

__all__ = ["MAX_DIRECTORIES", "link_spare", "make_spare", "take_spare"]

MAX_DIRECTORIES = 16
"""The most directories with a spare file held at once (each holds one file descriptor)."""

_TMPFILE: int | None = getattr(os, "O_TMPFILE", None)
_PROC_FD = "/proc/self/fd"


class _Spares:
    """The spare file per directory, and the thread that makes them; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_dir: dict[tuple[int, int], int] = {}
        self._pending: set[tuple[int, int]] = set()
        self._jobs: queue.SimpleQueue[tuple[int, tuple[int, int]]] | None = None
        self.works = _TMPFILE is not None and os.path.isdir(_PROC_FD)

    def take(self, dir_fd: int) -> int | None:
        """The spare made in ``dir_fd``'s directory, or None."""
        if not self._by_dir:
            return None
        info = os.fstat(dir_fd)
        with self._lock:
            return self._by_dir.pop((info.st_dev, info.st_ino), None)

    def make(self, directory: str | os.PathLike[str]) -> None:
        """Have a spare made in ``directory`` in the background, unless one is there or on its way."""
        if not self.works:
            return
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            info = os.fstat(dir_fd)
        except OSError:
            os.close(dir_fd)
            return
        key = (info.st_dev, info.st_ino)
        with self._lock:
            if key in self._pending or key in self._by_dir:
                os.close(dir_fd)
                return
            self._pending.add(key)
            jobs = self._jobs
            if jobs is None:
                jobs = self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._make, args=(jobs,), name="parley-spare-files", daemon=True).start()
        jobs.put((dir_fd, key))

    def _make(self, jobs: queue.SimpleQueue[tuple[int, tuple[int, int]]]) -> None:
        assert _TMPFILE is not None
        while True:
            dir_fd, key = jobs.get()
            try:
                spare: int | None = os.open(".", _TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)
            except OSError:  # no O_TMPFILE on this file system, no space, no permission: the plain path
                spare = None
            finally:
                os.close(dir_fd)
            with self._lock:  # `make` queued it only while the key had no spare and none was on its way
                self._pending.discard(key)
                if spare is None:
                    continue
                while len(self._by_dir) >= MAX_DIRECTORIES:
                    os.close(self._by_dir.pop(next(iter(self._by_dir))))
                self._by_dir[key] = spare

    def forget(self) -> None:
        """In a forked child: drop the parent's spares (the same open files) and its thread."""
        self._lock = threading.Lock()
        for fd in self._by_dir.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._by_dir = {}
        self._pending = set()
        self._jobs = None


_SPARES = _Spares()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SPARES.forget)


def take_spare(dir_fd: int) -> int | None:
    """An unnamed, empty file in the directory ``dir_fd``, made ahead by `make_spare`; None when there is none.

    The caller owns the returned descriptor (write-only, close-on-exec): it writes the data,
    names it with `link_spare`, and closes it.

    Raises:
        OSError: ``dir_fd`` is not an open descriptor.
    """
    spare = _SPARES.take(dir_fd)
    if spare is None:
        return None
    try:
        info = os.fstat(spare)
    except OSError:
        info = None
    if info is None or info.st_size != 0 or info.st_nlink != 0:  # written or linked since it was made
        os.close(spare)
        return None
    return spare


def make_spare(directory: str | os.PathLike[str]) -> None:
    """Have a spare file made in ``directory`` in the background, for the next file written there.

    Call it off the path of a write that waits, e.g. once a block has run: making the file
    costs what `take_spare` saves, on another thread. Nothing is done when a spare is already
    there or on its way, or when spares do not work here (no ``O_TMPFILE``, no ``/proc``); a
    directory that cannot be opened is ignored.
    """
    _SPARES.make(directory)


def link_spare(spare: int, dir_fd: int, name: str) -> None:
    """Give the unnamed file ``spare`` the name ``name`` in the directory ``dir_fd``.

    Raises:
        FileExistsError: ``name`` exists (a link there is not followed, and is left as it is).
        OSError: the link cannot be made (another file system, no ``/proc``).
    """
    os.link(f"{_PROC_FD}/{spare}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
