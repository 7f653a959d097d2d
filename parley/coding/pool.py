"""A pool of pre-warmed code executors shared by many conversations, each pinned to its own member.

Starting an executor is slow (about a second for a kernel); running a block on a warm one takes
milliseconds. `ExecutorPool` starts ``size`` executors once and lends them out::

    async with ExecutorPool("ipython-embedded", size=8, options={"timeout": 30}) as pool:
        async with pool.acquire("chat-1") as executor:     # the key's own member, warm
            await executor.a_execute_code_blocks([CodeBlock("x = 1", "python")])
        async with pool.acquire("chat-1") as executor:     # the same member: x is still 1
            ...
        await pool.release("chat-1")                       # reset (x gone, files gone) and given back

- **Affinity.** A key keeps its member, with its variables and files, until `ExecutorPool.release`.
  ``acquire()`` without a key lends a member for the ``async with`` only.
- **Reset.** A member given back is reset for its kind (see `parley.coding._pool_members`) and
  checked; one that fails is replaced, never lent out.
- **Backpressure.** With every member taken, ``acquire`` waits, first come first served, for at
  most ``acquire_timeout`` seconds, then raises `PoolExhaustedError` naming who holds them.
- **Health.** When a member fails while a key holds it, the key is told: the call raises
  `ExecutorError` saying all state was lost, `ExecutorPool.lost` turns True for the key, and the
  next result the key gets starts with a note saying so. The member is replaced in the
  background and the key gets a fresh one at its next call. A kernel that died is replaced by
  its executor itself, whose result says that state was lost; the pool marks the key lost too.

Keeping the members (building, warming, resetting, replacing and ending them) is
`parley.coding._pool_upkeep`'s job, slots `parley.coding._pool_slots`', artifacts
`parley.coding._pool_artifacts`'; this module lends them. The pool's state sits under a
`threading.Lock` that no await holds, so sync callers (each on their own loop, through
`parley._sync.run_sync`) and async ones can share a pool; a waiter waits on a future of its own
loop, which the member's giver resolves thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Hashable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from parley._logging import get_logger
from parley._sync import run_sync
from parley.coding._gate import Gate
from parley.coding._options import check_seconds
from parley.coding._pool_artifacts import ArtifactsMixin
from parley.coding._pool_config import check_count, check_factory, parse_config
from parley.coding._pool_lease import Lease, PooledExecutor, PoolStats, percentile, shown
from parley.coding._pool_members import (
    STATE_LOST_MARKER,
    Member,
    execute,
)
from parley.coding._pool_queue import Handover
from parley.coding._pool_slots import check_slot_options
from parley.coding._pool_upkeep import MemberUpkeep
from parley.coding.base import CodeBlock, CodeExecutor, CodeResult
from parley.exceptions import ConfigError, ExecutorError, PoolExhaustedError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ExecutorPool", "PoolStats", "PooledExecutor"]

_log = get_logger("parley.coding.pool")


class ExecutorPool(MemberUpkeep, ArtifactsMixin):
    """A fixed number of warm code executors, lent to keys (conversations) one member each.

    Constructing a pool does no I/O; `a_start` (or ``async with``, or `start`, or ``with``)
    builds and warms ``size`` members concurrently, and `a_close` ends them all. See the module
    docstring for affinity, reset, backpressure and health. `read_artifact`, `list_artifacts`
    and `archive_artifacts` collect what a key's code left in its slot, without running code.

    Each registered executor that works in a local directory (``"commandline-local"``/``"local"``,
    ``"docker"``, ``"ipython-embedded"``) gets its own ``work_dir``, ``<base_dir>/member-<n>``
    (for Docker, the host side of ``/workspace``), emptied on every reset. Other executors
    (``"jupyter"``, ``"pkg.module:Class"``, a callable) keep their own directories, which the pool
    never empties; their reset is `restart` plus a ``print(1)`` check.

    Args:
        executor: what to build each member from: a registered name (``"ipython-embedded"``,
            ``"local"``, ``"docker"`` ... see `parley.coding.factory.EXECUTOR_REGISTRY`), a
            ``"pkg.module:Class"`` string, or a zero-argument callable returning a new executor.
        size: the number of members. Default 4.
        slots_per_member: the slots each member serves (``"docker"`` only): each slot is lent
            like a member, with a working directory of its own in the member's container
            (``/workspace/slot-<k>``), and calls from different slots run at the same time (see
            `parley.coding._pool_slots`). ``size=4, slots_per_member=16`` serves 64 keys from 4
            containers. Default 1.
        options: keyword arguments for each member's executor (with a name or ``"module:Class"``
            only). Default none.
        acquire_timeout: seconds `acquire` waits for a member before raising
            `PoolExhaustedError`. Default 60.
        reset_timeout: seconds a member's reset and health check may take before it counts as
            failed and is replaced. Default 60.
        start_timeout: seconds a member may take to start and warm. Default 120.
        base_dir: where the members' working directories are made. Default: a new temporary
            directory, removed at `close` (or at interpreter exit). A given directory is kept;
            only the members' directories in it are removed.
        latency_window: how many of the latest acquires the latency percentiles cover. Default 1,024.

    Raises:
        ConfigError: ``executor`` is an unknown name (with "did you mean"), an executor instance
            or class instance rather than a factory, or not callable; ``size``,
            ``slots_per_member`` or ``latency_window`` is not a positive int, or
            ``slots_per_member`` is above 1 for an executor other than ``"docker"``; a timeout
            is not a positive finite number of seconds; ``options`` is given with a callable,
            is not a str-keyed mapping, or holds ``work_dir`` for an executor the pool gives a
            ``work_dir`` (use ``base_dir``).
    """

    def __init__(
        self,
        executor: str | Callable[[], CodeExecutor],
        size: int = 4,
        *,
        slots_per_member: int = 1,
        options: Mapping[str, Any] | None = None,
        acquire_timeout: float = 60,
        reset_timeout: float = 60,
        start_timeout: float = 120,
        base_dir: Path | str | None = None,
        latency_window: int = 1024,
    ) -> None:
        self._factory, self._canonical = check_factory(executor, options)
        self._options = dict(options or {})
        self._size = check_count("size", size)
        self._slots = check_count("slots_per_member", slots_per_member)
        if self._slots > 1 and self._canonical != "docker":
            raise ConfigError(
                f"slots_per_member applies to the 'docker' executor (slots share a container), not to {executor!r}; "
                "for more members of another executor raise size instead.",
                key="slots_per_member",
            )
        if self._slots > 1:
            check_slot_options(self._options)
        self._acquire_timeout = check_seconds("acquire_timeout", acquire_timeout)
        self._reset_timeout = check_seconds("reset_timeout", reset_timeout)
        self._start_timeout = check_seconds("start_timeout", start_timeout)
        if base_dir is not None and not isinstance(base_dir, (str, Path)):
            raise ConfigError(f"base_dir must be a str or Path, got {base_dir!r}.", key="base_dir")
        self._given_base = Path(base_dir) if base_dir is not None else None
        self._base: Path | None = None
        self._remove_base: weakref.finalize[[str], ExecutorPool] | None = None
        self._mutex = threading.Lock()
        self._start_gate = Gate()
        self._state = "new"  # new -> running -> closed
        self._members: set[Member] = set()
        self._queue = Handover(self._mutex, self._accepts)
        self._leases: dict[Hashable, Lease] = {}
        self._keyless: set[Lease] = set()
        self._tasks: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = set()
        self._numbers = itertools.count(1)
        self._hosts = itertools.count(1)
        self._latencies: deque[float] = deque(maxlen=check_count("latency_window", latency_window))
        self._acquires = self._resets = self._replacements = self._failures = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ExecutorPool:
        """Build a pool from a dict with ``code_execution_config``'s keys plus the pool's own.

        Example: ``{"executor": "local", "local": {"timeout": 30}, "size": 4}``. The executor's
        keyword arguments go under its name (or its alias, or its ``"module:Class"``); ``size``,
        ``acquire_timeout``, ``reset_timeout``, ``start_timeout`` and ``base_dir`` are the
        pool's arguments; ``last_n_messages`` and ``allowed_languages`` (the agent's) are ignored.

        Raises:
            ConfigError: ``config`` is not a mapping, lacks ``"executor"``, has an unknown key
                (with "did you mean"), or any argument is wrong (see the class).
        """
        factory, options, pool_args = parse_config(config)
        return cls(factory, options=options, **pool_args)

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The number of members the pool keeps."""
        return self._size

    def start(self) -> Awaitable[None]:
        """Warm the pool: ``await pool.start()`` in async code, plain ``pool.start()`` in sync code.

        With an event loop running in this thread it returns `a_start` 's coroutine, which must
        be awaited; without one it warms the pool before returning (and returns an awaitable that
        is already done). ``with pool:`` warms it in either case, inside a notebook's running
        loop too. See `a_start` for what happens and what is raised.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            run_sync(self.a_start())
            return _Done()
        return self.a_start()

    async def a_start(self) -> None:
        """Build and warm ``size`` members concurrently. Does nothing when already started.

        If any member fails to start, the others are ended before the error is raised.

        Raises:
            ExecutorError: the pool is closed; a member's working directory cannot be made; a
                member did not warm within ``start_timeout`` seconds.
            Exception: whatever building or starting a member raised (`ConfigError` for bad
                ``options``, `ExecutorUnavailableError` for a kernel or daemon that cannot start,
                `MissingDependencyError` ...).
        """
        async with self._start_gate:
            with self._mutex:
                if self._state == "closed":
                    raise ExecutorError("This ExecutorPool is closed; create a new one.")
                if self._state == "running":
                    return
            await asyncio.to_thread(self._make_base)
            members: list[Member] = []
            try:
                for _ in range(self._size):
                    host = self._new_host() if self._slots > 1 else None
                    members.extend(self._new_member(host) for _ in range(self._slots))
                outcomes = await asyncio.gather(*(self._warm(m) for m in members), return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
            except BaseException:
                await asyncio.gather(*(self._end(m) for m in members))
                await asyncio.to_thread(self._remove_dirs, members)
                raise
            with self._mutex:
                self._members.update(members)
                self._queue.idle.extend(members)
                self._state = "running"
            _log.info("pool of %d %s member(s) started", len(members), self._canonical)

    def close(self) -> None:
        """Sync form of `a_close` (works inside a running loop). Idempotent."""
        run_sync(self.a_close())

    async def a_close(self) -> None:
        """End every member (leased ones too), fail every waiter, and remove the pool's directories.

        Idempotent. Each member gets at most 30 s to end; a member that fails to end is logged.
        Waiting acquires raise `ExecutorError`, and leased executors refuse further runs.
        """
        with self._mutex:
            if self._state == "closed":
                return
            self._state = "closed"
            members = list(self._members)
            self._members.clear()
            self._queue.fail_all_locked(
                ExecutorError("The ExecutorPool was closed while this call waited for an executor.")
            )
            tasks = list(self._tasks)
        here = asyncio.get_running_loop()
        for loop, task in tasks:
            if loop is here:
                task.cancel()
            else:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
        await asyncio.gather(*(task for loop, task in tasks if loop is here), return_exceptions=True)
        await asyncio.gather(*(self._end(m) for m in members))
        await asyncio.to_thread(self._remove_dirs, members)

    async def __aenter__(self) -> Self:
        await self.a_start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.a_close()

    def __enter__(self) -> Self:
        run_sync(self.a_start())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- leasing ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def acquire(
        self, key: Hashable | None = None, *, timeout: float | None = None
    ) -> AsyncIterator[PooledExecutor]:
        """Lend a warm member: ``async with pool.acquire(key) as executor: ...``.

        With a ``key``, the key keeps its member after the ``async with`` ends, and every
        acquire with the same key gets the same member (variables and files persist) until
        `release`. Concurrent acquires of one key share its member. Without a key, the member is
        reset and given back when the ``async with`` ends.

        Args:
            key: any hashable naming the conversation; None for a one-off lease.
            timeout: seconds to wait for a member. Default: the pool's ``acquire_timeout``.

        Yields:
            A `PooledExecutor` running on the key's member.

        Raises:
            ExecutorError: the pool is not started, or is closed (also while waiting).
            PoolExhaustedError: no member became free within the timeout; the message names
                the pool's size and the keys holding members, and for how long.
            ConfigError: ``timeout`` is not a positive finite number of seconds.
        """
        lease = await self._open(key, timeout)
        try:
            yield PooledExecutor(self, lease)
        finally:
            await self._shielded(self._close_lease(lease))

    async def release(self, key: Hashable, reset: bool = True) -> None:
        """Give back the member ``key`` holds; the key's state is gone and `lost` is False again.

        Inside an open ``acquire`` of the same key, the member is given back when the last one
        ends. A key that holds nothing is ignored. Cancelling the caller does not stop the reset.

        Args:
            key: the key to release.
            reset: reset the member first (clear the namespace, empty the working directory,
                end kept background processes, check it runs). Without it the next key sees
                whatever this one left. Default True. A member whose reset fails is replaced.
        """
        with self._mutex:
            lease = self._leases.get(key)
            if lease is None:
                return
            if lease.opened:
                lease.release_reset = reset
                return
            member = self._detach(lease)
        if member is not None:
            await self._shielded(self._give_back(member, reset))

    def lost(self, key: Hashable) -> bool:
        """True when ``key``'s state was lost (its member failed, or its kernel died) since it acquired.

        It stays True until `release`; the key's next call runs on a fresh member.
        """
        with self._mutex:
            lease = self._leases.get(key)
            return lease is not None and lease.lost

    def stats(self) -> PoolStats:
        """A snapshot of the pool's counts and acquire latencies (see `PoolStats`)."""
        with self._mutex:
            leased = sum(1 for lease in (*self._leases.values(), *self._keyless) if lease.member is not None)
            idle = len(self._queue.idle)
            running = self._state == "running"
            latencies = sorted(self._latencies)
            return PoolStats(
                size=self._size,
                idle=idle,
                leased=leased,
                busy=self._size * self._slots - idle - leased if running else 0,
                waiting=self._queue.waiting_locked(),
                acquires=self._acquires,
                acquire_p50_ms=percentile(latencies, 50),
                acquire_p95_ms=percentile(latencies, 95),
                acquire_p99_ms=percentile(latencies, 99),
                resets=self._resets,
                replacements=self._replacements,
                failures=self._failures,
                slots_per_member=self._slots,
            )

    # --- inside: leases -----------------------------------------------------------------------------

    async def _open(self, key: Hashable | None, timeout: float | None) -> Lease:
        seconds = self._acquire_timeout if timeout is None else check_seconds("timeout", timeout)
        began = time.perf_counter()
        with self._mutex:
            self._check_running()
            if key is None:
                lease = Lease(None)
                self._keyless.add(lease)
            else:
                lease = self._leases.setdefault(key, Lease(key))
            lease.opened += 1
        try:
            await self._bind(lease, time.monotonic() + seconds)
        except BaseException:
            with self._mutex:
                lease.opened -= 1
                if not lease.opened and lease.member is None and not lease.lost:
                    self._forget(lease)
            raise
        with self._mutex:
            self._acquires += 1
            self._latencies.append((time.perf_counter() - began) * 1000)
        return lease

    async def _bind(self, lease: Lease, deadline: float) -> Member:
        """The lease's member, taking one from the pool (waiting until ``deadline``) if it has none."""
        member = lease.member
        if member is not None:
            return member
        began = time.monotonic()
        try:
            await asyncio.wait_for(lease.gate.__aenter__(), max(0.0, deadline - began))
        except asyncio.TimeoutError:
            raise self._exhausted(time.monotonic() - began) from None
        try:
            if lease.member is None:
                taken = await self._take(deadline, began)
                with self._mutex:
                    lease.member, lease.since = taken, time.monotonic()
            return lease.member
        finally:
            await lease.gate.__aexit__(None, None, None)

    async def _close_lease(self, lease: Lease) -> None:
        """An ``acquire`` ended: give a keyless lease back, or a key's whose release was asked for."""
        with self._mutex:
            lease.opened -= 1
            if lease.opened:
                return
            if lease.key is not None and lease.release_reset is None:
                return  # the key keeps its member until release()
            reset = True if lease.key is None else bool(lease.release_reset)
            member = self._detach(lease)
        if member is not None:
            await self._give_back(member, reset)

    def _detach(self, lease: Lease) -> Member | None:
        """Forget ``lease`` and return its member. Call with the mutex held."""
        self._forget(lease)
        member, lease.member = lease.member, None
        return member

    def _forget(self, lease: Lease) -> None:
        if lease.key is None:
            self._keyless.discard(lease)
        elif self._leases.get(lease.key) is lease:
            del self._leases[lease.key]

    # --- inside: members -----------------------------------------------------------------------------

    async def _take(self, deadline: float, began: float) -> Member:
        """An idle member, or the first given back, waiting first come first served until ``deadline``."""
        with self._mutex:
            self._check_running()
            got = self._queue.take_or_queue_locked(asyncio.get_running_loop())
        if isinstance(got, Member):
            return got
        member = await self._queue.wait(got, max(0.0, deadline - time.monotonic()))  # raises when closed
        if member is None:
            raise self._exhausted(time.monotonic() - began)
        return member

    # --- inside: running code for a lease -----------------------------------------------------------

    async def _execute(self, lease: Lease, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        with self._mutex:
            self._check_running()
        member = await self._bind(lease, time.monotonic() + self._acquire_timeout)
        lost_before = _containers_lost(member.executor)
        try:
            result = await execute(member.executor, code_blocks)
        except ExecutorError as exc:
            if isinstance(exc, PoolExhaustedError) or self._state == "closed":
                raise
            self._member_failed(lease, member, exc)
            raise ExecutorError(
                f"The pooled executor of {shown(lease.key)} failed ({exc}), so all its state was lost: "
                "variables, imports and files are gone. It is being replaced; the next call runs on a fresh "
                "executor, so run any setup code again."
            ) from exc
        with self._mutex:
            if STATE_LOST_MARKER in result.output or _containers_lost(member.executor) > lost_before:
                # The kernel died, or the container stopped: the executor started a fresh one, and
                # its result says what was lost.
                lease.lost = True
                self._failures += 1
                self._replacements += 1
            note, lease.note = lease.note, None
        return dataclasses.replace(result, output=note + result.output) if note else result

    def _member_failed(self, lease: Lease, member: Member, exc: BaseException) -> None:
        with self._mutex:
            self._failures += 1
            if lease.member is member:
                lease.member = None
                lease.lost = True
                lease.note = (
                    f"Note: the executor that held this conversation's state failed ({exc}) and was replaced. "
                    "All state was lost: variables, imports and files are gone; run any setup code again.\n"
                )
        self._replace(member, str(exc))

    # --- inside: helpers ----------------------------------------------------------------------------

    def _check_running(self) -> None:
        """Raise `ExecutorError` unless the pool runs. Call with the mutex held."""
        if self._state == "new":
            raise ExecutorError(
                "This ExecutorPool is not started: use 'async with pool', 'with pool', or 'await pool.start()' "
                "('pool.start()' in sync code)."
            )
        if self._state == "closed":
            raise ExecutorError("This ExecutorPool is closed; create a new one.")

    def _exhausted(self, waited: float) -> PoolExhaustedError:
        now = time.monotonic()
        with self._mutex:
            held = [
                (shown(lease.key), now - lease.since)
                for lease in (*self._leases.values(), *self._keyless)
                if lease.member is not None
            ]
            waiting = self._queue.waiting_locked()
        held.sort(key=lambda item: -item[1])
        return PoolExhaustedError(
            size=self._size * self._slots,
            waited=waited,
            holders=held,
            busy=max(0, self._size - len(self._queue.idle) - len(held)),
            waiting=waiting,
        )


def _containers_lost(executor: object) -> int:
    """How many times a Docker executor said its container was lost (0 for other executors)."""
    lost = getattr(executor, "containers_lost", 0)
    return lost if isinstance(lost, int) else 0


class _Done:
    """An awaitable with nothing left to do (what `ExecutorPool.start` returns in sync code); no warning if dropped."""

    def __await__(self) -> Generator[None, None, None]:
        yield from ()
