"""The `ExecutionDispatcher`'s queue: one FIFO per session, and a round-robin ring of sessions.

A session's requests run one at a time, in the order sent, so a batch holds at most one request
per session. The ring lists the sessions that have a request waiting and none running, oldest
turn first: a batch takes sessions from the front, and a session whose request finished goes to
the back. A session with a thousand requests waiting therefore gets one per batch, like everyone
else, and a newcomer is served in the next batch at the latest.

Nothing here awaits or touches an executor: the queue is plain data, tested through the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from parley.coding.base import CodeBlock, CodeResult
from parley.coding.live_output import OutputListener

__all__ = ["DispatchQueue", "DispatchStats", "DispatchedBatch", "Request"]


@dataclass(frozen=True)
class DispatchStats:
    """A snapshot of an `ExecutionDispatcher`.

    Attributes:
        requests: requests accepted by `ExecutionDispatcher.execute` since the dispatcher was made.
        completed: requests that got a `CodeResult` (timed-out ones included).
        errors: requests that got an exception (executor failure, pool exhausted, dispatcher closed).
        timeouts: requests that hit their deadline (a result with exit code 124).
        cancelled: requests whose caller was cancelled (dropped from the queue, or stopped).
        rejected: calls refused because the queue was full (`DispatcherFullError`).
        batches: batches dispatched.
        batch_size_p50: median number of requests in a batch, over the latest ``stats_window``
            batches; None before the first.
        batch_size_max: the largest batch over the same window; None before the first.
        latency_p50_ms: median time from `ExecutionDispatcher.execute` to its result, in
            milliseconds, over the latest ``stats_window`` results; None before the first.
        latency_p95_ms: the 95th percentile of the same, in milliseconds.
        latency_p99_ms: the 99th percentile of the same, in milliseconds.
        queue_depth: requests waiting in the queue (not yet dispatched).
        running: requests dispatched and not finished.
        sessions: sessions with a request waiting or running.
    """

    requests: int
    completed: int
    errors: int
    timeouts: int
    cancelled: int
    rejected: int
    batches: int
    batch_size_p50: float | None
    batch_size_max: int | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    queue_depth: int
    running: int
    sessions: int


@dataclass(frozen=True)
class DispatchedBatch:
    """What one dispatched batch held, as given to the dispatcher's ``on_batch`` callback.

    Attributes:
        number: the batch's number, counting from 1.
        session_ids: the sessions with a request in it, in round-robin order (at most one each).
        groups: ``(timeout in seconds, request count)`` per timeout group, shortest first.
    """

    number: int
    session_ids: tuple[Hashable, ...]
    groups: tuple[tuple[float, int], ...]


@dataclass(eq=False)
class Request:
    """One call of `ExecutionDispatcher.execute`, from the queue to its result."""

    session_id: Hashable
    code_blocks: tuple[CodeBlock, ...]
    timeout: float
    future: asyncio.Future[CodeResult]
    sent: float  # time.perf_counter() when accepted
    task: asyncio.Task[None] | None = None  # the task running it (default path), once dispatched
    listener: OutputListener | None = None  # the caller's live-output listener, carried to the worker task


@dataclass(eq=False)
class _Session:
    waiting: deque[Request] = field(default_factory=deque)
    running: Request | None = None
    in_ring: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class DispatchQueue:
    """Per-session FIFOs and the round-robin ring (see the module docstring). One event loop only."""

    def __init__(self) -> None:
        self._sessions: dict[Hashable, _Session] = {}
        self._ring: deque[Hashable] = deque()
        self.depth = 0  # requests waiting, all sessions together
        self.running = 0

    @property
    def ready(self) -> int:
        """Sessions whose turn can come now (an upper bound: a dropped request may leave a stale entry)."""
        return len(self._ring)

    def sessions(self) -> int:
        return len(self._sessions)

    def put(self, request: Request) -> None:
        session = self._sessions.get(request.session_id)
        if session is None:
            session = self._sessions[request.session_id] = _Session()
        session.idle.clear()
        session.waiting.append(request)
        self.depth += 1
        self._enter_ring(request.session_id, session)

    def take(self, limit: int) -> list[Request]:
        """The first waiting request of up to ``limit`` sessions, in ring order; each is marked running."""
        batch: list[Request] = []
        while self._ring and len(batch) < limit:
            key = self._ring.popleft()
            session = self._sessions[key]
            session.in_ring = False
            if session.running is not None or not session.waiting:
                continue  # stale: its last waiting request was dropped
            request = session.waiting.popleft()
            session.running = request
            self.depth -= 1
            self.running += 1
            batch.append(request)
        return batch

    def finish(self, request: Request) -> None:
        """``request`` ended: its session's next request (if any) joins the back of the ring."""
        session = self._sessions.get(request.session_id)
        if session is None or session.running is not request:
            return
        session.running = None
        self.running -= 1
        if session.waiting:
            self._enter_ring(request.session_id, session)
        else:
            self._forget(request.session_id, session)

    def drop(self, request: Request) -> bool:
        """Remove ``request`` if it still waits; True when it did (its caller gave up)."""
        session = self._sessions.get(request.session_id)
        if session is None or request not in session.waiting:
            return False
        session.waiting.remove(request)
        self.depth -= 1
        if not session.waiting and session.running is None:
            self._forget(request.session_id, session)
        return True

    def drain(self) -> tuple[list[Request], list[Request]]:
        """Every waiting request and every running one; the queue is empty after."""
        waiting = [r for s in self._sessions.values() for r in s.waiting]
        running = [s.running for s in self._sessions.values() if s.running is not None]
        for session in self._sessions.values():
            session.idle.set()
        self._sessions.clear()
        self._ring.clear()
        self.depth = self.running = 0
        return waiting, running

    def idle_event(self, session_id: Hashable) -> asyncio.Event | None:
        """An event set when ``session_id`` has nothing waiting or running; None when it has nothing now."""
        session = self._sessions.get(session_id)
        return None if session is None else session.idle

    def busiest(self, count: int) -> list[tuple[Hashable, int]]:
        """Up to ``count`` sessions with the most requests waiting, most first."""
        ranked = sorted(((k, len(s.waiting)) for k, s in self._sessions.items()), key=lambda item: -item[1])
        return [item for item in ranked[:count] if item[1]]

    def _enter_ring(self, key: Hashable, session: _Session) -> None:
        if not session.in_ring and session.running is None:
            session.in_ring = True
            self._ring.append(key)

    def _forget(self, key: Hashable, session: _Session) -> None:
        session.idle.set()
        del self._sessions[key]
        if session.in_ring:  # rare: a dropped request's session left in the ring
            session.in_ring = False
            self._ring.remove(key)
