"""Idle pool members, and the callers waiting for one, served first come first served on any event loop.

An `ExecutorPool` is shared by async callers on one loop and by sync callers, each running its
own loop (`parley._sync.run_sync`) on its own thread. So the queue never awaits under its lock:
a caller that finds no idle member waits on a future of its own loop, and whoever gives a
member back resolves that future with ``call_soon_threadsafe``. A waiter that gives up
(timeout, cancellation) leaves the queue, and a member already on its way to it goes to the next
waiter, so no member is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable

from parley.coding._pool_members import Member

__all__ = ["Handover"]

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Member]"]


class Handover:
    """Idle members and waiters, under the owner's lock.

    Args:
        mutex: the owner's lock; methods ending in ``_locked`` expect it held, the others take it.
        accept: called with the lock held when a member is given back: False drops the member
            (the pool was closed, or the member was retired meanwhile).
    """

    def __init__(self, mutex: threading.Lock, accept: Callable[[Member], bool]) -> None:
        self._mutex = mutex
        self._accept = accept
        self.idle: deque[Member] = deque()
        self._waiters: deque[_Waiter] = deque()

    def waiting_locked(self) -> int:
        """How many callers wait for a member."""
        return sum(1 for _, future in self._waiters if not future.done())

    def take_or_queue_locked(self, loop: asyncio.AbstractEventLoop) -> Member | asyncio.Future[Member]:
        """An idle member, or a future of ``loop`` to pass to `wait`, queued behind earlier waiters."""
        if self.idle:
            return self.idle.popleft()
        future: asyncio.Future[Member] = loop.create_future()
        self._waiters.append((loop, future))
        return future

    async def wait(self, future: asyncio.Future[Member], timeout: float) -> Member | None:
        """Wait at most ``timeout`` seconds for the member ``future`` is given; None when none came.

        Raises:
            Exception: the error the owner failed the waiters with (`fail_all_locked`).
        """
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait({future}, timeout=timeout)
        except BaseException:  # cancelled: leave the queue, pass on a member that just arrived
            self._abandon(loop, future)
            raise
        if future.done():
            return future.result()
        self._abandon(loop, future)
        return None

    def give(self, member: Member) -> None:
        """Hand ``member`` to the first waiter, or make it idle (unless the owner no longer accepts it)."""
        with self._mutex:
            if not self._accept(member):
                return
            while self._waiters:
                loop, future = self._waiters.popleft()
                if future.done():
                    continue
                try:
                    loop.call_soon_threadsafe(self._hand, member, future)
                    return
                except RuntimeError:  # that loop is closed: nobody waits there any more
                    continue
            self.idle.append(member)

    def fail_all_locked(self, error: BaseException) -> None:
        """Forget the idle members and fail every waiter with ``error`` (the owner is closing)."""
        self.idle.clear()
        waiters = list(self._waiters)
        self._waiters.clear()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_fail, future, error)

    def _abandon(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Member]) -> None:
        with self._mutex, contextlib.suppress(ValueError):
            self._waiters.remove((loop, future))
        if future.done() and not future.cancelled() and future.exception() is None:
            self.give(future.result())
        else:
            future.cancel()  # if a member is on its way, `_hand` passes it on

    def _hand(self, member: Member, future: asyncio.Future[Member]) -> None:
        if future.done():  # the waiter gave up meanwhile
            self.give(member)
        else:
            future.set_result(member)


def _fail(future: asyncio.Future[Member], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
