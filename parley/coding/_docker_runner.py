"""The host's side of the persistent runner (`parley.coding._runner`): start it, speak to it, run blocks on it.

A ``docker exec`` costs about 65 ms here; a block sent to a runner that is already running in the
container costs a fork there and a few frames over a stream that is already open. `RunnerCache`
keeps one `Runner` per container (shared by an executor and its slots), started at the first
block with a single attached ``docker exec`` of ``python3 -I -S`` (no network needed: it speaks
over that exec's stdin and stdout). An image without ``python3`` (or with one older than 3.9)
cannot start it; the executor then keeps running each block with its own ``docker exec``.

`run_on_runner` runs one block with the semantics of the plain path
(`parley.coding._docker_run.run_in_container`): output fed to the budget as it arrives, a
timeout or a cancel kills the block's whole process tree (in the runner: per run, so other runs
in the container go on), the same exit codes. When the runner does not answer a kill within
`DAEMON_DEADLINE_S`, the container-wide kill of the plain path takes over and the runner is
given up. A runner that dies (the code killed it, the container stopped) fails its runs with
`RunnerLostError`; the next block starts a fresh one, after ending whatever the dead one left.

A reader thread per runner reads its stream and hands each frame to the event loop of the call
waiting for it (calls come from many loops: each sync call runs its own), so nothing blocks a
loop; requests are written without blocking (a stalled daemon's backlog goes to a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._docker import Container, ContainerGoneError, DaemonSilentError
from parley.coding._docker_run import DAEMON_DEADLINE_S, RunOutcome, ask
from parley.coding._output import OutputBudget
from parley.coding._process import TIMEOUT_EXIT_CODE
from parley.exceptions import ExecutorError

__all__ = [
    "Runner",
    "RunnerCache",
    "RunnerLostError",
    "RunnerUnavailableError",
    "drop_kept",
    "get_runner",
    "run_on_runner",
]

_log = get_logger("parley.coding.docker")

_READY_S = 30.0
"""Seconds a runner may take to start and say it is ready (an interpreter start and a compile)."""
_STDERR_KEEP = 2000  # characters of the runner's own stderr kept to explain its death
_SOURCES = tuple(
    Path(__file__).with_name(name).read_bytes()
    for name in ("_reaper.py", "_warm_python.py", "_runner_guard.py", "_runner.py")
)
_BOOT = (
    "import os,sys\n"
    "if sys.version_info<(3,9):raise SystemExit('the runner needs Python 3.9 or later')\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c:raise SystemExit(3)\n"
    "  b+=c\n"
    " return b\n"
    "def m(n,k):\n"
    " s=r(int(k));o=sys.modules[n]=type(sys)(n);o.__file__='/'+n+'.py';o.__parley_source__=s\n"
    " exec(compile(s,n+'.py','exec'),o.__dict__)\n"
    "m('_reaper',sys.argv[2]);m('_warm_python',sys.argv[3]);m('_runner_guard',sys.argv[4])\n"
    "exec(compile(r(int(sys.argv[5])),'_runner.py','exec'),{'__name__':'__parley_runner__'})\n"
)
"""Reads the four sources from stdin (exactly their lengths, so nothing of the requests is taken), makes the
first three modules (keeping their sources: the runner sends the first two on to its templates) and runs the last."""


class RunnerLostError(ExecutorError):
    """The runner died (or its stream broke) before the run ended.

    Attributes:
        started: whether the runner had started the run (if not, nothing of it ran).
    """

    def __init__(self, message: str, *, started: bool) -> None:
        super().__init__(message)
        self.started = started


class RunnerUnavailableError(ExecutorError):
    """The image cannot run the runner (no ``python3``, or one older than 3.9)."""


class _Pending:
    """A request waiting for the runner's frames; its callbacks run on ``loop``."""

    __slots__ = ("done", "feed", "loop", "started")

    def __init__(self, loop: asyncio.AbstractEventLoop, feed: Callable[[bytes], None] | None) -> None:
        self.loop = loop
        self.feed = feed
        self.done: asyncio.Future[tuple[int, str]] = loop.create_future()
        self.started = False


def _resolve(future: asyncio.Future[tuple[int, str]], value: tuple[int, str] | BaseException) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
        future.exception()  # nobody may be waiting any more (a cancelled call)
    else:
        future.set_result(value)


class _Frames:
    """Decodes the exec's stream: Docker's multiplexed frames, then the runner's own (see `parley.coding._runner`)."""

    def __init__(self) -> None:
        self._docker = bytearray()
        self._out = bytearray()
        self.stderr = ""

    def feed(self, data: bytes) -> list[tuple[int, bytes, bytes]]:
        self._docker += data
        while len(self._docker) >= 8:
            size = int.from_bytes(self._docker[4:8], "big")
            if len(self._docker) < 8 + size:
                break
            stream, payload = self._docker[0], bytes(self._docker[8 : 8 + size])
            del self._docker[: 8 + size]
            if stream == 2:
                self.stderr = (self.stderr + payload.decode(errors="replace"))[-_STDERR_KEEP:]
            else:
                self._out += payload
        frames = []
        while len(self._out) >= 9:
            size = int.from_bytes(self._out[5:9], "big")
            if len(self._out) < 9 + size:
                break
            frames.append((int.from_bytes(self._out[:4], "big"), bytes(self._out[4:5]), bytes(self._out[9 : 9 + size])))
            del self._out[: 9 + size]
        return frames


class Runner:
    """One runner in one container: its stream, its reader thread and the requests in flight. Thread-safe."""

    def __init__(self, container_id: str, stream: Any, frames: _Frames, pid: int) -> None:
        self.container_id = container_id
        self.pid = pid
        """The runner's pid inside the container."""
        self._stream = stream  # docker-py's object: keeps the HTTP response (and the connection) alive
        self._sock: socket.socket = getattr(stream, "_sock", stream)
        self._frames = frames
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._backlog: deque[bytes] = deque()
        self._flushing = False
        self._dead: str | None = None
        self.replaced = False
        """True when parley ended it to start a fresh one (a block had changed what it passes on), not the code."""
        threading.Thread(target=self._read, name="parley-docker-runner", daemon=True).start()

    @classmethod
    def start(cls, container: Container, *, user: str, env: Mapping[str, str]) -> Runner:
        """Start a runner in ``container`` as ``user`` and wait until it is ready (blocking; at most 30 s).

        Raises:
            RunnerUnavailableError: the runner did not start (no python3 in the image ...).
            ContainerGoneError: the container is not running.
            ExecutorError: the daemon refused the exec.
            ExecutorUnavailableError: the daemon did not answer.
        """
        argv = ["python3", "-I", "-S", "-c", _BOOT, "parley-runner", *(str(len(source)) for source in _SOURCES)]
        stream = container.attach(argv, env=env, user=user)
        sock: socket.socket = getattr(stream, "_sock", stream)
        frames = _Frames()
        try:
            sock.settimeout(_READY_S)
            sock.sendall(b"".join(_SOURCES))
            while True:
                data = sock.recv(65536)
                if not data:
                    why = frames.stderr.strip() or "it ended at once"
                    raise RunnerUnavailableError(f"the runner did not start: {why[-500:]}")
                ready = frames.feed(data)
                if ready:
                    if ready[0][1] != b"r" or len(ready) > 1:
                        raise RunnerUnavailableError(f"the runner started wrongly: {ready[0]!r:.200}")
                    break
            sock.settimeout(None)
        except OSError as exc:
            with contextlib.suppress(OSError):
                stream.close()
            raise RunnerUnavailableError(f"the runner did not start: {exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                stream.close()
            raise
        return cls(container.id, stream, frames, int(ready[0][2]))

    @property
    def alive(self) -> bool:
        """False once its stream ended or it was closed."""
        return self._dead is None

    @property
    def why_dead(self) -> str:
        """Why the runner is gone (empty while it lives)."""
        return self._dead or ""

    # --- requests -----------------------------------------------------------------------------------

    def request(self, message: dict[str, Any], feed: Callable[[bytes], None] | None = None) -> _Pending:
        """Send ``message`` with a fresh ``id``; the returned request's ``done`` resolves with the answer.

        Raises:
            RunnerLostError: the runner is gone (nothing was sent).
        """
        pending = _Pending(asyncio.get_running_loop(), feed)
        with self._lock:
            if self._dead is not None:
                raise RunnerLostError(self._dead, started=False)
            run_id = next(self._ids)
            self._pending[run_id] = pending
        self._send({**message, "id": run_id})
        return pending

    def kill(self, pending: _Pending) -> None:
        """Ask the runner to kill ``pending``'s run now. Never raises."""
        with self._lock:
            run_id = next((key for key, value in self._pending.items() if value is pending), None)
        if run_id is not None:
            with contextlib.suppress(RunnerLostError):
                self._send({"op": "kill", "id": run_id})

    def _send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._dead is not None:
                raise RunnerLostError(self._dead, started=False)
            if not self._flushing:
                try:
                    sent = self._sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    raise RunnerLostError(f"the stream to the runner broke ({exc})", started=False) from exc
                if sent == len(data):
                    return
                data = data[sent:]
                self._flushing = True
                threading.Thread(target=self._flush, name="parley-docker-runner-send", daemon=True).start()
            self._backlog.append(data)

    def _flush(self) -> None:
        """Send the backlog with blocking writes (the daemon stalled); `close` ends a write that never returns."""
        while True:
            with self._lock:
                if not self._backlog or self._dead is not None:
                    self._flushing = False
                    return
                data = self._backlog.popleft()
            try:
                self._sock.sendall(data)
            except OSError:
                with self._lock:
                    self._flushing = False
                return

    # --- answers ------------------------------------------------------------------------------------

    def _read(self) -> None:
        why = "its stream ended"
        while True:
            try:
                data = self._sock.recv(262144)
            except TimeoutError:
                continue
            except OSError as exc:
                why = f"its stream broke ({exc})"
                break
            if not data:
                break
            self._dispatch(self._frames.feed(data))
        stderr = self._frames.stderr.strip()
        self._die(f"the runner in the container ended ({why}{'; it said: ' + stderr[-300:] if stderr else ''})")

    def _dispatch(self, frames: list[tuple[int, bytes, bytes]]) -> None:
        calls: dict[asyncio.AbstractEventLoop, list[Callable[[], None]]] = {}
        with self._lock:
            for run_id, kind, payload in frames:
                pending = self._pending.get(run_id)
                if pending is None:
                    continue
                if kind == b"s":
                    pending.started = True
                elif kind == b"o" and pending.feed is not None:
                    calls.setdefault(pending.loop, []).append(_call(pending.feed, payload))
                elif kind in (b"x", b"d"):
                    del self._pending[run_id]
                    code, _, how = payload.decode().partition(" ")
                    answer = (int(code or 0), how or "done")
                    calls.setdefault(pending.loop, []).append(_call(_resolve, pending.done, answer))
        for loop, batch in calls.items():
            with contextlib.suppress(RuntimeError):  # that loop was closed: nobody waits there any more
                loop.call_soon_threadsafe(_run_all, batch)

    def _die(self, why: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = why
            pending, self._pending = self._pending, {}
            self._backlog.clear()
        for item in pending.values():
            error = RunnerLostError(self._dead or why, started=item.started)
            with contextlib.suppress(RuntimeError):
                item.loop.call_soon_threadsafe(_resolve, item.done, error)

    def close(self, why: str = "the runner was closed") -> None:
        """End the stream: the runner then ends every run and kept process, and exits. Idempotent, never raises.

        Args:
            why: what `why_dead` says, and the runs still waiting fail with.
        """
        self._die(why)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._stream.close()


def _call(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: fn(*args)


def _run_all(batch: list[Callable[[], None]]) -> None:
    for call in batch:
        call()


class RunnerCache:
    """At most one live runner per executor family (an executor and its slots), for its current container.

    Thread-safe. `start` blocks (daemon calls); call it from a worker thread.

    Args:
        enabled: False to never start a runner (every block then gets its own ``docker exec``).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._runner: Runner | None = None
        self._unable: set[str] = set()  # containers whose image cannot run the runner
        self._died_in: set[str] = set()  # containers where a runner died: end what it left first

    def current(self, container: Container) -> Runner | None:
        """The live runner of ``container``, if there is one (no daemon call)."""
        runner = self._runner
        return runner if runner is not None and runner.alive and runner.container_id == container.id else None

    def cannot_run(self, container: Container) -> bool:
        """True when no runner will serve ``container``: they are turned off, or its image cannot run one."""
        return not self.enabled or container.id in self._unable

    def start(self, container: Container, *, user: str, env: Mapping[str, str]) -> Runner | None:
        """The live runner of ``container``, started if needed; None when the image cannot run one.

        A runner that died in this container may have left processes behind (when the code killed
        it and its own reaper): every process of ``user`` in the container is killed first.

        Raises:
            ContainerGoneError: the container is not running.
            ExecutorError, ExecutorUnavailableError: the daemon refused or did not answer.
        """
        with self._lock:
            runner = self.current(container)
            if runner is not None or not self.enabled or container.id in self._unable:
                return runner
            old, self._runner = self._runner, None
            if old is not None:
                old.close()
                if old.container_id == container.id:
                    self._died_in.add(container.id)
            if container.id in self._died_in:
                container.kill_all(user)
                self._died_in.discard(container.id)
            try:
                self._runner = Runner.start(container, user=user, env=env)
            except RunnerUnavailableError as exc:
                status = container.status()
                if not status.running:
                    raise ContainerGoneError(f"the container is not running ({status.detail})") from exc
                self._unable.add(container.id)
                _log.info("no persistent runner in this container, one docker exec per block instead: %s", exc)
                return None
            return self._runner

    def close(self) -> None:
        """Close the runner (its container's processes that it ran end with it). Idempotent."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()


async def get_runner(cache: RunnerCache, container: Container, *, user: str, env: Mapping[str, str]) -> Runner | None:
    """The container's live runner, started in a worker thread if needed; None for the plain path.

    A daemon that does not answer in time gives None too: the plain path then deals with it.

    Raises:
        ContainerGoneError: the container is not running.
    """
    runner = cache.current(container)
    if runner is not None or not cache.enabled:
        return runner
    try:
        return await ask(cache.start, container, user=user, env=env, deadline=_READY_S + DAEMON_DEADLINE_S)
    except ContainerGoneError:
        raise
    except ExecutorError as exc:  # the daemon is slow or refuses: the plain path reports it its way
        if not isinstance(exc, DaemonSilentError):
            _log.info("the persistent runner could not start: %s", exc)
        return None


async def run_on_runner(
    runner: Runner,
    container: Container,
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    user: str,
    timeout: float,
    budget: OutputBudget,
    keep_background: bool = False,
    tag: str | None = None,
    fork: bool = False,
) -> RunOutcome:
    """Run ``argv`` on ``runner`` in ``cwd``, feeding its merged output to ``budget``.

    Args:
        runner: the container's live runner.
        container: its container (for the container-wide kill when the runner does not answer).
        argv: the command and its arguments.
        cwd: the working directory in the container.
        env: environment variables for the command (over the container's).
        user: the user the runs go as (for that container-wide kill).
        timeout: seconds the run may take before its process tree is killed.
        budget: receives the output, on the event loop's thread.
        keep_background: keep the background processes it starts until they are dropped (by
            ``tag``) or the runner ends; a timeout still kills the run's own.
        tag: the tag its kept processes are dropped by.
        fork: ``argv`` is ``[python3, FILE]``: run it from a warm interpreter (a fork of one that has
            started already; see `parley.coding._runner`) when one can serve it, else as given.

    Returns:
        How the run ended; ``runner_lost`` when the runner died during it or had to be given up.

    Raises:
        RunnerLostError: the runner died before it started the run, or refused it because a
            block had changed the limits, priority or CPU affinity it passes on (nothing ran; the
            caller may start a fresh runner and run it again), or it died during a run that did
            not time out.
        OSError: ``budget`` could not write its spill file (the run was killed first).
        asyncio.CancelledError: the awaiting task was cancelled; the kill was sent first.
    """
    errors: list[OSError] = []
    accepting = True

    def feed(chunk: bytes) -> None:
        if accepting and not errors:
            try:
                budget.feed_bytes(chunk)
            except OSError as exc:
                errors.append(exc)

    message = {
        "op": "run",
        "argv": list(argv),
        "cwd": cwd,
        "env": dict(env),
        "keep": keep_background,
        "tag": tag,
        "fork": fork,
    }
    pending = runner.request(message, feed)
    done = pending.done
    try:
        await asyncio.wait((done,), timeout=timeout)
        if not done.done() or errors:
            timed_out = not done.done()
            runner.kill(pending)
            await asyncio.wait((done,), timeout=DAEMON_DEADLINE_S)
            if not done.done():  # the runner does not answer: end everything the plain way
                return await _kill_everything(runner, container, user, errors)
            if errors:
                raise errors[0]
            if timed_out:
                lost = done.exception() is not None
                return RunOutcome(TIMEOUT_EXIT_CODE, True, False, runner_lost=lost)
    except BaseException:
        if not done.done():  # cancelled: end the run before the caller goes on, as a timeout does
            runner.kill(pending)
            await asyncio.shield(_await_kill(runner, container, user, done))
        raise
    finally:
        accepting = False
    code, how = done.result()  # raises RunnerLostError when the runner died
    if how.startswith("tainted"):  # a block changed what every fork inherits; nothing ran: a fresh runner runs it
        why = (
            f"the runner was replaced: a block had changed {how.removeprefix('tainted').strip()}, which every later "
            "block would have inherited"
        )
        runner.replaced = True
        runner.close(why)
        raise RunnerLostError(why, started=False)
    if how == "killed":  # a kill we did not ask for in this call cannot happen; count it as a timeout
        return RunOutcome(TIMEOUT_EXIT_CODE, True, False)
    return RunOutcome(code, False, code > 128, reaper_lost=how == "lost")


async def _await_kill(runner: Runner, container: Container, user: str, done: asyncio.Future[Any]) -> None:
    """Wait at most `DAEMON_DEADLINE_S` for the runner to confirm a kill; else end everything the plain way.

    A block may have stopped (SIGSTOP) the runner: a kill it never reads would leave the run going.
    """
    await asyncio.wait((done,), timeout=DAEMON_DEADLINE_S)
    if not done.done():
        with contextlib.suppress(Exception):
            await _kill_everything(runner, container, user, [])


async def _kill_everything(runner: Runner, container: Container, user: str, errors: list[OSError]) -> RunOutcome:
    """The runner did not answer a kill: give it up and kill every process in the container through the daemon."""
    runner.close()
    try:
        killed: bool | None = await ask(container.kill_all, user)
    except DaemonSilentError:
        killed = None
    if errors:
        raise errors[0]
    return RunOutcome(
        TIMEOUT_EXIT_CODE, True, False, escaped=killed is False, daemon_silent=killed is None, runner_lost=True
    )


async def drop_kept(runner: Runner, tag: str | None) -> None:
    """End the background processes kept by runs tagged ``tag`` (None: all), waiting at most `DAEMON_DEADLINE_S`.

    Raises:
        RunnerLostError: the runner is gone (and its kept processes with it).
        DaemonSilentError: no answer in time.
    """
    pending = runner.request({"op": "drop", "tag": tag})
    await asyncio.wait((pending.done,), timeout=DAEMON_DEADLINE_S)
    if not pending.done.done():
        raise DaemonSilentError(f"The runner did not answer within {DAEMON_DEADLINE_S:g} s.")
    pending.done.result()
