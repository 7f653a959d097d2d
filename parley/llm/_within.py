"""`within`: await something for a bounded time, and return at the deadline even if it resists cancellation.

``asyncio.wait_for`` cancels the awaited task at its deadline and then waits, without a bound, for
the task to end. A read inside the HTTP stack that swallows the cancellation (seen here: a stream
of SSE keep-alive comments kept a chat waiting past ``stream_chunk_timeout``) then holds the
caller forever. `within` gives the cancelled task a short grace and then raises anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["within"]

T = TypeVar("T")

_GRACE_S = 1.0
"""Seconds a cancelled task gets to end before the caller goes on without it."""


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """Return what ``awaitable`` gives within ``seconds``; else cancel it and raise.

    Args:
        awaitable: what to wait for; it runs as a task of its own.
        seconds: the deadline, from now (0 or less: it gets one turn of the loop).

    Raises:
        asyncio.TimeoutError: the deadline passed. The task was cancelled and given up to 1 s to
            end; one that did not end is left to finish on its own.
        asyncio.CancelledError: the caller was cancelled; the task is cancelled too.
        Exception: whatever ``awaitable`` raised.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait((task,), timeout=max(0.0, seconds))
    except BaseException:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    await asyncio.wait((task,), timeout=_GRACE_S)
    task.add_done_callback(_forget)
    raise asyncio.TimeoutError
