"""`ExecutorPool` 's upkeep of its members: build, warm, reset, hand out, replace and end them.

`parley.coding.pool` lends members to keys; this module keeps the members it lends. A member
given back is reset (when asked) and handed to the first waiter, or made idle; one whose reset
fails is retired and a fresh one is built and warmed in the background, retried with a backoff
until it starts or the pool closes. Members of a Docker pool with ``slots_per_member`` are slots
of a shared container (`parley.coding._pool_slots`). Background work runs as tasks the pool
tracks, so `ExecutorPool.a_close` can cancel them; the pool's directories are made and removed
here too.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._pool_members import WORK_DIR_EXECUTORS, Member, build, close_member, reset_member, warm_member
from parley.coding._pool_queue import Handover
from parley.coding._pool_slots import Host, close_slot_host, open_host, open_slot
from parley.coding.base import CodeExecutor
from parley.exceptions import ExecutorError

__all__ = ["MemberUpkeep"]

_log = get_logger("parley.coding.pool")
_CLOSE_DEADLINE_S = 30.0


class MemberUpkeep:
    """`ExecutorPool` 's member upkeep (see the module docstring).

    The host provides the attributes declared here (the pool's state, under ``_mutex``).
    """

    _mutex: threading.Lock
    _state: str
    _members: set[Member]
    _queue: Handover
    _tasks: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]]
    _numbers: Iterator[int]
    _hosts: Iterator[int]
    _factory: str | Callable[[], CodeExecutor]
    _options: Mapping[str, Any]
    _canonical: str | None
    _slots: int
    _reset_timeout: float
    _start_timeout: float
    _given_base: Path | None
    _base: Path | None
    _remove_base: weakref.finalize[[str], Any] | None
    _resets: int
    _failures: int
    _replacements: int

    @property
    def base_dir(self) -> Path | None:
        """Where the members' working directories are (None until started, unless given)."""
        return self._base or self._given_base

    def _give(self, member: Member) -> None:
        """Hand ``member`` to the first waiter, or make it idle."""
        self._queue.give(member)

    def _accepts(self, member: Member) -> bool:
        """Whether a member given back goes on serving (called by the queue with the mutex held)."""
        return self._state != "closed" and member in self._members

    async def _give_back(self, member: Member, reset: bool) -> None:
        """Reset ``member`` (when asked) and give it to the next waiter, or replace it if the reset failed."""
        if reset:
            try:
                await asyncio.wait_for(reset_member(member), self._reset_timeout)
            except Exception as exc:
                with self._mutex:
                    self._resets += 1
                    self._failures += 1
                self._replace(member, f"its reset failed: {exc or type(exc).__name__}")
                return
            with self._mutex:
                self._resets += 1
        self._give(member)

    def _replace(self, member: Member, why: str) -> None:
        """Retire ``member`` and start a fresh one in the background, on this loop."""
        with self._mutex:
            if self._state == "closed" or member not in self._members:
                return
            self._members.discard(member)
        _log.info("replacing pool member %d (%s): %s", member.number, type(member.executor).__name__, why)
        self._spawn(self._replacement(member, why))

    async def _end(self, member: Member) -> None:
        """Close ``member``; for a slot, its container's executor too when it was the last slot."""
        await close_member(member, _CLOSE_DEADLINE_S)
        await close_slot_host(member, _CLOSE_DEADLINE_S)

    async def _replacement(self, old: Member, why: str) -> None:
        await self._end(old)
        await asyncio.to_thread(self._remove_dirs, [old])
        delay = 0.5
        while True:
            fresh: Member | None = None
            try:
                host = old.host if old.host is not None and not old.host.closed else None
                fresh = self._new_member(host if host is not None or self._slots == 1 else self._new_host())
                await self._warm(fresh)
            except Exception as exc:
                if fresh is not None:
                    await self._end(fresh)
                with self._mutex:
                    self._failures += 1
                _log.warning(
                    "replacing pool member %d (%s) failed, retrying in %.1f s: %s", old.number, why, delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except BaseException:  # cancelled by close(): end what was being started
                if fresh is not None:
                    await asyncio.shield(self._end(fresh))
                raise
            with self._mutex:
                closed = self._state == "closed"
                if not closed:
                    self._members.add(fresh)
                    self._replacements += 1
            if closed:
                await self._end(fresh)
            else:
                _log.info("pool member %d replaced member %d", fresh.number, old.number)
                self._give(fresh)
            return

    def _new_member(self, host: Host | None = None) -> Member:
        number = next(self._numbers)
        if host is not None:
            return open_slot(host, number)
        base = self.base_dir
        work_dir = base / f"member-{number}" if base is not None and self._canonical in WORK_DIR_EXECUTORS else None
        return Member(build(self._factory, self._options, self._canonical, work_dir), number, work_dir)

    def _new_host(self) -> Host:
        """The executor of a container whose slots become members (see `parley.coding._pool_slots`)."""
        number = next(self._hosts)
        assert self.base_dir is not None
        return open_host(self._factory, self._options, self._canonical, self.base_dir / f"member-{number}", number)

    async def _warm(self, member: Member) -> None:
        try:
            await asyncio.wait_for(warm_member(member), self._start_timeout)
        except asyncio.TimeoutError:
            raise ExecutorError(
                f"Pool member {member.number} ({type(member.executor).__name__}) did not start within "
                f"{self._start_timeout:g} s; raise start_timeout or check the executor."
            ) from None

    async def _shielded(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` to the end even if the caller is cancelled (a member must never be lost)."""
        task = self._spawn(coro)
        await asyncio.shield(task)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro)
        entry = (loop, task)
        with self._mutex:
            self._tasks.add(entry)
        task.add_done_callback(lambda _: self._untrack(entry))
        return task

    def _untrack(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]) -> None:
        with self._mutex:
            self._tasks.discard(entry)

    def _make_base(self) -> None:
        if self._given_base is not None:
            self._given_base.mkdir(parents=True, exist_ok=True)
            self._base = self._given_base
        elif self._base is None:
            self._base = Path(tempfile.mkdtemp(prefix="parley-pool-"))
            # A pool dropped without close() still removes its directory at interpreter exit.
            self._remove_base = weakref.finalize(self, _remove_tree, str(self._base))

    def _remove_dirs(self, members: Sequence[Member]) -> None:
        for member in members:
            if member.work_dir is not None:
                shutil.rmtree(member.work_dir, ignore_errors=True)
        if self._state == "closed" and self._remove_base is not None:
            self._remove_base()


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
