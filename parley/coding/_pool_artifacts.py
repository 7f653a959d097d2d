"""`ExecutorPool` 's artifact methods: what a key's code left in its slot, collected without running code.

The file work is `parley.coding._artifacts`'s (inside the slot only, links never followed,
bounded); this module finds a key's slot in the pool and runs that work in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from parley.coding._artifacts import (
    DEFAULT_ARCHIVE_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_READ_BYTES,
    ArtifactListing,
    archive_in_slot,
    host_path,
    list_in_slot,
    read_in_slot,
)
from parley.exceptions import ArtifactError

if TYPE_CHECKING:
    from parley.coding._pool_lease import Lease

__all__ = ["ArtifactsMixin"]

_T = TypeVar("_T")


class ArtifactsMixin:
    """`ExecutorPool` 's artifact methods: read, list and archive what a key's sandbox left, without running code.

    The host provides ``_mutex`` (held to look at the leases) and ``_leases`` (key -> lease).
    """

    _mutex: threading.Lock
    _leases: dict[Hashable, Lease]

    def slot_dir(self, key: Hashable) -> Path:
        """The host-side directory of the slot ``key`` holds: its member's ``work_dir``.

        For a Docker member it is the host side of ``/workspace``; for a kernel member, the
        kernel's working directory.

        Raises:
            ArtifactError: ``key`` holds no slot (it never acquired, or was released; reason
                ``"no_slot"``), or its executor has no host-side ``work_dir``.
        """
        return self._slot(key)[0]

    def _slot(self, key: Hashable) -> tuple[Path, object]:
        """The slot's directory and the executor working in it (see `slot_dir`)."""
        with self._mutex:
            lease = self._leases.get(key)
            member = lease.member if lease is not None else None
        if member is None:
            raise ArtifactError(
                f"Key {key!r} holds no slot in this pool: it never acquired one, or it was released (and reset). "
                "Collect artifacts before 'await pool.release(key)'.",
                reason="no_slot",
                key=key,
            )
        root = member.work_dir or getattr(member.executor, "work_dir", None)
        if not isinstance(root, Path):
            raise ArtifactError(
                f"The slot of key {key!r} has no directory on this host ({type(member.executor).__name__} has no "
                "work_dir), so there is nothing to collect from here.",
                reason="no_slot",
                key=key,
            )
        return root, member.executor

    async def read_artifact(self, key: Hashable, path: str, max_bytes: int = DEFAULT_READ_BYTES) -> bytes:
        """Read the file ``path`` from ``key``'s slot, without running code and without following links.

        Args:
            key: the key holding the slot.
            path: the file, relative to the slot's working directory (or absolute, inside it; in
                a Docker member, ``/workspace/...`` too).
            max_bytes: refuse a file larger than this many bytes. Default 1 MiB.

        Returns:
            The file's bytes.

        Raises:
            ArtifactError: ``key`` holds no slot; the path is outside the slot, goes through a
                symbolic link, is missing, is not a regular file, or is over ``max_bytes``
                (its ``reason`` says which).
            ConfigError: ``max_bytes`` is not a positive int.
        """
        return await self._in_slot(key, path, lambda root, local: read_in_slot(root, local, max_bytes))

    async def list_artifacts(
        self, key: Hashable, path: str = ".", recursive: bool = False, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> ArtifactListing:
        """List the directory ``path`` of ``key``'s slot; links are listed, never entered.

        Args:
            key: the key holding the slot.
            path: the directory, relative to the slot. Default: the slot itself.
            recursive: list everything below it too. Default False.
            max_entries: the most entries to return; `ArtifactListing.truncated` says when
                there were more. Default 1,000.

        Raises:
            ArtifactError: ``key`` holds no slot; the path is outside the slot, goes through a
                link, is missing, or is not a directory.
            ConfigError: ``max_entries`` is not a positive int.
        """
        return await self._in_slot(key, path, lambda root, local: list_in_slot(root, local, recursive, max_entries))

    async def archive_artifacts(
        self, key: Hashable, path: str = ".", format: str = "tar.gz", max_bytes: int = DEFAULT_ARCHIVE_BYTES
    ) -> bytes:
        """Pack the file or directory ``path`` of ``key``'s slot into an archive (see `archive_in_slot`).

        Args:
            key: the key holding the slot.
            path: a file or directory, relative to the slot. Default: the whole slot.
            format: ``"tar.gz"`` (default) or ``"tar"``.
            max_bytes: the largest archive to build, in bytes. Default 64 MiB.

        Returns:
            The archive's bytes; members are named by their path relative to the slot.
            Symbolic links, FIFOs and devices are left out.

        Raises:
            ArtifactError: ``key`` holds no slot; the path is outside the slot, goes through a
                link, or is missing; the archive would pass ``max_bytes``.
            ConfigError: an unknown ``format``, or ``max_bytes`` not a positive int.
        """
        return await self._in_slot(key, path, lambda root, local: archive_in_slot(root, local, format, max_bytes))

    async def _in_slot(self, key: Hashable, path: str, work: Callable[[Path, str], _T]) -> _T:
        root, executor = self._slot(key)
        try:
            return await asyncio.to_thread(work, root, host_path(executor, path))
        except ArtifactError as exc:
            exc.key = key
            raise
