"""Run one command in its own process group, under the reaper, with a timeout that kills the whole process tree.

`run_in_process_group` is the one place where parley starts a child process for code. It:

- runs the command under `parley.coding._reaper`, a child subreaper, so everything the command
  starts stays below it (double forks and ``setsid`` daemons included) and is ended when the
  command exits, unless ``keep_background`` keeps it until `ProcessRegistry.end_kept`;
- starts it with ``start_new_session=True``, so the command shares a fresh process group (and
  session) that can be signalled as one;
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

from parley.coding._reaper import reaper_argv

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
            convention); `TIMEOUT_EXIT_CODE` when it timed out.
        timed_out: True when the timeout fired and the tree was killed.
    """

    exit_code: int
    timed_out: bool


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
    killed = _kill_now(pid)
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
        """Forget a group leader that has ended."""
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
            control.close()  # the keeper ends its processes at end of file; the kill makes sure
            kill_tree(keeper, wait=wait)
            with _ALL_LIVE_LOCK:
                _ALL_LIVE.discard(keeper)

    def kill_all(self, *, wait: float = 1.0) -> None:
        """Kill every recorded process tree, kept background processes included.

        Waits up to ``wait`` seconds for each tree to be gone; see `kill_tree`.
        """
        with self._lock:
            pids = list(self._pids)
        for pid in pids:
            kill_tree(pid, wait=wait)
        self.end_kept(wait=wait)


async def _pump(stream: asyncio.StreamReader, on_output: Callable[[bytes], None]) -> None:
    while chunk := await stream.read(_CHUNK_BYTES):
        on_output(chunk)


async def _exited_within(proc: asyncio.subprocess.Process, seconds: float) -> bool:
    # Process.wait() also waits for the pipes to close, which a descendant may hold open, so
    # poll the exit status instead. This runs only after a timeout, never on the fast path.
    step = 0.01
    for _ in range(max(1, round(seconds / step))):
        if proc.returncode is not None:
            return True
        await asyncio.sleep(step)
    return proc.returncode is not None


async def _escalate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """Interrupt, then terminate, then kill the tree of ``proc``; see the module docstring."""
    seen = _descendants(proc.pid)
    for sig in (signal.SIGINT, signal.SIGTERM):
        _signal_group(proc.pid, sig)
        if await _exited_within(proc, grace):
            break
        seen |= _descendants(proc.pid)
    await _await_tree_exit(proc.pid, _kill_now(proc.pid, seen), grace)


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
) -> ProcessResult:
    """Run ``argv`` under the reaper in a new process group and wait for it, killing its tree on timeout.

    The run ends when the command has exited and everything it started is gone (or, with
    ``keep_background``, handed to a keeper), and its output pipe is closed.

    Args:
        argv: the program and its arguments. A program without a ``/`` is looked up on the
            ``PATH`` of ``env``.
        cwd: the working directory.
        env: the environment, or None to inherit this process's environment.
        timeout: seconds the run may take before the tree is killed.
        on_output: called with each chunk of merged stdout and stderr, in order, as it arrives.
        registry: records the running group, so an executor's ``close()`` can kill it, and the
            keepers of kept background processes. Required with ``keep_background``.
        grace: seconds between the escalating signals after a timeout.
        keep_background: let processes the command leaves running in the background live on,
            until ``registry.end_kept()`` (or ``kill_all()``) ends them; their output after the
            command exits is discarded. Default False: they are ended when the command exits.

    Returns:
        The exit code and whether the run timed out. After a timeout the output pipe is read
        for at most ``grace`` more seconds.

    Raises:
        ProcessStartError: the program could not be started (for example, it is not installed).
        asyncio.CancelledError: the awaiting task was cancelled; the tree was killed first.
        Exception: whatever ``on_output`` raised; the tree was killed first.
    """
    _check_program(argv[0], env)
    tracker = registry if registry is not None else ProcessRegistry()
    ours, theirs = socket.socketpair() if keep_background else (None, None)
    command = reaper_argv(list(argv), keep_background_fd=theirs.fileno() if theirs is not None else None)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(theirs.fileno(),) if theirs is not None else (),
        )
    except OSError as exc:
        if ours is not None:
            ours.close()
        raise ProcessStartError(exc.errno, f"cannot start {argv[0]!r}: {exc.strerror or exc}") from exc
    finally:
        if theirs is not None:
            theirs.close()
    tracker.add(proc.pid)
    try:
        result = await _wait_for(proc, timeout, on_output, grace)
    except BaseException:
        if ours is not None:
            ours.close()
        raise
    finally:
        tracker.discard(proc.pid)
    if ours is not None:
        _hand_over(ours, tracker, result)
    return result


def _check_program(program: str, env: Mapping[str, str] | None) -> None:
    """Raise `ProcessStartError` when ``program`` cannot be found, before the reaper is started."""
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


def _hand_over(control: socket.socket, registry: ProcessRegistry, result: ProcessResult) -> None:
    """Record the keeper of a finished run, unless it has nothing to keep (it then closed its end)."""
    control.setblocking(False)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := control.recv(64):
            data += chunk
        else:
            control.close()  # end of file: the keeper has ended, nothing is kept
            return
    keeper = data.strip()
    if result.timed_out or not keeper.isdigit():
        control.close()
        return
    registry.keep(int(keeper), control)


async def _wait_for(
    proc: asyncio.subprocess.Process, timeout: float, on_output: Callable[[bytes], None], grace: float
) -> ProcessResult:
    assert proc.stdout is not None
    pump = asyncio.ensure_future(_pump(proc.stdout, on_output))
    waiter = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait((pump, waiter), timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
        if pump.done():
            pump.result()  # re-raises what on_output raised
        if not (pump.done() and waiter.done()):  # wait() alone may return before EOF
            await _escalate(proc, grace)
            await _settle((pump, waiter), grace)
            return ProcessResult(TIMEOUT_EXIT_CODE, True)
    except BaseException:
        killed = _kill_now(proc.pid)  # synchronously: the loop may be shutting down
        await asyncio.shield(_await_tree_exit(proc.pid, killed, grace))
        await asyncio.shield(_settle((pump, waiter), grace))
        raise
    code = waiter.result()
    return ProcessResult(128 - code if code < 0 else code, False)
