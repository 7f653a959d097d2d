"""Queued, batched execution for many sessions on one `ExecutorPool`.

Many conversations (rollouts, evaluations, users of a service) send code at once. The
`ExecutionDispatcher` puts every request in one bounded queue, collects a batch for
``batch_window_ms`` (or until ``max_batch_size`` requests are ready), and dispatches it::

    async with ExecutorPool("ipython-embedded", size=8) as pool, ExecutionDispatcher(pool) as dispatcher:
        result = await dispatcher.execute("rollout-17", [CodeBlock("x = 1", "python")], timeout=30)
        ...
        await dispatcher.release_session("rollout-17")     # its slot is reset and given back

- **Affinity.** A session's requests run on its own slot (the pool key is the session id), one at
  a time, in the order sent: its variables and files persist between its requests.
- **Fairness.** A batch holds at most one request per session, taken round robin: the sessions
  whose turn is oldest first, and a session goes to the back once its request ends. A session
  with 1,000 requests waiting gets one per batch, and anyone else's request goes out in the next
  batch at the latest.
- **Timeout grouping.** A request's timeout (seconds, for the whole request) is clamped to
  ``timeout_range``, so a timeout a model chose (a tool argument) can neither be zero nor run for
  an hour. A batch is split into groups of equal timeout, shortest first; each group is dispatched
  on its own, and each request's result is handed back as soon as it is ready, so a short request
  never waits for a long one.
- **Deadlines.** Executors take their timeout per block at construction (their ``timeout``
  attribute), not per call, so the dispatcher puts an asyncio deadline of the request's timeout
  around the call. On expiry the call is cancelled, which makes every built-in executor stop the
  code (a process tree is killed, a kernel interrupted with its variables kept, a container exec
  killed), and the request gets a result with exit code 124 saying it timed out; output printed
  before the deadline is not kept. The executor's own per-block ``timeout`` still applies: when it
  is shorter, the executor's own timed-out result (with partial output) comes back instead.
- **Native batches.** A pool with an ``execute_batch`` method (see `BatchExecutor`) gets each
  timeout group in one call, for example one round trip to a container serving many slots.
  Otherwise each request of a group runs concurrently on its own slot.
- **Exactly one outcome per request.** A request's caller gets a `CodeResult`, or an exception
  when the executor itself failed (`ExecutorError` saying that the slot's state was lost, as the
  pool says it), the pool had no member free (`PoolExhaustedError`), a native batch failed, or
  the dispatcher was closed. A caller that is cancelled drops its request from the queue, or
  stops it if it runs on its own slot (in a native batch its result is discarded); other requests
  are not disturbed.
- **Live output.** The caller's `parley.coding.live_output` listener goes with its request, so
  the output of a block running on a worker task reaches the caller's watcher as it arrives (a
  native batch, one call for many callers, gets none).

The dispatcher lives on the event loop that first uses it. It does not start or close the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Hashable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol

from parley._logging import get_logger
from parley.coding._artifacts import DEFAULT_ARCHIVE_BYTES, DEFAULT_MAX_ENTRIES, DEFAULT_READ_BYTES, ArtifactListing
from parley.coding._dispatch_queue import DispatchedBatch, DispatchQueue, DispatchStats, Request
from parley.coding._options import check_seconds
from parley.coding._pool_config import check_count
from parley.coding._pool_lease import percentile
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.live_output import current_listener, listen
from parley.coding.pool import ExecutorPool
from parley.exceptions import ConfigError, DispatcherFullError, ExecutorError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["BatchExecutor", "DispatchStats", "DispatchedBatch", "ExecutionDispatcher", "TIMED_OUT_EXIT_CODE"]

_log = get_logger("parley.coding.dispatch")

CLOSE_GRACE_S = 10.0
"""Seconds `ExecutionDispatcher.close` waits for cancelled runs to end before it answers their callers.

Defence in depth: the built-in executors end a cancelled run within about a second, even when its
block stopped (SIGSTOP) the processes that supervise it (they are continued; see
`parley.coding._process`). The bound is for executors that do not, such as a user's."""

TIMED_OUT_EXIT_CODE = 124
"""The exit code of a request that hit its deadline (as ``timeout(1)`` and the executors use)."""


class BatchExecutor(Protocol):
    """A pool that runs a whole timeout group of a batch in one call.

    The dispatcher calls ``execute_batch`` once per group when the pool it was given has it.
    """

    async def execute_batch(
        self, items: Sequence[tuple[Hashable, Sequence[CodeBlock]]], timeout: float
    ) -> Sequence[CodeResult | BaseException]:
        """Run each ``(session_id, code_blocks)`` on that session's slot, within ``timeout`` seconds.

        Returns:
            One outcome per item, in order: its result, or the exception its caller should get.
            If the call raises, or does not return within ``timeout`` seconds (then it is
            cancelled), every item of the group gets that error or a timed-out result.
        """
        ...


class ExecutionDispatcher:
    """One bounded queue in front of an `ExecutorPool`, dispatched in fair, timeout-grouped batches.

    Constructing it does no I/O and starts nothing; the first `execute` (or ``async with``)
    starts its collector on the running loop. See the module docstring for affinity, fairness,
    timeout grouping and what each request gets.

    Args:
        pool: the pool whose slots run the requests, keyed by session id; it must be started
            before requests run (otherwise each gets the pool's `ExecutorError`). A pool with
            an ``execute_batch`` method gets whole groups (see `BatchExecutor`).
        batch_window_ms: milliseconds a batch collects requests after the first one is ready.
            0 dispatches at once. Default 20.
        max_batch_size: at most this many requests (hence sessions) per batch; a batch this full
            goes out before its window ends. Default 200.
        max_queue: at most this many requests wait in the queue (dispatched ones do not count).
            Default 10,000.
        when_full: what `execute` does when the queue is full: ``"wait"`` for room for at most
            ``queue_timeout`` seconds, or ``"error"`` at once; both end
            in `DispatcherFullError` when no room comes. Default ``"wait"``.
        queue_timeout: seconds a caller waits for room with ``when_full="wait"``. Default 60.
        timeout_range: ``(shortest, longest)`` timeout in seconds a request may have; a caller's
            timeout is clamped into it, and a request without one gets the longest. Default
            ``(1, 600)``.
        stats_window: how many of the latest results and batches the percentiles cover.
            Default 1,024.
        on_batch: called with a `DispatchedBatch` as each batch goes out (for monitoring); what
            it raises is logged and ignored. Default none.

    Raises:
        ConfigError: ``pool`` is not an `ExecutorPool`; ``batch_window_ms`` is not a finite
            number of at least 0; ``max_batch_size``, ``max_queue`` or ``stats_window`` is not a
            positive int; ``when_full`` is not ``"wait"`` or ``"error"``; ``queue_timeout`` or a
            bound of ``timeout_range`` is not a positive finite number of seconds, or the bounds
            are out of order.
    """

    def __init__(
        self,
        pool: ExecutorPool,
        *,
        batch_window_ms: float = 20,
        max_batch_size: int = 200,
        max_queue: int = 10_000,
        when_full: Literal["wait", "error"] = "wait",
        queue_timeout: float = 60,
        timeout_range: tuple[float, float] = (1, 600),
        stats_window: int = 1024,
        on_batch: Callable[[DispatchedBatch], object] | None = None,
    ) -> None:
        if not isinstance(pool, ExecutorPool):
            raise ConfigError(f"pool must be an ExecutorPool, got {pool!r}.", key="pool")
        if (
            isinstance(batch_window_ms, bool)
            or not isinstance(batch_window_ms, (int, float))
            or not (batch_window_ms >= 0 and math.isfinite(batch_window_ms))
        ):
            raise ConfigError(
                f"batch_window_ms must be a finite number of milliseconds >= 0, got {batch_window_ms!r}.",
                key="batch_window_ms",
            )
        if when_full not in ("wait", "error"):
            raise ConfigError(f"when_full must be 'wait' or 'error', got {when_full!r}.", key="when_full")
        if not isinstance(timeout_range, (tuple, list)) or len(timeout_range) != 2:
            raise ConfigError(
                f"timeout_range must be (shortest, longest) in seconds, got {timeout_range!r}.", key="timeout_range"
            )
        low, high = (check_seconds("timeout_range", bound) for bound in timeout_range)
        if low > high:
            raise ConfigError(f"timeout_range must be (shortest, longest), got {timeout_range!r}.", key="timeout_range")
        self._pool = pool
        self._window = float(batch_window_ms) / 1000
        self._max_batch = check_count("max_batch_size", max_batch_size)
        self._max_queue = check_count("max_queue", max_queue)
        self._when_full = when_full
        self._queue_timeout = check_seconds("queue_timeout", queue_timeout)
        self._range = (low, high)
        self._on_batch = on_batch
        self._queue = DispatchQueue()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._collector: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        window = check_count("stats_window", stats_window)
        self._latencies: deque[float] = deque(maxlen=window)
        self._batch_sizes: deque[int] = deque(maxlen=window)
        self._requests = self._completed = self._errors = self._timeouts = 0
        self._cancelled = self._rejected = self._batches = 0

    # --- public -------------------------------------------------------------------------------------

    @property
    def pool(self) -> ExecutorPool:
        """The pool whose slots run the requests."""
        return self._pool

    async def read_artifact(self, session_id: Hashable, path: str, max_bytes: int = DEFAULT_READ_BYTES) -> bytes:
        """Read a file of the session's slot without running code there; see `ExecutorPool.read_artifact`.

        Raises:
            ArtifactError: the session holds no slot; the path is outside it, goes through a
                link, is missing, is not a regular file, or is larger than ``max_bytes``.
        """
        return await self._pool.read_artifact(session_id, path, max_bytes)

    async def list_artifacts(
        self, session_id: Hashable, path: str = ".", recursive: bool = False, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> ArtifactListing:
        """List a directory of the session's slot; see `ExecutorPool.list_artifacts`.

        Raises:
            ArtifactError: the session holds no slot; the path is outside it, goes through a
                link, is missing, or is not a directory.
        """
        return await self._pool.list_artifacts(session_id, path, recursive, max_entries)

    async def archive_artifacts(
        self, session_id: Hashable, path: str = ".", format: str = "tar.gz", max_bytes: int = DEFAULT_ARCHIVE_BYTES
    ) -> bytes:
        """Archive a path of the session's slot (tar.gz or tar bytes); see `ExecutorPool.archive_artifacts`.

        Raises:
            ArtifactError: the session holds no slot; the path is outside it, goes through a
                link, or is missing; the archive would pass ``max_bytes``.
        """
        return await self._pool.archive_artifacts(session_id, path, format, max_bytes)

    @property
    def timeout_range(self) -> tuple[float, float]:
        """``(shortest, longest)`` timeout in seconds a request may have."""
        return self._range

    def clamp_timeout(self, timeout: float | None) -> float:
        """The timeout in seconds a request asking for ``timeout`` gets: clamped into `timeout_range`.

        None gives the longest; a number below the shortest (0, negative) gives the shortest;
        infinity gives the longest.

        Raises:
            ConfigError: ``timeout`` is not a number (or is NaN, or a bool).
        """
        low, high = self._range
        if timeout is None:
            return high
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout):
            raise ConfigError(f"timeout must be a number of seconds or None, got {timeout!r}.", key="timeout")
        return min(max(float(timeout), low), high)

    async def execute(
        self, session_id: Hashable, code_blocks: Sequence[CodeBlock], timeout: float | None = None
    ) -> CodeResult:
        """Queue ``code_blocks`` for ``session_id``'s slot and return their result.

        Args:
            session_id: any hashable naming the conversation; it is the pool key of its slot.
            code_blocks: the blocks to run, in order, in one call of the slot's executor.
            timeout: seconds the whole request may run, clamped to `timeout_range` (see
                `clamp_timeout`); None for the longest. Waiting in the queue and for a pool
                member does not count.

        Returns:
            The executor's result; on the deadline, a result with exit code 124 saying it timed
            out (see the module docstring).

        Raises:
            ConfigError: ``timeout`` is not a number.
            DispatcherFullError: the queue held ``max_queue`` requests and no room came (at once
                with ``when_full="error"``, after ``queue_timeout`` seconds with ``"wait"``).
            ExecutorError: the dispatcher is closed (also while the request waited or ran), is
                used from another event loop, the slot's executor failed (its state was lost;
                the session's next request runs on a fresh one), the pool is not started or
                closed, or a native batch failed.
            PoolExhaustedError: no pool member became free for the session within the pool's
                ``acquire_timeout``.
            Exception: whatever else the slot's executor raised (a user's executor), as it raised it.
        """
        seconds = self.clamp_timeout(timeout)
        blocks = tuple(code_blocks)
        self._start()
        await self._wait_for_room()
        loop = asyncio.get_running_loop()
        request = Request(
            session_id, blocks, seconds, loop.create_future(), time.perf_counter(), listener=current_listener()
        )
        self._queue.put(request)
        self._requests += 1
        self._wakeup.set()
        try:
            return await request.future
        except asyncio.CancelledError:
            self._abandon(request)
            raise

    async def release_session(self, session_id: Hashable, reset: bool = True) -> None:
        """Wait for the session's requests already sent, then give its slot back to the pool.

        Each of those requests is bounded by its timeout. A session with no slot is ignored.

        Args:
            session_id: the session to release.
            reset: reset the slot first (see `ExecutorPool.release`). Default True.
        """
        idle = self._queue.idle_event(session_id)
        if idle is not None:
            await idle.wait()
        await self._pool.release(session_id, reset)

    def stats(self) -> DispatchStats:
        """A snapshot of the dispatcher's counts, latencies and queue (see `DispatchStats`)."""
        latencies = sorted(self._latencies)
        sizes = sorted(self._batch_sizes)
        return DispatchStats(
            requests=self._requests,
            completed=self._completed,
            errors=self._errors,
            timeouts=self._timeouts,
            cancelled=self._cancelled,
            rejected=self._rejected,
            batches=self._batches,
            batch_size_p50=percentile(sizes, 50),
            batch_size_max=sizes[-1] if sizes else None,
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            latency_p99_ms=percentile(latencies, 99),
            queue_depth=self._queue.depth,
            running=self._queue.running,
            sessions=self._queue.sessions(),
        )

    async def close(self) -> None:
        """Stop the dispatcher: every request waiting or running gets `ExecutorError`. Idempotent.

        Running requests are cancelled (their executors stop the code). The pool is left as it is.
        Waits at most `CLOSE_GRACE_S` seconds for the cancelled runs to end; a run still going then
        gets its error at once, and its task is left to end on its own.
        """
        if self._closed:
            return
        self._closed = True
        self._room.set()
        tasks = [t for t in (self._collector, *self._tasks) if t is not None]
        waiting, running = self._queue.drain()
        for request in waiting:
            self._fail(request, _closed_error())
        for request in running:  # those run by a task of their own get the error when it is cancelled
            if request.task is None:
                self._fail(request, _closed_error(running=True))
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _done, stuck = await asyncio.wait(tasks, timeout=CLOSE_GRACE_S)
        if stuck:  # an executor that does not end its run when cancelled must not hold close() for ever
            _log.warning(
                "%d dispatcher task(s) did not end within %g s of being cancelled; their requests get the "
                "closed error now",
                len(stuck),
                CLOSE_GRACE_S,
            )
            for request in running:
                self._fail(request, _closed_error(running=True))

    a_close = close

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- inside: queueing ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._closed:
            raise _closed_error()
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._collector = loop.create_task(self._collect())
        elif self._loop is not loop:
            raise ExecutorError(
                "This ExecutionDispatcher runs on another event loop; use it from the loop that first used it."
            )

    async def _wait_for_room(self) -> None:
        if self._queue.depth < self._max_queue:
            return
        if self._when_full == "error":
            self._rejected += 1
            raise self._full(0.0)
        began = time.monotonic()
        while self._queue.depth >= self._max_queue:
            remaining = self._queue_timeout - (time.monotonic() - began)
            if remaining <= 0:
                self._rejected += 1
                raise self._full(time.monotonic() - began)
            self._room.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._room.wait(), remaining)
            if self._closed:
                raise _closed_error()

    def _full(self, waited: float) -> DispatcherFullError:
        busiest = [(repr(key), count) for key, count in self._queue.busiest(5)]
        return DispatcherFullError(max_queue=self._max_queue, waited=waited, busiest=busiest)

    def _abandon(self, request: Request) -> None:
        """The caller of ``request`` was cancelled: drop it if it waits, stop it if it runs alone."""
        if self._queue.drop(request):
            self._cancelled += 1
            self._room.set()
        elif request.task is not None and not request.task.done():
            self._cancelled += 1
            request.task.cancel()

    # --- inside: batching ---------------------------------------------------------------------------

    async def _collect(self) -> None:
        """Form batches for as long as the dispatcher runs."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._queue.ready:
                continue
            deadline = loop.time() + self._window
            while self._queue.ready < self._max_batch and (remaining := deadline - loop.time()) > 0:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                self._wakeup.clear()
            batch = self._queue.take(self._max_batch)
            if self._queue.ready:
                self._wakeup.set()  # more sessions are ready: the next batch starts collecting now
            self._room.set()
            if batch:
                self._dispatch(batch)

    def _dispatch(self, batch: list[Request]) -> None:
        self._batches += 1
        self._batch_sizes.append(len(batch))
        groups: dict[float, list[Request]] = {}
        for request in batch:
            groups.setdefault(request.timeout, []).append(request)
        ordered = sorted(groups.items())
        if self._on_batch is not None:
            shape = tuple((timeout, len(requests)) for timeout, requests in ordered)
            try:
                self._on_batch(DispatchedBatch(self._batches, tuple(r.session_id for r in batch), shape))
            except Exception:
                _log.exception("the dispatcher's on_batch callback failed")
        native = getattr(self._pool, "execute_batch", None)
        for timeout, requests in ordered:
            if callable(native):
                self._spawn(self._run_group(native, timeout, requests), requests)
            else:
                for request in requests:
                    request.task = self._spawn(self._run_one(request), [request])

    def _spawn(self, coro: Coroutine[object, object, None], requests: list[Request]) -> asyncio.Task[None]:
        """Run ``coro`` for ``requests``; when it ends, however it ends, each has its outcome and its turn ends.

        A task cancelled before it started never runs its body (no ``finally`` either), so the
        outcome and the end of the session's turn are settled here, in the done callback.
        """
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def settle(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            for request in requests:
                self._fail(request, _closed_error(running=True))  # a no-op when it has its outcome
                self._finish(request)

        task.add_done_callback(settle)
        return task

    # --- inside: running ----------------------------------------------------------------------------

    async def _run_one(self, request: Request) -> None:
        """Run ``request`` on its session's slot and hand its outcome to its caller."""
        try:
            async with self._pool.acquire(request.session_id) as executor:
                with listen(request.listener):  # the worker task does not run in the caller's context
                    running = executor.a_execute_code_blocks(request.code_blocks)
                    try:
                        result = await asyncio.wait_for(running, request.timeout)
                    except asyncio.TimeoutError:
                        result = self._timed_out(request)
            self._resolve(request, result)
        except asyncio.CancelledError:  # its caller gave up (future already cancelled) or close()
            self._fail(request, _closed_error(running=True))
        except Exception as exc:
            self._fail(request, exc)
        finally:
            self._finish(request)  # here, so the turn ends before the caller resumes; settle() is the net

    async def _run_group(
        self,
        native: Callable[..., object],
        timeout: float,
        requests: list[Request],
    ) -> None:
        """Run one timeout group in one ``execute_batch`` call."""
        items = [(r.session_id, r.code_blocks) for r in requests]
        try:
            outcomes = await asyncio.wait_for(_awaited(native(items, timeout)), timeout)
            if not isinstance(outcomes, Sequence) or len(outcomes) != len(requests):
                raise ExecutorError(
                    f"execute_batch returned {type(outcomes).__name__} for {len(requests)} items; "
                    "it must return one result or exception per item, in order."
                )
            for request, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, CodeResult):
                    self._resolve(request, outcome)
                elif isinstance(outcome, BaseException):
                    self._fail(request, outcome)
                else:
                    self._fail(request, ExecutorError(f"execute_batch gave {outcome!r}, not a CodeResult."))
        except asyncio.TimeoutError:
            for request in requests:
                self._resolve(request, self._timed_out(request))
        except asyncio.CancelledError:
            for request in requests:
                self._fail(request, _closed_error(running=True))
        except Exception as exc:
            for request in requests:
                self._fail(request, ExecutorError(f"The batch of {len(requests)} requests failed: {exc}"))
        finally:
            for request in requests:
                self._finish(request)

    def _timed_out(self, request: Request) -> CodeResult:
        self._timeouts += 1
        return CodeResult(
            exit_code=TIMED_OUT_EXIT_CODE,
            output=(
                f"Timeout after {request.timeout:g} s (this request's deadline), so the run was stopped: "
                "its processes were killed, or its kernel interrupted (variables kept). Output printed before "
                "the deadline is not available. Run shorter steps, or ask for a longer timeout (at most "
                f"{self._range[1]:g} s).\n"
            ),
        )

    def _resolve(self, request: Request, result: CodeResult) -> None:
        if request.future.done():
            return  # the caller was cancelled: the result is discarded
        request.future.set_result(result)
        self._completed += 1
        self._latencies.append((time.perf_counter() - request.sent) * 1000)

    def _fail(self, request: Request, exc: BaseException) -> None:
        if request.future.done():
            return
        request.future.set_exception(exc)
        self._errors += 1
        self._latencies.append((time.perf_counter() - request.sent) * 1000)

    def _finish(self, request: Request) -> None:
        self._queue.finish(request)
        self._wakeup.set()


async def _awaited(value: object) -> object:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def _closed_error(running: bool = False) -> ExecutorError:
    where = "while this request ran" if running else ""
    return ExecutorError(
        f"The ExecutionDispatcher was closed{' ' + where if where else ''}; create a new one to run more code."
    )
