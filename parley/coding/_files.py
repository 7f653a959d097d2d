"""Where a code block is saved, and how the host reads and writes files in a directory the sandbox shares.

- The ``# filename:`` marker (`filename_from_marker`): only an explicit marker names a file
  (AutoGen 0.2 also guessed names from comments anywhere in the code).
- `default_filename`: a random name for a block without a marker, so code cannot tell which file
  the next block will be written to.
- `resolve_in_work_dir`: the one rule for what is inside ``work_dir``.
- `write_file_in`, `open_file_in` and `read_file_in`: file I/O under a directory that sandboxed
  code can change (Docker's bind-mounted ``work_dir``), which never follows a symbolic link below
  that directory. Code in the sandbox may plant a link anywhere in it; the host process (perhaps
  root) would otherwise write through the link to any path on the host, or read any host file
  back to the model. A file is written under a fresh temporary name and renamed over the final
  name, so a link planted there is replaced, never followed.

Every executor that writes code to disk uses these functions, so they share one rule.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import BinaryIO, TypeVar

from parley.coding._spare_files import link_spare, take_spare

_T = TypeVar("_T")

__all__ = [
    "LANGUAGE_EXTENSIONS",
    "SymlinkNotFollowedError",
    "default_filename",
    "filename_from_marker",
    "open_file_in",
    "read_file_in",
    "real_dir_in",
    "resolve_in_work_dir",
    "restore_owner_access",
    "write_file_in",
]

LANGUAGE_EXTENSIONS: dict[str, str] = {
    "python": "py",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "pwsh": "ps1",
    "javascript": "js",
    "typescript": "ts",
    "html": "html",
    "css": "css",
    "json": "json",
    "yaml": "yaml",
    "markdown": "md",
}
"""File extension (without the dot) for code saved in each canonical language; others get ``txt``."""

_MARKER = re.compile(r"^[ \t]*#[ \t]*filename[ \t]*:[ \t]*(?P<name>\S(?:.*\S)?)[ \t]*$", re.IGNORECASE)


def filename_from_marker(code: str) -> str | None:
    """Return the file name that a block's ``# filename: <name>`` marker asks for, if any.

    The marker must be the block's first line, or its second line when the first is a shebang
    (``#!/bin/bash``). The word ``filename`` is matched case-insensitively. A marker anywhere
    else is an ordinary comment.

    Args:
        code: the source of the block.

    Returns:
        The name as written (not yet checked; see `resolve_in_work_dir`), or None when there is
        no marker.
    """
    lines = code.lstrip("\r\n").splitlines()[:2]
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    match = _MARKER.match(lines[0]) if lines else None
    return match.group("name") if match else None


def default_filename(language: str) -> str:
    """Return a fresh name for a block without a marker: ``tmp_code_<32 random hex digits>.<ext>``.

    The name is random (128 bits from `os.urandom`), not derived from the code, so code running
    in a sandbox cannot predict the file the next block is written to. (AutoGen 0.2 and earlier
    parley used the code's SHA-256, which let a block plant a link at the next block's name.)

    Args:
        language: the canonical language tag; `LANGUAGE_EXTENSIONS` gives the extension
            (``txt`` for others).

    Returns:
        The bare file name.
    """
    return f"tmp_code_{os.urandom(16).hex()}.{LANGUAGE_EXTENSIONS.get(language, 'txt')}"


def resolve_in_work_dir(work_dir: Path, name: str) -> Path | None:
    """Resolve ``name`` against ``work_dir`` and return it only if it stays inside ``work_dir``.

    Symlinks are followed (``Path.resolve``), so a link inside ``work_dir`` that points out of it
    is outside. Absolute names are allowed when they resolve inside ``work_dir``.

    Args:
        work_dir: the directory files must stay in. It need not exist yet.
        name: a relative or absolute path, usually from `filename_from_marker`.

    Returns:
        The resolved absolute path, or None when it would be outside ``work_dir``, would be
        ``work_dir`` itself, or is not a valid path (empty, or containing a NUL character).
    """
    if not name or "\x00" in name:
        return None
    root = work_dir.resolve()
    try:
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if target == root or not target.is_relative_to(root):
        return None
    return target


class SymlinkNotFollowedError(OSError):
    """A component of a path under a sandbox-writable directory is a symbolic link, so it was not followed.

    ``filename`` is the link's path (an `OSError` attribute); ``errno`` is ``ELOOP``.
    """

    def __init__(self, link: Path) -> None:
        super().__init__(errno.ELOOP, "a symbolic link, which was not followed", str(link))


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _components(relative: str | os.PathLike[str]) -> tuple[str, ...]:
    parts = tuple(p for p in PurePath(relative).parts if p != ".")
    if not parts or PurePath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"{os.fspath(relative)!r} is not a relative path below the directory (no '..', not empty)")
    return parts


def _refusal(dir_fd: int, name: str, shown: Path, exc: OSError) -> OSError:
    """The error to raise for ``exc``: `SymlinkNotFollowedError` when ``name`` is a link, else ``exc``."""
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
            return SymlinkNotFollowedError(shown)
    return exc


def _enter(dir_fd: int, name: str, shown: Path, *, create: bool) -> int:
    """Open the directory ``name`` in ``dir_fd`` without following a link; create it if asked and missing."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        raise _refusal(dir_fd, name, shown, exc) from exc
    with contextlib.suppress(FileExistsError):  # made meanwhile: it is opened below, links refused
        os.mkdir(name, 0o777, dir_fd=dir_fd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(dir_fd, name, shown, exc) from exc


@contextlib.contextmanager
def _parent_dir(root: Path, parts: tuple[str, ...], *, create: bool) -> Iterator[int]:
    """Yield an fd for the directory holding ``root/parts``, reached without following links below ``root``."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # root itself is the user's choice
    try:
        for i, part in enumerate(parts[:-1]):
            inner = _enter(fd, part, root.joinpath(*parts[: i + 1]), create=create)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def write_file_in(root: Path, relative: str | os.PathLike[str], data: bytes, *, ahead: bool = False) -> Path:
    """Write ``data`` to ``root / relative`` without following a symbolic link anywhere below ``root``.

    Missing directories are created (mode 0o777 less the umask). The data goes to a new file
    with a random temporary name (created with ``O_EXCL | O_NOFOLLOW``), which is then renamed
    over ``relative``: a link (or file) already at that name is replaced, never followed, and
    a reader never sees a half-written file. ``root`` itself is opened normally: it is the
    user's choice, and the sandbox cannot change it (only what is inside it).

    Args:
        root: the directory the file must stay in (Docker's ``work_dir``, an ``output_dir``). It
            must exist.
        relative: the file's path below ``root``, without ``..`` (for example from
            ``resolve_in_work_dir(root, name).relative_to(root.resolve())``).
        data: the file's content.
        ahead: take the file's inode from a spare made ahead in its directory by
            `parley.coding._spare_files.make_spare`, when there is one (what a new file costs on
            a busy ext4 then leaves the write's path). For the code file of each block. Default False.

    Returns:
        ``root / relative``.

    Raises:
        SymlinkNotFollowedError: a directory on the way is a symbolic link; nothing was
            written (the link's path is the error's ``filename``).
        ValueError: ``relative`` is absolute, empty or contains ``..``.
        OSError: any other failure (``root`` missing, no permission, a directory at the file's
            name, a disk full); nothing is left behind but directories created on the way.
    """
    parts = _components(relative)
    with _parent_dir(root, parts, create=True) as dir_fd:
        spare = take_spare(dir_fd) if ahead else None
        if spare is None or not _write_spare(spare, dir_fd, parts[-1], data):
            _write_new(dir_fd, root, parts, data)
    return root.joinpath(*parts)


def _write_new(dir_fd: int, root: Path, parts: tuple[str, ...], data: bytes) -> None:
    """`write_file_in`'s plain path: a new file under a temporary name, renamed over ``parts[-1]`` in ``dir_fd``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    temp, fd = _at_temp_name(lambda temp: os.open(temp, flags, 0o666, dir_fd=dir_fd), root.joinpath(*parts[:-1]))
    try:
        with open(fd, "wb", closefd=True) as file:
            file.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    _rename_over(temp, parts[-1], dir_fd)


def _write_spare(spare: int, dir_fd: int, name: str, data: bytes) -> bool:
    """Write ``data`` to the unnamed file ``spare`` and name it ``name`` in ``dir_fd``; False when it cannot be named.

    The name is linked when free (``linkat`` never follows a link there); when taken, the file
    is linked under a fresh temporary name and renamed over it, as `write_file_in` does. Closes
    ``spare``. On False nothing new has a name in the directory.

    Raises:
        OSError: ``data`` cannot be written (a disk full), or the rename fails.
    """
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(spare, view) :]
        try:
            link_spare(spare, dir_fd, name)
            return True
        except FileExistsError:
            pass
        except OSError:
            return False  # no /proc, another file system: the plain path
        try:
            temp, _ = _at_temp_name(lambda temp: link_spare(spare, dir_fd, temp), Path(name).parent)
        except OSError:  # no free name (FileExistsError) included
            return False
        _rename_over(temp, name, dir_fd)
        return True
    finally:
        os.close(spare)


def _at_temp_name(make: Callable[[str], _T], where: Path) -> tuple[str, _T]:
    """Call ``make`` with fresh temporary names until one is free; that name and what ``make`` returned.

    Raises:
        FileExistsError: 16 names in a row were taken (planted, or clashes); ``where`` is the
            directory the error names.
        OSError: whatever else ``make`` raised.
    """
    for _ in range(16):
        temp = f".parley-{os.urandom(8).hex()}.tmp"
        try:
            return temp, make(temp)
        except FileExistsError:  # planted, or a clash: take another name
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(where))


def _rename_over(temp: str, name: str, dir_fd: int) -> None:
    """Rename ``temp`` over ``name`` in ``dir_fd`` (a link there is replaced, not followed); on failure remove it."""
    try:
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


def open_file_in(root: Path, relative: str | os.PathLike[str]) -> BinaryIO:
    """Open the regular file ``root / relative`` for reading, without following a symbolic link below ``root``.

    A FIFO, device or directory is refused before anything is read (a FIFO could block forever).

    Args:
        root: the directory the file must be in; opened normally (see `write_file_in`).
        relative: the file's path below ``root``, without ``..``.

    Returns:
        The open file (binary, buffered); the caller closes it.

    Raises:
        SymlinkNotFollowedError: the file, or a directory on the way, is a symbolic link.
        ValueError: ``relative`` is absolute, empty or contains ``..``.
        OSError: the file is missing, is not a regular file (``EINVAL``), or cannot be read.
    """
    parts = _components(relative)
    shown = root.joinpath(*parts)
    with _parent_dir(root, parts, create=False) as dir_fd:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as exc:
            raise _refusal(dir_fd, parts[-1], shown, exc) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(shown))
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_file_in(root: Path, relative: str | os.PathLike[str], *, max_bytes: int | None = None) -> bytes:
    """Read the regular file ``root / relative`` whole, without following a symbolic link below ``root``.

    Args:
        root: the directory the file must be in; opened normally (see `write_file_in`).
        relative: the file's path below ``root``, without ``..``.
        max_bytes: refuse a file larger than this many bytes (checked before reading), or None.

    Returns:
        The file's content.

    Raises:
        SymlinkNotFollowedError: the file, or a directory on the way, is a symbolic link.
        ValueError: ``relative`` is absolute, empty or contains ``..``.
        OSError: see `open_file_in`; also ``EFBIG`` for a file over ``max_bytes``.
    """
    with open_file_in(root, relative) as file:
        if max_bytes is None:
            return file.read()
        too_large = os.fstat(file.fileno()).st_size > max_bytes
        data = b"" if too_large else file.read(max_bytes + 1)
        if too_large or len(data) > max_bytes:  # it may also have grown while read
            raise OSError(errno.EFBIG, f"larger than {max_bytes:,} bytes", str(root / relative))
        return data


def real_dir_in(root: Path, name: str) -> bool:
    """Make ``root / name`` a directory of its own, reached without following a symbolic link.

    For a directory that sandboxed code can replace (a pool slot's, inside the mounted
    directory): a link planted at ``name`` would send every later write, ``chown`` and cleanup of
    the host through it, anywhere on this machine. A link, or anything else but a directory, found
    there is removed (never followed) and a fresh empty directory is made.

    Args:
        root: the existing directory holding ``name``; opened normally (it is the user's choice).
        name: one path component.

    Returns:
        True when something planted at ``name`` was removed first.

    Raises:
        OSError: ``root`` is missing, or ``name`` cannot be removed or created.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            replaced = not stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode)
        except FileNotFoundError:
            replaced = False
        if replaced:
            os.unlink(name, dir_fd=fd)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=fd)
        return replaced
    finally:
        os.close(fd)


def restore_owner_access(path: Path) -> bool:
    """Give ``path``'s owner back read, write and search on it, when sandboxed code took them away.

    Code in a container owns the directory handed to it, so it may ``chmod 000`` it: no later
    block could then enter it, and every one would fail until someone repaired it by hand. The
    directory is opened without following a link (``O_PATH | O_NOFOLLOW``) and changed through
    that descriptor, so a link planted at ``path`` is never followed.

    Args:
        path: the directory (its last component may be a link planted by the code: left alone).

    Returns:
        True when its mode was changed (never where there is no ``O_PATH``: not Linux).

    Raises:
        OSError: its mode cannot be changed (this process neither owns it nor is root).
    """
    o_path = getattr(os, "O_PATH", None)
    if o_path is None:  # not Linux: left as it is
        return False
    try:
        fd = os.open(path, o_path | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # missing, or a link or file planted there: the callers' own checks deal with those
        return False
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o700 == 0o700:
            return False
        os.chmod(f"/proc/self/fd/{fd}", mode | 0o700)  # the descriptor's own inode, not a path to resolve again
        return True
    finally:
        os.close(fd)
