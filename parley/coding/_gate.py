"""A gate that lets one caller at a time through, across threads and event loops.

`asyncio.Lock` belongs to one event loop, but an executor is used from several: each sync call
runs its own loop (`parley._sync.run_sync`), and a program may share one executor between
threads. `Gate` works for all of them and never blocks a loop: a caller that finds the gate
taken waits on a future of its own loop, which the holder resolves when it leaves.

    async with gate:
        ...  # no other holder here, whatever loop or thread it runs on
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from types import TracebackType

__all__ = ["Gate"]


class Gate:
    """A fair (first come, first served) mutual exclusion for coroutines on any event loop.

    Cancelling a waiter gives up its place; cancelling the holder is the holder's business (it
    leaves the gate as it leaves the ``async with``).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._mutex:
                if (loop, waiter) in self._waiters:  # not handed the gate yet: just leave the queue
                    self._waiters.remove((loop, waiter))
                    raise
            if not waiter.cancelled():  # handed the gate just before the cancel: pass it on
                self._release()
            # else `_hand` finds the waiter cancelled and passes the gate on itself
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release()

    def _release(self) -> None:
        with self._mutex:
            if not self._waiters:
                self._held = False
                return
            loop, waiter = self._waiters.popleft()  # the gate stays held: it passes to this waiter
        try:
            loop.call_soon_threadsafe(self._hand, waiter)
        except RuntimeError:  # that loop is closed: nobody waits there any more
            self._release()

    def _hand(self, waiter: asyncio.Future[None]) -> None:
        if waiter.cancelled():
            self._release()
            return
        with contextlib.suppress(asyncio.InvalidStateError):
            waiter.set_result(None)
