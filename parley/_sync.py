"""Run a coroutine from sync code, including inside a running event loop (a Jupyter cell).

parley writes every operation once, as ``async def``; the sync API is a thin shell over
`run_sync`. With no loop running in the calling thread the coroutine runs on a loop kept for
that thread, so async resources (HTTP connection pools, subprocess transports) survive between
sync calls. Inside a running loop the coroutine runs on one background loop thread and the caller
blocks for the result, which is what a notebook user of a sync API expects. The same approach
as jupyter_core's ``run_sync``, written for our needs.

`call_blocking` is the other direction: async code calling a blocking function (a 0.2-style sync
model client, a sync executor or tool). It hops to a worker thread only when something else could
be waiting on the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import functools
import threading
from asyncio.events import _set_running_loop
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

_local = threading.local()
_bg_lock = threading.Lock()
_bg_loop: asyncio.AbstractEventLoop | None = None
_loops: list[asyncio.AbstractEventLoop] = []


class _TaskCounter:
    """The task factory of a thread's sync loop: it counts the loop's tasks that have not finished.

    `call_blocking` asks it whether the awaiting task is alone on the loop; `asyncio.all_tasks`
    answers the same question by walking every task of the process (about 2 µs per model call).
    Tasks made with ``create_task``, ``ensure_future``, ``gather`` or ``run_coroutine_threadsafe``
    are counted; asyncio discourages making a `asyncio.Task` by hand, and such a task is not.
    """

    __slots__ = ("base", "live")

    def __init__(self, base: bool) -> None:
        self.live = 0
        self.base = base
        """Whether the loop is an `asyncio.BaseEventLoop`, which keeps its factory in ``_task_factory``."""

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        self.live += 1
        task.add_done_callback(self._finished)
        return task

    def _finished(self, _: object) -> None:
        self.live -= 1


_counters: dict[asyncio.AbstractEventLoop, _TaskCounter] = {}
"""Each thread's sync loop (see `_thread_loop`) and its task counter: one lookup in `call_blocking`
tells both that the running loop is a sync loop and how many tasks it runs. A loop runs in one
thread at a time, so a running loop found here is the sync loop of the thread that asks."""


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        if loop is not None:
            _counters.pop(loop, None)
        loop = asyncio.new_event_loop()
        counter = _TaskCounter(isinstance(loop, asyncio.BaseEventLoop))
        loop.set_task_factory(counter)
        _local.loop = loop
        _counters[loop] = counter
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


def _run_on_thread_loop(coro: Coroutine[Any, Any, T]) -> T:
    loop = _thread_loop()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:  # KeyboardInterrupt included: do not leave the chat running
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):  # the original error is re-raised below
                loop.run_until_complete(task)
        raise


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code and return its result.

    With no loop running in this thread, the coroutine runs on this thread's own loop. Inside a
    running loop (a notebook cell) it runs on parley's background loop while this thread waits;
    when this thread *is* that background loop (a sync call made from code that parley itself is
    running there), it runs on a fresh worker thread instead, so the call cannot deadlock. An
    interrupt (Ctrl-C) cancels the coroutine before it propagates.

    Args:
        coro: the coroutine to run.

    Returns:
        Whatever the coroutine returns; its exceptions propagate unchanged.
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        own = getattr(_local, "loop", None)
        if own is None or not own.is_running():
            return _run_on_thread_loop(coro)
        running = own  # inside `call_blocking`'s in-place call: this thread's loop is busy
    if running is _bg_loop:
        result: list[T] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                result.append(_run_on_thread_loop(coro))
            except BaseException as e:
                errors.append(e)

        worker = threading.Thread(target=work, name="parley-sync-nested", daemon=True)
        worker.start()
        worker.join()
        if errors:
            raise errors[0]
        return result[0]
    future = asyncio.run_coroutine_threadsafe(coro, _background_loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


IN_USE: Any = object()
"""`call_in_place`'s answer when the call must go to a worker thread instead."""


def call_in_place(fn: Callable[..., T], /, *args: Any) -> T:
    """``fn(*args)`` called here when nothing else can be waiting on the loop, else `IN_USE` (not called).

    The decision and the in-place call of `call_blocking`, as a plain call, for a caller on the
    hot path that hops to the worker thread itself on `IN_USE`
    (``await asyncio.to_thread(fn, *args)``), one coroutine less per call.

    Args:
        fn: the blocking callable.
        *args: its positional arguments.

    Returns:
        What ``fn`` returns, or `IN_USE` when it was not called; what ``fn`` raises propagates.

    Raises:
        RuntimeError: no event loop is running in this thread.
    """
    loop = asyncio.get_running_loop()
    # Alone on this thread's sync loop? Its task counter knows, unless someone replaced it.
    counter = _counters.get(loop)
    if counter is None:
        return IN_USE  # type: ignore[no-any-return]
    # A `BaseEventLoop` keeps its factory in `_task_factory`: read as an attribute, not a method call.
    factory: object = loop._task_factory if counter.base else loop.get_task_factory()  # type: ignore[attr-defined]
    if factory is counter:
        if counter.live > 1:
            return IN_USE  # type: ignore[no-any-return]
    elif len(asyncio.all_tasks(loop)) > 1:
        return IN_USE  # type: ignore[no-any-return]
    context = contextvars.copy_context()
    _set_running_loop(None)  # as in a worker thread: fn may start a loop of its own
    try:
        return context.run(fn, *args)
    finally:
        _set_running_loop(loop)


async def call_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the blocking ``fn(*args, **kwargs)`` from async code without holding up other coroutines.

    When the running loop is the one a sync call (`run_sync` with no loop running, such as a sync
    ``initiate_chat``) made for this thread, and the awaiting task is the only one on it, nothing
    else can be waiting, so ``fn`` is called in place and saves the hop to a worker thread (about
    100 µs here). Anywhere else (concurrent chats, a notebook, an application's own loop) it runs
    in a worker thread, as `asyncio.to_thread` does, so coroutines never block each other.

    Either way ``fn`` runs in a copy of the current context and sees no running event loop, so it
    may call `asyncio.run` or parley's sync API itself.

    Args:
        fn: the blocking callable.
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Returns:
        What ``fn`` returns; what it raises propagates unchanged.
    """
    result = call_in_place(functools.partial(fn, **kwargs) if kwargs else fn, *args)
    if result is IN_USE:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return result


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
