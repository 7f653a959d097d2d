"""What an `ExecutorPool` lends and reports: a lease, the executor that runs on it, and the stats."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from parley._sync import run_sync
from parley.coding._gate import Gate
from parley.coding._pool_members import Member
from parley.coding.base import CodeBlock, CodeExecutor, CodeExtractor, CodeResult
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ExecutorError

if TYPE_CHECKING:
    from parley.coding.pool import ExecutorPool

__all__ = ["Lease", "PoolStats", "PooledExecutor", "percentile", "shown"]


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of an `ExecutorPool`.

    ``idle + leased + busy == size × slots_per_member`` while the pool runs: with slots, the
    counts are of slots.

    Attributes:
        size: the number of members the pool keeps.
        idle: members ready to lend.
        leased: members held by a key or an open ``acquire``.
        busy: members being started, reset, replaced or handed to a waiter.
        waiting: callers waiting for a member.
        acquires: acquires that got a member, since the pool was made.
        acquire_p50_ms: median time an acquire took to get its member, in milliseconds, over the
            last ``latency_window`` acquires; None before the first.
        acquire_p95_ms: the 95th percentile of the same, in milliseconds; None before the first.
        acquire_p99_ms: the 99th percentile of the same, in milliseconds; None before the first.
        resets: members reset after being given back (failed resets included).
        replacements: members replaced after failing (and kernels their executor replaced after
            they died).
        failures: failed resets, failed members and kernels that died, and failed attempts to
            start a replacement.
        slots_per_member: the slots each member serves (1 unless the pool was given more).
    """

    size: int
    idle: int
    leased: int
    busy: int
    waiting: int
    acquires: int
    acquire_p50_ms: float | None
    acquire_p95_ms: float | None
    acquire_p99_ms: float | None
    resets: int
    replacements: int
    failures: int
    slots_per_member: int = 1


@dataclass(eq=False)
class Lease:
    """What a key (or one keyless ``acquire``) holds."""

    key: Hashable | None
    gate: Gate = field(default_factory=Gate)
    member: Member | None = None
    since: float = 0.0
    opened: int = 0
    lost: bool = False
    note: str | None = None
    release_reset: bool | None = None  # release() was called while open: give back when the last closes


def percentile(sorted_values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of ``sorted_values``, or None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def shown(key: Hashable | None) -> str:
    return "<anonymous>" if key is None else repr(key)


class PooledExecutor:
    """A pool member lent to a key: a code executor that runs on the key's member.

    It follows the key, not one executor: after its member failed, the next call runs on a
    fresh member (and its result starts with a note that all state was lost).

    Use it inside the ``async with pool.acquire(...)`` that gave it.
    """

    def __init__(self, pool: ExecutorPool, lease: Lease) -> None:
        self._pool = pool
        self._lease = lease

    @property
    def key(self) -> Hashable | None:
        """The key this executor was acquired with (None for a keyless acquire)."""
        return self._lease.key

    @property
    def state_lost(self) -> bool:
        """True once the key's member failed or its kernel died while the key held it: its state is gone."""
        return self._lease.lost

    @property
    def executor(self) -> CodeExecutor:
        """The member's executor, for what it offers beyond running blocks (``work_dir`` ...).

        Raises:
            ExecutorError: the key's member failed and no fresh one is bound yet (the next run binds one).
        """
        member = self._lease.member
        if member is None:
            raise ExecutorError(
                f"Key {shown(self.key)} holds no executor now: its member failed; run code to get a fresh one."
            )
        return member.executor

    @property
    def work_dir(self) -> Path | None:
        """The working directory the pool gave the member (emptied when it is reset), or None."""
        member = self._lease.member
        return member.work_dir if member is not None else None

    @property
    def code_extractor(self) -> CodeExtractor:
        """The member's code extractor (the Markdown one while no member is bound)."""
        member = self._lease.member
        return member.executor.code_extractor if member is not None else MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Sync form of `a_execute_code_blocks` (works inside a running loop)."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` on the key's member (see the member executor's own docs).

        Returns:
            The member's result; after a member failed, the first result on the fresh member
            starts with a line saying that all state was lost.

        Raises:
            ExecutorError: the pool is closed, or the member failed: the message says that all
                state was lost and that the next call runs on a fresh member.
            PoolExhaustedError: the key's member had failed and no fresh one became free within
                ``acquire_timeout`` seconds.
        """
        return await self._pool._execute(self._lease, code_blocks)

    def restart(self) -> None:
        """Restart the member's executor (its state is dropped; see the executor's `restart`).

        Raises:
            ExecutorError: no member is bound (see `executor`), or the executor's own restart failed.
        """
        self.executor.restart()
