"""What a sandbox left in its slot, collected by the host without running code in it.

A *slot* is the host-side directory where a conversation's code works: a pool member's
``work_dir`` (for Docker, the host side of ``/workspace``; for a kernel, the kernel's working
directory), or a plain executor's ``work_dir``. Code in the sandbox can change everything inside
it, so every function here:

- takes a path relative to the slot (or absolute, inside it); ``..`` may not climb out of it, and
  is resolved by name, not by following links;
- never follows a symbolic link below the slot (through the no-follow helpers of
  `parley.coding._files`): a link is an error to read through, an entry to list, and left out of
  an archive;
- is bounded: bytes read, entries listed, bytes archived;
- raises `ArtifactError`, whose ``reason`` says what was wrong.

The functions are blocking: callers run them in a worker thread (as
`parley.coding._pool_artifacts.ArtifactsMixin` does for the pool).

Network access and other sandbox requirements are the pool's policy, set where the pool and its
executors are built: nothing here, and no tool argument, changes an executor's options.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from parley.coding._files import SymlinkNotFollowedError, _enter, open_file_in, write_file_in
from parley.coding._pool_config import check_count
from parley.exceptions import ArtifactError, ConfigError

if TYPE_CHECKING:
    import tarfile


__all__ = [
    "DEFAULT_ARCHIVE_BYTES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_READ_BYTES",
    "ArtifactEntry",
    "ArtifactListing",
    "archive_in_slot",
    "host_path",
    "list_in_slot",
    "read_in_slot",
    "slot_parts",
    "write_in_slot",
]

DEFAULT_READ_BYTES = 1024 * 1024
"""The default cap on one file read from a slot: 1 MiB."""
DEFAULT_MAX_ENTRIES = 1000
"""The default cap on the entries one listing returns."""
DEFAULT_ARCHIVE_BYTES = 64 * 1024 * 1024
"""The default cap on one archive of a slot: 64 MiB."""

ARCHIVE_FORMATS = {"tar.gz": "w|gz", "tar": "w|"}

Kind = Literal["file", "directory", "symlink", "other"]


@dataclass(frozen=True)
class ArtifactEntry:
    """One entry of a slot, as `ArtifactsMixin.list_artifacts` reports it (links are not followed).

    Attributes:
        path: the entry's path relative to the slot, ``/``-separated (``"out/plot.png"``).
        kind: ``"file"``, ``"directory"``, ``"symlink"`` (never followed) or ``"other"`` (a FIFO,
            socket or device).
        size: the file's size in bytes (0 for anything but a file).
    """

    path: str
    kind: Kind
    size: int


@dataclass(frozen=True)
class ArtifactListing:
    """The entries under one directory of a slot, in sorted order (each directory before what it holds).

    Attributes:
        entries: the entries, at most ``max_entries`` of them.
        truncated: True when there were more than ``max_entries`` (only the first are listed).
    """

    entries: tuple[ArtifactEntry, ...]
    truncated: bool


# --- paths -------------------------------------------------------------------------------------------


def slot_parts(root: Path, path: str) -> tuple[str, ...]:
    """The components of ``path`` below ``root``, by name only (no link is looked at).

    ``.`` and empty components are dropped; ``..`` removes the component before it. An absolute
    path must lie under ``root`` (as given or resolved).

    Returns:
        The components; ``()`` for the slot itself.

    Raises:
        ArtifactError: ``path`` is not a str, holds a NUL character, is absolute outside ``root``,
            or climbs out of it with ``..`` (reason ``"outside"``).
    """
    if not isinstance(path, str) or "\x00" in path:
        raise ArtifactError(
            f"{path!r} is not a path: give a str without NUL characters.", reason="outside", path=str(path)
        )
    pure = PurePosixPath(path)
    if pure.is_absolute():
        for base in dict.fromkeys((root.absolute(), root.resolve())):
            with contextlib.suppress(ValueError):
                pure = pure.relative_to(base)
                break
        else:
            raise _outside(path)
    parts: list[str] = []
    for part in pure.parts:
        if part == "..":
            if not parts:
                raise _outside(path)
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return tuple(parts)


def host_path(executor: object, path: str) -> str:
    """``path`` as the slot functions take it: the sandbox's own absolute name for its slot is made relative.

    Code in a Docker container sees its slot as ``/workspace``, so a model names files
    ``/workspace/out.txt``; that becomes ``out.txt``. Any other path is returned unchanged.
    """
    from parley.coding._docker_sandbox import MOUNT
    from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor

    if isinstance(executor, DockerCommandLineCodeExecutor) and isinstance(path, str):
        pure = PurePosixPath(path)
        if pure.is_relative_to(MOUNT):
            return str(pure.relative_to(MOUNT))
    return path


def _outside(path: str) -> ArtifactError:
    return ArtifactError(
        f"{path!r} is outside the sandbox's slot: only files inside it can be used. Give a path relative to "
        "the working directory (such as 'out/result.txt'), without '..' leading out of it.",
        reason="outside",
        path=path,
    )


def _shown(parts: tuple[str, ...]) -> str:
    return "/".join(parts) or "."


def _translated(exc: OSError, path: str, root: Path) -> ArtifactError:
    """The `ArtifactError` for an OS error met while using ``path`` in the slot ``root``."""
    if isinstance(exc, SymlinkNotFollowedError):
        link = Path(str(exc.filename))
        where = link.relative_to(root) if link.is_relative_to(root) else link
        return ArtifactError(
            f"{path!r} goes through a symbolic link ({where}), which is not followed: a link in the sandbox can "
            "point anywhere on the host. Use the file the link points to, by its own path inside the slot.",
            reason="symlink",
            path=path,
        )
    if isinstance(exc, FileNotFoundError):
        return ArtifactError(f"{path!r} does not exist in the sandbox's slot.", reason="missing", path=path)
    if exc.errno == errno.ENOTDIR:
        return ArtifactError(
            f"{path!r}: a component on the way is not a directory.", reason="not_a_directory", path=path
        )
    if exc.errno == errno.EINVAL:
        return ArtifactError(
            f"{path!r} is not a regular file (a directory, FIFO or device); list a directory instead.",
            reason="not_a_file",
            path=path,
        )
    if exc.errno == errno.EFBIG:
        return ArtifactError(
            f"{path!r} is {exc.strerror}: raise max_bytes, or read it in parts in the sandbox (head, tail).",
            reason="too_large",
            path=path,
        )
    return ArtifactError(f"{path!r} cannot be read: {exc.strerror or exc}.", reason="unreadable", path=path)


@contextlib.contextmanager
def _directory(root: Path, parts: tuple[str, ...], path: str) -> Iterator[int | None]:
    """An fd for the directory ``root/parts``, reached without following a link; None when ``root`` is missing."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # root itself is the host's choice
    except FileNotFoundError:
        if parts:
            raise _translated(FileNotFoundError(errno.ENOENT, "missing", str(root)), path, root) from None
        yield None  # the sandbox has not made its directory yet: an empty slot
        return
    try:
        for i, part in enumerate(parts):
            inner = _enter(fd, part, root.joinpath(*parts[: i + 1]), create=False)
            os.close(fd)
            fd = inner
    except OSError as exc:
        os.close(fd)
        raise _translated(exc, path, root) from exc
    try:
        yield fd
    finally:
        os.close(fd)


# --- reading, listing, archiving, writing ------------------------------------------------------------


def read_in_slot(root: Path, path: str, max_bytes: int = DEFAULT_READ_BYTES) -> bytes:
    """Read the regular file ``path`` of the slot ``root`` whole, refusing one over ``max_bytes``.

    Raises:
        ArtifactError: the path is outside the slot, goes through a link, is missing, is not a
            regular file, is over ``max_bytes`` bytes, or cannot be read (see ``reason``).
        ConfigError: ``max_bytes`` is not a positive int.
    """
    limit = check_count("max_bytes", max_bytes)
    parts = slot_parts(root, path)
    if not parts:
        raise _translated(OSError(errno.EINVAL, "a directory"), path, root)
    try:
        with open_file_in(root, PurePosixPath(*parts)) as file:
            size = os.fstat(file.fileno()).st_size
            data = b"" if size > limit else file.read(limit + 1)
    except OSError as exc:
        raise _translated(exc, path, root) from exc
    if size > limit or len(data) > limit:  # it may also have grown while read
        raise _translated(
            OSError(errno.EFBIG, f"over the limit of {limit:,} bytes ({max(size, len(data)):,}+)"), path, root
        )
    return data


def list_in_slot(
    root: Path, path: str = ".", recursive: bool = False, max_entries: int = DEFAULT_MAX_ENTRIES
) -> ArtifactListing:
    """List the directory ``path`` of the slot ``root`` (and, if ``recursive``, everything below it).

    Links are listed as ``"symlink"`` and never entered. A missing slot (code never ran) lists
    as empty.

    Raises:
        ArtifactError: the path is outside the slot, goes through a link, is missing, or is not
            a directory (see ``reason``).
        ConfigError: ``max_entries`` is not a positive int.
    """
    limit = check_count("max_entries", max_entries)
    entries: list[ArtifactEntry] = []
    for entry in _walk(root, path, recursive):
        if len(entries) == limit:
            return ArtifactListing(tuple(entries), truncated=True)
        entries.append(entry)
    return ArtifactListing(tuple(entries), truncated=False)


def _walk(root: Path, path: str, recursive: bool) -> Iterator[ArtifactEntry]:
    """The entries under ``path``, breadth first, one directory read at a time (no fd held between them)."""
    start = slot_parts(root, path)
    pending = deque([start])
    while pending:
        parts = pending.popleft()
        for entry in _scan(root, parts, path, strict=parts == start):
            yield entry
            if recursive and entry.kind == "directory":
                pending.append(tuple(entry.path.split("/")))


def _scan(root: Path, parts: tuple[str, ...], path: str, *, strict: bool) -> list[ArtifactEntry]:
    """The entries of one directory, sorted by name; a subdirectory that vanished or became a link is skipped."""
    try:
        with _directory(root, parts, path) as fd:
            if fd is None:
                return []
            with os.scandir(fd) as scan:
                found = [(entry.name, entry.stat(follow_symlinks=False)) for entry in scan]
    except ArtifactError:
        if strict:
            raise
        return []
    prefix = "/".join(parts)
    return [
        ArtifactEntry(f"{prefix}/{name}" if prefix else name, _kind(info.st_mode), _size(info))
        for name, info in sorted(found)
    ]


def _kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "symlink" if stat.S_ISLNK(mode) else "other"


def _size(info: os.stat_result) -> int:
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


class _Bounded:
    """A write-only byte sink that refuses to grow past ``limit`` bytes (tarfile's output)."""

    def __init__(self, limit: int, path: str) -> None:
        self.buffer = BytesIO()
        self.packed = 0  # bytes of file content taken so far
        self._limit = limit
        self._path = path

    def write(self, data: bytes) -> int:
        self.check(self.buffer.tell() + len(data))
        return self.buffer.write(data)

    def check(self, size: int) -> None:
        """Raise `ArtifactError` (``too_large``) when ``size`` bytes pass the limit."""
        if size > self._limit:
            raise ArtifactError(
                f"The archive of {self._path!r} would be larger than max_bytes={self._limit:,} bytes: raise "
                "max_bytes, or archive a smaller directory.",
                reason="too_large",
                path=self._path,
            )


def archive_in_slot(
    root: Path, path: str = ".", format: str = "tar.gz", max_bytes: int = DEFAULT_ARCHIVE_BYTES
) -> bytes:
    """Pack the file or directory ``path`` of the slot ``root`` into an archive held in memory.

    Members are named by their path relative to the slot (``out/plot.png``). Regular files and
    directories are packed; symbolic links, FIFOs and devices are left out (never followed).

    Args:
        root: the slot.
        path: a file or directory in it. Default: the whole slot.
        format: ``"tar.gz"`` (default) or ``"tar"``.
        max_bytes: the largest archive to build, in bytes, and the most file content to pack
            (checked before each file is read). Default 64 MiB.

    Returns:
        The archive's bytes.

    Raises:
        ArtifactError: the path is outside the slot, goes through a link or is missing, or the
            archive would pass ``max_bytes`` (see ``reason``).
        ConfigError: ``format`` is not a supported format, or ``max_bytes`` not a positive int.
    """
    mode = ARCHIVE_FORMATS.get(format) if isinstance(format, str) else None
    if mode is None:
        raise ConfigError(
            f"format must be one of {', '.join(map(repr, ARCHIVE_FORMATS))}, got {format!r}.", key="format"
        )
    import tarfile  # only here: archiving is rare, and importing parley stays cheap

    sink = _Bounded(check_count("max_bytes", max_bytes), path)
    parts = slot_parts(root, path)
    with tarfile.open(fileobj=sink, mode=mode) as tar:  # type: ignore[call-overload]
        if parts and _is_file(root, parts, path):
            _add_file(tar, sink, root, parts, path)
        else:
            for entry in _walk(root, path, recursive=True):
                entry_parts = tuple(entry.path.split("/"))
                if entry.kind == "directory":
                    info = tar.tarinfo(entry.path)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                    tar.addfile(info)
                elif entry.kind == "file":
                    _add_file(tar, sink, root, entry_parts, path, strict=False)
    return sink.buffer.getvalue()


def _is_file(root: Path, parts: tuple[str, ...], path: str) -> bool:
    with _directory(root, parts[:-1], path) as fd:
        try:
            info = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            raise _translated(exc, path, root) from exc
    if stat.S_ISLNK(info.st_mode):
        raise _translated(SymlinkNotFollowedError(root.joinpath(*parts)), path, root)
    return not stat.S_ISDIR(info.st_mode)


def _add_file(
    tar: tarfile.TarFile, sink: _Bounded, root: Path, parts: tuple[str, ...], path: str, *, strict: bool = True
) -> None:
    """Add one regular file, read without following a link; one that changed meanwhile is skipped unless ``strict``.

    The content packed in all is bounded by the archive's limit too, checked before a file is
    read, so a huge file (which might compress well) is never read into memory.
    """
    try:
        with open_file_in(root, PurePosixPath(*parts)) as file:
            info = os.fstat(file.fileno())
            sink.check(sink.packed + info.st_size)
            data = file.read(info.st_size)
            sink.packed += len(data)
    except OSError as exc:
        if strict:
            raise _translated(exc, path, root) from exc
        return
    member = tar.tarinfo("/".join(parts))
    member.size, member.mode, member.mtime = len(data), info.st_mode & 0o777, int(info.st_mtime)
    tar.addfile(member, BytesIO(data))


def write_in_slot(root: Path, path: str, data: bytes) -> Path:
    """Write ``data`` to the file ``path`` of the slot ``root``, creating directories on the way.

    A link at the file's name is refused, and one on the way too; the write itself never
    follows a link (see `parley.coding._files.write_file_in`).

    Returns:
        The file's path on the host.

    Raises:
        ArtifactError: the path is outside the slot or is the slot itself, goes through a link,
            or cannot be written (see ``reason``).
    """
    parts = slot_parts(root, path)
    if not parts:
        raise _translated(OSError(errno.EINVAL, "the slot itself"), path, root)
    try:
        os.makedirs(root, exist_ok=True)
        if _is_link(root, parts):
            raise SymlinkNotFollowedError(root.joinpath(*parts))
        return write_file_in(root, PurePosixPath(*parts), data)
    except OSError as exc:
        raise _translated(exc, path, root) from exc


def _is_link(root: Path, parts: tuple[str, ...]) -> bool:
    """Whether ``root/parts`` is a symbolic link now (False when its directory is missing or unreachable)."""
    try:
        with _directory(root, parts[:-1], "") as fd:
            return fd is not None and stat.S_ISLNK(os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode)
    except (ArtifactError, OSError):
        return False  # a missing directory is made by the write; a link on the way is refused by it
