"""Run one command in the sandbox container without blocking the event loop, with a timeout.

The command runs under `parley.coding._docker.WRAPPER`: when it ends, every other process in the
container but the container's own is killed (unless background processes are kept), however it
detached. The executor runs one command at a time per container, so that kill hits only what
this command started.

docker-py blocks, so every daemon call happens in a worker thread (`in_thread`; one per run, not
a shared pool, so a run never waits for a free thread while its timeout runs), and the event loop
waits for each with a deadline (`ask`): a daemon that stops answering (``SIGSTOP``, overload)
costs a run at most its timeout plus a few seconds, and never stalls the loop. Output chunks are
handed to the event loop as they arrive and fed to the `OutputBudget` there, in order.

On timeout, and when the awaiting task is cancelled, the run's processes are killed by a second
``docker exec`` (`Container.kill_all`, the wrapper's own kill). The output socket is then shut
down, so a process that escaped the kill cannot hold the run open.
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

from parley.coding._docker import WRAPPER, Container, DaemonSilentError, RunHandle
from parley.coding._output import OutputBudget
from parley.coding._process import TIMEOUT_EXIT_CODE

__all__ = ["DAEMON_DEADLINE_S", "RunOutcome", "ask", "in_thread", "run_in_container"]

T = TypeVar("T")

KILLED_EXIT_CODE = 137
"""Reported when the daemon no longer knows how the run ended (its container was removed)."""

DAEMON_DEADLINE_S = 3.0
"""Seconds the event loop waits for the daemon to answer one call (a kill, a status, a removal)."""

_GRACE_S = 2.0  # seconds to wait for the output to end after the kill, then after closing the stream


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended.

    Attributes:
        exit_code: the command's exit code; 124 after a timeout; 128 + N when signal N killed it.
        timed_out: True when the timeout fired and the run's processes were killed.
        killed: True when a signal ended the run (exit code above 128) and it did not time out.
        escaped: True when, after a timeout, some of the run's processes could not be killed
            inside the container (the pids limit was reached, or they held the output open
            after the kill): the container should be replaced.
        daemon_silent: True when, after a timeout, the daemon did not answer the kill within
            `DAEMON_DEADLINE_S` (nor, perhaps, the run itself): nothing is known about the
            run's processes, and the container should be given up.
        runner_lost: True when the container's persistent runner (`parley.coding._docker_runner`)
            died during the run, or did not answer and was given up: background processes it
            kept are gone too.
        reaper_lost: True when the run's own reaper in the runner was killed (by the code, as a
            rule) before it reported: the exit code is unknown, and what the run started was ended.
    """

    exit_code: int
    timed_out: bool
    killed: bool
    escaped: bool = False
    daemon_silent: bool = False
    runner_lost: bool = False
    reaper_lost: bool = False


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
            del job  # an idle thread must not keep the last job's objects (an executor) alive
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


async def ask(fn: Callable[..., T], /, *args: Any, deadline: float = DAEMON_DEADLINE_S, **kwargs: Any) -> T:
    """Run the daemon call ``fn(*args, **kwargs)`` in a worker thread; wait for it at most ``deadline`` seconds.

    Raises:
        DaemonSilentError: no answer within ``deadline`` (the call goes on in its thread, bounded
            by the client's HTTP timeout, and its result is dropped).
        Exception: whatever ``fn`` raised.
    """
    future = in_thread(fn, *args, **kwargs)
    future.add_done_callback(_retrieve)
    await asyncio.wait((future,), timeout=deadline)
    if not future.done():
        raise DaemonSilentError(
            f"The Docker daemon did not answer within {deadline:g} s (it may be stopped, frozen or overloaded)."
        )
    return future.result()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as retrieved: nobody may be left waiting for it."""
    if not future.cancelled():
        future.exception()


async def _kill(container: Container, user: str, spare_token: str | None) -> bool | None:
    """`Container.kill_all` with a deadline: True when done, False when it failed, None when the daemon was silent."""
    try:
        return await ask(container.kill_all, user, spare_token=spare_token)
    except DaemonSilentError:
        return None


async def run_in_container(
    container: Container,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    user: str,
    timeout: float,
    budget: OutputBudget,
    keep_background: bool = False,
) -> RunOutcome:
    """Run ``argv`` in ``container`` as ``user``, feeding its merged output to ``budget``.

    The caller runs one command at a time per container: when it ends, the other processes in
    the container are killed (see `parley.coding._docker.WRAPPER`).

    Args:
        container: the running container.
        argv: the command and its arguments.
        env: environment variables for the command.
        user: the user to run as (``"uid:gid"``, a name ...).
        timeout: seconds the run may take before its processes are killed.
        budget: receives the output, on the event loop's thread.
        keep_background: leave the background processes the command starts running after it
            ends. A timeout (or cancel) still kills every process it started; those that were
            running before it are spared.

    Returns:
        How the run ended. After a timeout, output still arriving in the next ~2 s is kept.

    Raises:
        ContainerGoneError: the container was not running, so nothing ran.
        ExecutorUnavailableError: the daemon stopped answering.
        OSError: ``budget`` could not write its spill file (the run was killed first).
        asyncio.CancelledError: the awaiting task was cancelled; the run was killed first
            (waiting at most `DAEMON_DEADLINE_S` for the daemon).
    """
    token = os.urandom(8).hex()
    loop = asyncio.get_running_loop()
    handle = RunHandle()
    accepting = True
    errors: list[OSError] = []
    spare_token = token if keep_background else None

    def feed(chunk: bytes) -> None:
        if accepting and not errors:
            try:
                budget.feed_bytes(chunk)
            except OSError as exc:
                errors.append(exc)

    def on_output(chunk: bytes) -> None:
        loop.call_soon_threadsafe(feed, chunk)

    mode = "keep" if keep_background else "sweep"
    run = in_thread(
        container.run,
        ["sh", "-c", WRAPPER, "sh", mode, token, *argv],
        env=env,
        user=user,
        on_output=on_output,
        handle=handle,
    )
    run.add_done_callback(_retrieve)  # never "exception never retrieved"
    try:
        await asyncio.wait((run,), timeout=timeout)
        timed_out = not run.done()
        if timed_out or errors:
            escaped, silent = await _end(container, run, handle, user, spare_token)
            if errors:
                if escaped or silent:
                    in_thread(container.remove).add_done_callback(_retrieve)  # the next run then starts afresh
                raise errors[0]
            return RunOutcome(TIMEOUT_EXIT_CODE, True, False, escaped, silent)
    except BaseException as exc:
        if not run.done():
            await _end_on_the_way_out(container, run, handle, user, spare_token, exc)
        raise
    finally:
        accepting = False
    code = run.result()
    if code is None:
        return RunOutcome(KILLED_EXIT_CODE, False, True)
    if code > 128 and not keep_background:
        # A signal ended the wrapper (the code may have killed it), so its own kill may not have
        # run: kill from outside. In a container that died this fails quietly.
        await _kill(container, user, None)
    return RunOutcome(code, False, code > 128)


async def _end(
    container: Container, run: asyncio.Future[Any], handle: RunHandle, user: str, spare_token: str | None
) -> tuple[bool, bool]:
    """Kill a run that is still going; return ``(escaped, daemon_silent)`` (see `RunOutcome`)."""
    killed = await _kill(container, user, spare_token)
    if killed:
        await asyncio.wait((run,), timeout=_GRACE_S)  # the output ends when the processes are gone
    if run.done():
        return False, False
    handle.abort()  # the kill failed, or something that escaped it holds the output open
    if killed is not None:
        await asyncio.wait((run,), timeout=_GRACE_S)
    return killed is not None, killed is None


async def _end_on_the_way_out(
    container: Container,
    run: asyncio.Future[Any],
    handle: RunHandle,
    user: str,
    spare_token: str | None,
    exc: BaseException,
) -> None:
    """Kill a run whose awaiting task is being cancelled (or failed); what cannot be killed goes with the container.

    The kill and the removal happen in a worker thread; the loop waits for them at most
    `DAEMON_DEADLINE_S` (the next run of this executor waits for the gate meanwhile).
    """
    handle_abort = handle.abort

    def kill_or_remove() -> None:
        if not container.kill_all(user, spare_token=spare_token):
            container.remove()  # the next run then finds it gone and starts a fresh one
        handle_abort()

    if isinstance(exc, GeneratorExit):  # the coroutine was closed: no awaiting here
        threading.Thread(target=kill_or_remove, name="parley-docker-cleanup", daemon=True).start()
        return
    cleanup = in_thread(kill_or_remove)
    cleanup.add_done_callback(_retrieve)
    with contextlib.suppress(BaseException):  # a second cancel: the thread finishes the job alone
        await asyncio.wait((cleanup,), timeout=DAEMON_DEADLINE_S + _GRACE_S)
