"""Run a coroutine from sync code, including inside a running event loop (a Jupyter cell).

parley writes every operation once, as ``async def``; the sync API is a thin shell over
`run_sync`. With no loop running in the calling thread the coroutine runs on a loop kept for
that thread, so async resources (HTTP connection pools, subprocess transports) survive between
sync calls. Inside a running loop the coroutine runs on one background loop thread and the caller
blocks for the result, which is what a notebook user of a sync API expects. The same approach
as jupyter_core's ``run_sync``, written for our needs.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_bg_lock = threading.Lock()
_bg_loop: asyncio.AbstractEventLoop | None = None
_loops: list[asyncio.AbstractEventLoop] = []


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        _loops.append(loop)
    return loop


def _background_loop() -> asyncio.AbstractEventLoop:
    global _bg_loop
    with _bg_lock:
        if _bg_loop is None or _bg_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="parley-sync-loop", daemon=True).start()
            _bg_loop = loop
            _loops.append(loop)
        return _bg_loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code and return its result.

    Args:
        coro: the coroutine to run.

    Returns:
        Whatever the coroutine returns; its exceptions propagate unchanged.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(coro)
    return asyncio.run_coroutine_threadsafe(coro, _background_loop()).result()


@atexit.register
def _close_loops() -> None:  # pragma: no cover - interpreter exit
    for loop in _loops:
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        elif not loop.is_closed():
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
