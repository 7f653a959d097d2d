"""Files between ``work_dir`` and a container on a daemon that cannot mount it: copies through the Docker API.

A daemon on another machine (``docker_host="tcp://..."`` or ``"ssh://..."``) cannot bind-mount a
directory of this one. `FileSync` stands in for the mount:

- `FileSync.seed`, when the container starts: ``work_dir``'s files go in (a tar archive unpacked
  at ``/workspace`` with ``put_archive``), and ``/workspace`` is handed to the user code runs as;
- `FileSync.push`, before each block: the block's code file goes in;
- `FileSync.pull`, after each block: ``/workspace`` comes back as a tar stream
  (``get_archive``), and each regular file that is new or changed since it was last seen (by
  size and modification time) is written into ``work_dir``.

What comes back is controlled by the sandboxed code, so it is read as untrusted: only regular
files and directories, by relative paths that stay inside ``work_dir``; links, devices and
absolute or ``..`` paths are skipped; files are written without following links on this side
(`parley.coding._files.write_file_in`); and at most ``max_bytes`` are written per pull, the
rest named in a note; ``work_dir`` itself may hold at most as much when the container starts.
Executable bits go in; owners do not (everything is the code's user's). Files deleted in the
container are not deleted here. Symbolic links in ``work_dir`` are not copied in.

Every method blocks on the daemon; call them from worker threads.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from parley.coding._docker import Container
from parley.coding._files import SymlinkNotFollowedError, write_file_in
from parley.exceptions import ExecutorError

__all__ = ["DEFAULT_PULL_BYTES", "FileSync"]

DEFAULT_PULL_BYTES = 268_435_456
"""The most bytes of files one `FileSync.pull` writes into ``work_dir`` (256 MiB)."""


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for `tarfile`'s stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def _owner(user: str) -> tuple[int, int]:
    """The numeric uid and gid of ``user`` (``"uid:gid"`` or ``"uid"``); (0, 0) for a name."""
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        return int(uid), int(gid) if gid.isdigit() else int(uid)
    return 0, 0


class FileSync:
    """Copies files between ``work_dir`` and ``mount`` in one container.

    Args:
        work_dir: the resolved working directory on this machine.
        mount: where the files live in the container (``/workspace``).
        user: the user code runs as; files and ``mount`` are handed to it.
        max_bytes: the most bytes one `pull` writes. Default `DEFAULT_PULL_BYTES`.
    """

    def __init__(self, work_dir: Path, mount: str, user: str, max_bytes: int = DEFAULT_PULL_BYTES) -> None:
        self._work_dir = work_dir
        self._mount = mount.rstrip("/")
        self._uid, self._gid = _owner(user)
        self._max_bytes = max_bytes
        self._seen: dict[str, tuple[int, int]] = {}
        self._sent = (
            0  # bytes put in the archive being built  # relative path -> (size, mtime) last seen in the container
        )

    def _info(
        self, name: str, *, directory: bool, size: int = 0, mtime: float = 0, executable: bool = False
    ) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
        info.mode = 0o777 if directory or executable else 0o666  # any user in the container may use it
        info.uid, info.gid, info.size, info.mtime = self._uid, self._gid, size, int(mtime)
        return info

    def seed(self, container: Container) -> None:
        """Create ``mount`` for the user code runs as and copy ``work_dir``'s files into it.

        Raises:
            ExecutorError: ``work_dir`` holds more than ``max_bytes`` of files.
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
        """
        buffer = io.BytesIO()
        base = posixpath.basename(self._mount)
        self._sent = 0
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.addfile(self._info(base, directory=True))
            for relative in self._walk():
                self._add(tar, relative, prefix=base + "/")
        container.put_archive(posixpath.dirname(self._mount) or "/", buffer.getvalue())

    def push(self, container: Container, paths: Iterable[Path]) -> None:
        """Copy the files ``paths`` (inside ``work_dir``) into the container, with their directories.

        Raises:
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
        """
        buffer = io.BytesIO()
        self._sent = 0
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in paths:
                relative = path.relative_to(self._work_dir).as_posix()
                parts = relative.split("/")
                for depth in range(1, len(parts)):
                    tar.addfile(self._info("/".join(parts[:depth]), directory=True))
                self._add(tar, relative, prefix="")
        container.put_archive(self._mount, buffer.getvalue())

    def _walk(self) -> Iterator[str]:
        """Relative paths of the directories and regular files below ``work_dir``, links not followed."""
        for root, dirs, files in os.walk(self._work_dir):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
            for name in (*dirs, *files):
                yield os.path.relpath(os.path.join(root, name), self._work_dir).replace(os.sep, "/")

    def _add(self, tar: tarfile.TarFile, relative: str, *, prefix: str) -> None:
        path = self._work_dir / relative
        try:
            info = os.lstat(path)
        except OSError:
            return
        if stat.S_ISDIR(info.st_mode):
            tar.addfile(self._info(prefix + relative, directory=True))
        elif stat.S_ISREG(info.st_mode):
            self._sent += info.st_size
            if self._sent > self._max_bytes:
                raise ExecutorError(
                    f"work_dir ({self._work_dir}) holds more than {self._max_bytes:,} bytes of files, too many to copy "
                    "into a container on a remote Docker daemon. Use a work_dir with only what the code needs."
                )
            with open(path, "rb") as file:  # a regular file, as lstat said; this side wrote or owns it
                data = file.read()
            executable = bool(info.st_mode & 0o111)
            header = self._info(
                prefix + relative, directory=False, size=len(data), mtime=info.st_mtime, executable=executable
            )
            tar.addfile(header, io.BytesIO(data))
            self._seen[relative] = (len(data), int(info.st_mtime))

    def pull(self, container: Container) -> tuple[list[Path], list[str]]:
        """Write the files new or changed in the container into ``work_dir``.

        Returns:
            The files written, and notes for the model about files that were not (over the
            byte limit, or where a link on this side would have been followed).

        Raises:
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
            tarfile.TarError: the daemon sent something that is not a tar archive.
        """
        written: list[Path] = []
        notes: list[str] = []
        budget = self._max_bytes
        base = posixpath.basename(self._mount)
        with tarfile.open(
            fileobj=io.BufferedReader(_ChunkReader(container.get_archive(self._mount))), mode="r|"
        ) as tar:
            for member in tar:
                relative = _inside(member.name, base)
                if relative is None or not member.isfile():
                    continue
                key = (member.size, int(member.mtime))
                if self._seen.get(relative) == key:
                    continue
                if member.size > budget:
                    notes.append(
                        f"{self._mount}/{relative} ({member.size:,} bytes) was not copied back to this machine: over "
                        f"the {self._max_bytes:,} bytes copied back per block."
                    )
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                data = source.read()
                budget -= len(data)
                try:
                    written.append(write_file_in(self._work_dir, relative, data))
                except SymlinkNotFollowedError:
                    notes.append(f"{self._mount}/{relative} was not copied back: a link on this side is in its way.")
                    continue
                except OSError as exc:
                    notes.append(f"{self._mount}/{relative} was not copied back: {exc}.")
                    continue
                self._seen[relative] = key
        return written, notes


def _inside(name: str, base: str) -> str | None:
    """The path of the archive member ``name`` relative to the archive's top directory ``base``; None if outside."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or parts[0] != base or ".." in parts or name.startswith("/"):
        return None
    rest = parts[1:]
    return "/".join(rest) if rest else None
