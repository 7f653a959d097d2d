"""Run one command in its own process group, under the reaper, with a timeout that kills the whole process tree.

`run_in_process_group` is the one place where parley starts a child process for code. It:

- runs the command under a reaper (`parley.coding._reaper`), a child subreaper forked for the
  run by a reaper server (`parley.coding._reaper_server`), so everything the command starts
  stays below it (double forks and ``setsid`` daemons included) and is ended when the command
  exits, unless ``keep_background`` keeps it until `ProcessRegistry.end_kept`;
- the reaper leads a fresh session and process group, shared by the command, that can be
  signalled as one;
- merges stdout and stderr into one pipe and hands the bytes to a callback as they arrive
  (never buffering the whole output), with stdin closed;
- on timeout escalates ``SIGINT`` (the program may clean up, Python prints where it was) →
  after ``grace`` seconds ``SIGTERM`` to the group → after ``grace`` more, `kill_tree`: every
  descendant is stopped, then killed, whatever its group or session;
- when the awaiting task is cancelled, or anything else goes wrong, kills the tree at once.

POSIX only (process groups and signals); orphans are caught on Linux (see `parley.coding._reaper`).
psutil is imported only when a tree must be killed, so the fast path costs nothing beyond the
processes themselves.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley.coding._reaper_server import WATCH_S, Launched, ReaperError, continue_if_stopped, launch, peer_closed

if TYPE_CHECKING:
    import psutil

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "ProcessRegistry",
    "ProcessResult",
    "ProcessStartError",
    "kill_tree",
    "run_in_process_group",
]

TIMEOUT_EXIT_CODE = 124
"""Exit code reported for a run that timed out; the one GNU ``timeout`` uses."""
_KILLED_EXIT_CODE = 137
"""Reported when the run's reaper itself was killed, so the command's own status is unknown."""

_CHUNK_BYTES = 64 * 1024
_ALL_LIVE: set[int] = set()  # every group started here and still running, for the atexit hook
_ALL_LIVE_LOCK = threading.Lock()


class ProcessStartError(OSError):
    """The program could not be started (not installed, not executable ...); ``__cause__`` says why."""


@dataclass(frozen=True)
class ProcessResult:
    """How a process ended.

    Attributes:
        exit_code: the process's exit status; ``128 + N`` when signal N ended it (the shell's
            convention); `TIMEOUT_EXIT_CODE` when it timed out; 137 when its reaper was killed.
        timed_out: True when the timeout fired and the tree was killed.
        reaper_killed: True when the run's reaper was killed (by the code it ran, as a rule), so
            the command's own status is unknown; the run's processes were killed.
        continued: the helper processes the run found stopped (SIGSTOP, by the code it ran, as a
            rule) and continued, so that the run could end: ``"supervisor"`` (the run's reaper),
            ``"server"`` (the process that forks the runs). Empty as a rule.
    """

    exit_code: int
    timed_out: bool
    reaper_killed: bool = False
    continued: tuple[str, ...] = ()


def _descendants(pid: int) -> set[psutil.Process]:
    import psutil

    try:
        return set(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return set()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_processes(processes: Iterable[psutil.Process]) -> None:
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()  # psutil checks the pid was not reused by another process


def _tree_alive(pgid: int, processes: Iterable[psutil.Process]) -> bool:
    """True while the group has members (even zombies) or a listed process runs (not a zombie).

    Group members are reaped promptly by asyncio or init; a listed descendant may have been
    reparented to an init that is slow to reap, so its zombie counts as ended.
    """
    import psutil

    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        pass
    except PermissionError:
        return True
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def _stop_processes(processes: Iterable[psutil.Process]) -> None:
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.suspend()  # SIGSTOP: a stopped process cannot fork any more


def _kill_now(pid: int, seen: Iterable[psutil.Process] = ()) -> set[psutil.Process]:
    """Stop, then SIGKILL, the group and every descendant (now and in ``seen``); return those descendants.

    Descendants are stopped first, pass after pass until no new one appears, so a process that
    forks while the tree is being killed cannot leave a child behind.
    """
    targets = set(seen)
    _signal_group(pid, signal.SIGSTOP)
    for _ in range(100):
        new = _descendants(pid) - targets
        if not new:
            break
        _stop_processes(new)
        targets |= new
    _signal_group(pid, signal.SIGKILL)
    _kill_processes(targets)
    return targets


def kill_tree(pid: int, *, wait: float = 0.0) -> None:
    """Stop, then ``SIGKILL``, the process group led by ``pid`` and every descendant of ``pid``.

    Safe to call from any thread and on a process that has already exited.

    Args:
        pid: the pid of a process started in its own session (so its pid is its group id).
        wait: seconds to wait (blocking) for the killed processes to be gone. A zombie left for
            its parent to reap counts as gone; after ``wait`` seconds this returns regardless.
    """
    _wait_gone(pid, _kill_now(pid), wait)


def _wait_gone(pid: int, killed: set[psutil.Process], wait: float) -> None:
    """Wait (blocking, at most ``wait`` seconds) until the group ``pid`` and ``killed`` are gone; see `kill_tree`."""
    deadline = time.monotonic() + wait
    while wait and _tree_alive(pid, killed) and time.monotonic() < deadline:
        time.sleep(0.005)


async def _await_tree_exit(pid: int, seen: Iterable[psutil.Process], seconds: float) -> None:
    """Wait (polling, at most ``seconds``) until the killed tree is gone; see `kill_tree`."""
    step = 0.005
    for _ in range(max(1, round(seconds / step))):
        if not _tree_alive(pid, seen):
            return
        await asyncio.sleep(step)


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - interpreter exit
    with _ALL_LIVE_LOCK:
        pids = list(_ALL_LIVE)
    for pid in pids:
        kill_tree(pid)


class ProcessRegistry:
    """The process groups one executor is running, so its ``close()`` can kill them.

    Thread-safe: ``close()`` may run in another thread than the event loop that runs the code.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()
        self._kept: dict[int, socket.socket] = {}  # keeper pid -> our end of its control socket

    def add(self, pid: int) -> None:
        """Record a running group leader."""
        with self._lock:
            self._pids.add(pid)
        with _ALL_LIVE_LOCK:
            _ALL_LIVE.add(pid)

    def discard(self, pid: int) -> None:
        """Forget a group leader that has ended.

        Waits for a `kill_all` that has it in hand: once forgotten, its group may serve another run.
        """
        with self._lock:
            self._pids.discard(pid)
        with _ALL_LIVE_LOCK:
            _ALL_LIVE.discard(pid)

    def keep(self, keeper: int, control: socket.socket) -> None:
        """Record the keeper of a run's background processes (see `parley.coding._reaper`)."""
        with self._lock:
            self._kept[keeper] = control
        with _ALL_LIVE_LOCK:
            _ALL_LIVE.add(keeper)

    def end_kept(self, *, wait: float = 1.0) -> None:
        """End every kept background process: close each keeper's socket, then kill its tree.

        Waits up to ``wait`` seconds per keeper for its processes to be gone; see `kill_tree`.
        """
        with self._lock:
            kept, self._kept = self._kept, {}
        for keeper, control in kept.items():
            ended = peer_closed(control)  # then its pid may be another process's by now: leave it
            control.close()  # the keeper ends its processes at end of file; the kill makes sure
            if not ended:
                kill_tree(keeper, wait=wait)
            with _ALL_LIVE_LOCK:
                _ALL_LIVE.discard(keeper)

    def kill_all(self, *, wait: float = 1.0) -> None:
        """Kill every recorded process tree, kept background processes included.

        Waits up to ``wait`` seconds for each tree to be gone; see `kill_tree`.
        """
        with self._lock:  # a run that ends meanwhile is forgotten after these kills (see `discard`), not before
            killed = [(pid, _kill_now(pid)) for pid in self._pids]
        for pid, processes in killed:
            _wait_gone(pid, processes, wait)
        self.end_kept(wait=wait)


async def _pump(stream: asyncio.StreamReader, on_output: Callable[[bytes], None]) -> None:
    while chunk := await stream.read(_CHUNK_BYTES):
        on_output(chunk)


async def _exit_status(status: asyncio.StreamReader) -> int | None:
    """The run's exit code from its reaper's ``exit <code>`` line; None when the reaper ended without one.

    A reaper of the warm templates keeps the status pipe open after that line until this side
    closes it (`parley.coding._warm_reapers`): the line is the last one.
    """
    while line := await status.readline():
        words = line.split()
        if len(words) == 2 and words[0] == b"exit":
            return int(words[1])
    return None


async def _ended_within(ended: asyncio.Future[Any], seconds: float) -> bool:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(ended), seconds)
    return ended.done()


def _over(run: Launched, ended: asyncio.Future[Any]) -> bool:
    """True when the run's reaper has reported its exit and keeps nothing: nothing of the run is left.

    There is then nothing left to kill (a cancel that comes this late). A reaper of the warm
    templates serves one run after another (`parley.coding._warm_reapers`), but takes the next
    only once this side has closed the run's status pipe, so a late signal never reaches another
    run. A keeper (``keep_background``) reports as soon as the command exits, and keeps the rest:
    not over.
    """
    return (
        run.control is None
        and ended.done()
        and not ended.cancelled()
        and ended.exception() is None
        and ended.result() is not None
    )


async def _escalate(
    pid: int, ended: asyncio.Future[Any], grace: float, on_kill: Callable[[], None] | None = None
) -> None:
    """Interrupt, then terminate, then kill the tree of the run led by ``pid``; see the module docstring.

    A reaper that serves one run after another (`parley.coding._warm_reapers`) takes the signals
    to its group as its own end, and takes no next run while this side holds the run's status
    pipe: so neither these signals nor this kill can reach another run, even when the run ended
    just as its timeout fired.
    """
    seen = _descendants(pid)
    for sig in (signal.SIGINT, signal.SIGTERM):
        _signal_group(pid, sig)
        if await _ended_within(ended, grace):
            break
        seen |= _descendants(pid)
    killed = _kill_now(pid, seen)
    if on_kill is not None:
        on_kill()
    await _await_tree_exit(pid, killed, grace)


async def _settle(tasks: Sequence[asyncio.Future[Any]], seconds: float) -> None:
    """Give the tasks ``seconds`` to finish, cancel the rest, and wait for them."""
    pending = [t for t in tasks if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_in_process_group(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    timeout: float,
    on_output: Callable[[bytes], None],
    registry: ProcessRegistry | None = None,
    grace: float = 0.5,
    keep_background: bool = False,
    fork: bool = False,
) -> ProcessResult:
    """Run ``argv`` under a reaper in a new process group and wait for it, killing its tree on timeout.

    The run ends when the command has exited and everything it started is gone (or, with
    ``keep_background``, kept), and its output pipe is closed.

    Args:
        argv: the program and its arguments. A program without a ``/`` is looked up on the
            ``PATH`` of ``env``.
        cwd: the working directory.
        env: the environment, or None to inherit this process's environment.
        timeout: seconds the run may take before the tree is killed.
        on_output: called with each chunk of merged stdout and stderr, in order, as it arrives.
        registry: records the running group, so an executor's ``close()`` can kill it, and the
            kept background processes, so its ``restart()`` and ``close()`` can end them.
        grace: seconds between the escalating signals after a timeout.
        keep_background: let processes the command leaves running in the background live on,
            until ``registry.end_kept()`` (or ``kill_all()``) ends them; their output after the
            command exits is discarded. Default False: they are ended when the command exits.
        fork: ``argv`` is ``[python, FILE]``: run it in a fork of a warm interpreter, with the
            semantics of a fresh one (see `parley.coding._warm_python`), falling back to a plain
            process when that interpreter cannot serve. Default False.

    Returns:
        The exit code and whether the run timed out. After a timeout the output pipe is read
        for at most ``grace`` more seconds.

    Raises:
        ProcessStartError: the program could not be found, or the reaper could not start the run.
        asyncio.CancelledError: the awaiting task was cancelled; the tree was killed first.
        Exception: whatever ``on_output`` raised; the tree was killed first.
    """
    _check_program(argv[0], env)
    tracker = registry if registry is not None else ProcessRegistry()
    try:
        run = await launch(argv, cwd=cwd, env=env, keep=keep_background, fork=fork)
    except ReaperError as exc:
        raise ProcessStartError(exc.errno or 0, f"cannot start {argv[0]!r}: {exc.strerror or exc}") from exc
    tracker.add(run.pid)
    try:
        result = await _wait_for(run, timeout, on_output, grace)
    except BaseException:
        if run.control is not None:
            run.control.close()
        raise
    finally:
        tracker.discard(run.pid)
        run.close()
    if run.control is not None:
        _hand_over(run.pid, run.control, tracker, result)
    return result


def _check_program(program: str, env: Mapping[str, str] | None) -> None:
    """Raise `ProcessStartError` when ``program`` cannot be found, before a reaper is started."""
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    if os.sep not in program:
        if shutil.which(program, path=path) is None:
            cause: OSError = FileNotFoundError(errno.ENOENT, f"{os.strerror(errno.ENOENT)} on PATH", program)
            raise ProcessStartError(cause.errno, f"cannot start {program!r}: {cause.strerror}") from cause
        return
    if not os.path.exists(program):
        cause = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    elif os.path.isdir(program) or not os.access(program, os.X_OK):
        cause = PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    else:
        return
    raise ProcessStartError(cause.errno, f"cannot start {program!r}: {cause.strerror}") from cause


def _hand_over(pid: int, control: socket.socket, registry: ProcessRegistry, result: ProcessResult) -> None:
    """Record the reaper of a finished run as a keeper, unless it has already ended (nothing to keep)."""
    if result.timed_out or peer_closed(control):
        control.close()
        return
    registry.keep(pid, control)


class _Helpers:
    """The helper processes a run depends on, continued whenever found stopped; remembers which were.

    A block runs as the same user as its reaper and the server that forked it, so it may stop them
    (SIGSTOP): a stopped reaper never reports the block's end, and a stopped server never reaps a
    killed reaper. The wait for a run checks them every `WATCH_S` seconds, and the kill paths
    continue them before they wait for the tree to be gone.
    """

    def __init__(self, run: Launched) -> None:
        self._run = run
        self.continued: list[str] = []

    def check(self) -> None:
        """Continue the run's reaper and its server if a block stopped them."""
        for name, pid, parent in (("supervisor", self._run.pid, self._run.server), ("server", self._run.server, None)):
            if continue_if_stopped(pid, parent) and name not in self.continued:
                self.continued.append(name)

    def kill(self) -> set[psutil.Process]:
        """Stop, then kill, the run's tree (see `_kill_now`); continue its server, which reaps the reaper."""
        killed = _kill_now(self._run.pid)
        self.check()
        return killed

    def result(self, exit_code: int, timed_out: bool, reaper_killed: bool = False) -> ProcessResult:
        return ProcessResult(exit_code, timed_out, reaper_killed, tuple(self.continued))


async def _wait_for(run: Launched, timeout: float, on_output: Callable[[bytes], None], grace: float) -> ProcessResult:
    pump = asyncio.ensure_future(_pump(run.output, on_output))
    ended = asyncio.ensure_future(_exit_status(run.status))
    helpers = _Helpers(run)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending: set[asyncio.Future[Any]] = {pump, ended}
    try:
        while pending:
            left = deadline - loop.time()
            done, pending = await asyncio.wait(
                pending, timeout=max(0.0, min(left, WATCH_S)), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                if left <= WATCH_S:
                    break  # the timeout
                helpers.check()  # a stopped reaper would hold the run until its timeout
                continue
            if pump in done:
                pump.result()  # re-raises what on_output raised
            if ended in done and ended.result() is None and not pump.done():
                # The reaper was killed: nothing will end the run but us. What it orphaned went
                # to the server, which ends it; the rest is in the run's process group.
                await _await_tree_exit(run.pid, helpers.kill(), grace)
                await _settle((pump,), grace)
                return helpers.result(_KILLED_EXIT_CODE, False, reaper_killed=True)
        if pending:
            helpers.check()  # a stopped reaper cannot end the tree; a stopped server cannot reap it
            await _escalate(run.pid, ended, grace, helpers.check)
            await _settle((pump, ended), grace)
            return helpers.result(TIMEOUT_EXIT_CODE, True)
    except BaseException:
        if not _over(run, ended):
            killed = helpers.kill()  # synchronously: the loop may be shutting down
            await asyncio.shield(_await_tree_exit(run.pid, killed, grace))
        await asyncio.shield(_settle((pump, ended), grace))
        raise
    code = ended.result()
    if code is None:
        return helpers.result(_KILLED_EXIT_CODE, False, reaper_killed=True)
    return helpers.result(code, False)
