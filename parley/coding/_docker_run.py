"""Run one command in the sandbox container without blocking the event loop, with a timeout.

The command runs in a process group of its own; when it ends, whatever it left running in the
background in that group is killed (so orphans cannot pile up against the pids limit).

docker-py blocks, so the ``docker exec`` and the reading of its output happen in a thread of
their own (one per run: a shared pool would make a run wait for a free thread while its timeout
runs). Output chunks are handed to the event loop as they arrive and fed to the `OutputBudget`
there, in order.

On timeout, and when the awaiting task is cancelled, every process of the run is killed by a
second ``docker exec`` (`Container.kill_marked`): each run's processes carry a marker variable
with a token of their own, so children that left the process group die too, and other runs in
the same container are left alone. The output stream is then closed, so a process that escaped
the kill (it cleared its environment) cannot hold the run open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from parley.coding._docker import MARKER_VARIABLE, Container, RunHandle
from parley.coding._output import OutputBudget
from parley.coding._process import TIMEOUT_EXIT_CODE

__all__ = ["RunOutcome", "in_thread", "run_in_container"]

T = TypeVar("T")

KILLED_EXIT_CODE = 137
"""Reported when the daemon no longer knows how the run ended (its container was removed)."""

# Runs "$@" as the leader of a new process group (setsid, where the image has it) and, when it
# ends, kills whatever of that group it left running in the background, so orphans cannot pile
# up against the pids limit. Costs one sh start, about a millisecond.
_WRAPPER = (
    'if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi; '
    'pid=$!; wait "$pid"; code=$?; kill -KILL -"$pid" 2>/dev/null; exit "$code"'
)
_GRACE_S = 2.0  # seconds to wait for the output to end after the kill, then after closing the stream


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended.

    Attributes:
        exit_code: the command's exit code; 124 after a timeout; 128 + N when signal N killed it.
        timed_out: True when the timeout fired and the run's processes were killed.
        killed: True when a signal ended the run (exit code above 128) and it did not time out.
        escaped: True when, after a timeout, some of the run's processes could not be killed
            inside the container (the pids limit was reached, or they left the kill's reach):
            the container should be replaced.
    """

    exit_code: int
    timed_out: bool
    killed: bool
    escaped: bool = False


class _DaemonThreads:
    """Daemon threads reused across calls.

    Unlike `asyncio.to_thread`'s pool, a call never waits for a free thread (a run's timeout
    would tick while it waited), and interpreter exit never waits for a thread still reading
    a run's output. Unlike a new thread per call, a warm call costs no thread start (measured
    here: about 2 ms less per run). A thread idle for a minute ends.
    """

    _IDLE_S = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = 0
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # reserve an idle thread for this job
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name="parley-docker", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody reserved an idle thread: this one may end
                        self._idle -= 1
                        return
                continue
            job()
            with self._lock:
                self._idle += 1


_THREADS = _DaemonThreads()


def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """Run ``fn(*args, **kwargs)`` in a worker thread (see `_DaemonThreads`); return a future for its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(T, result))

    def job() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
            loop.call_soon_threadsafe(deliver, result, error)

    _THREADS.submit(job)
    return future


async def run_in_container(
    container: Container,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    user: str,
    timeout: float,
    budget: OutputBudget,
) -> RunOutcome:
    """Run ``argv`` in ``container`` as ``user``, feeding its merged output to ``budget``.

    Args:
        container: the running container.
        argv: the command and its arguments.
        env: environment variables for the command (the run's marker is added).
        user: the user to run as (``"uid:gid"``, a name ...).
        timeout: seconds the run may take before its processes are killed.
        budget: receives the output, on the event loop's thread.

    Returns:
        How the run ended. After a timeout, output still arriving in the next ~2 s is kept.

    Raises:
        ContainerGoneError: the container was not running, so nothing ran.
        ExecutorUnavailableError: the daemon stopped answering.
        OSError: ``budget`` could not write its spill file (the run was killed first).
        asyncio.CancelledError: the awaiting task was cancelled; the run was killed first.
    """
    token = os.urandom(8).hex()
    loop = asyncio.get_running_loop()
    handle = RunHandle()
    accepting = True
    errors: list[OSError] = []

    def feed(chunk: bytes) -> None:
        if accepting and not errors:
            try:
                budget.feed_bytes(chunk)
            except OSError as exc:
                errors.append(exc)

    def on_output(chunk: bytes) -> None:
        loop.call_soon_threadsafe(feed, chunk)

    run = in_thread(
        container.run,
        ["sh", "-c", _WRAPPER, "sh", *argv],
        env={**env, MARKER_VARIABLE: token},
        user=user,
        on_output=on_output,
        handle=handle,
    )
    run.add_done_callback(lambda done: done.cancelled() or done.exception())  # never "never retrieved"
    try:
        await asyncio.wait((run,), timeout=timeout)
        timed_out, escaped = not run.done(), False
        if timed_out or errors:
            if await in_thread(container.kill_marked, token, user):
                await asyncio.wait((run,), timeout=_GRACE_S)  # the output ends when the processes are gone
            if not run.done():  # the kill failed, or something that escaped it holds the output open
                escaped = True
                handle.abort()
                await asyncio.wait((run,), timeout=_GRACE_S)
        if errors:
            if escaped:
                container.remove()
            raise errors[0]
        if timed_out:
            return RunOutcome(TIMEOUT_EXIT_CODE, True, False, escaped)
    except BaseException:
        if not run.done():
            # Synchronously: the loop may be shutting down. What cannot be killed inside goes
            # with the container; the next run then starts a fresh one.
            if not container.kill_marked(token, user):
                container.remove()
            handle.abort()
        raise
    finally:
        accepting = False
    code = run.result()
    if code is None:
        return RunOutcome(KILLED_EXIT_CODE, False, True)
    return RunOutcome(code, False, code > 128)
