"""The reaper: a tiny supervisor that runs one command and ends everything the command started.

It is a script as well as a module. The host runs it, with the standard library only, as::

    python -I -S _reaper.py [--keep-background FD] -- PROGRAM [ARG ...]

(`reaper_argv` builds the equivalent line that imports this module, so its bytecode is cached),
in place of the command itself. It

- makes itself a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``, kernel 3.4 and
  later), so every process the command starts and then orphans (double forks, ``setsid``
  daemons, ``nohup … &``) is re-parented to the reaper instead of to init: the whole tree stays
  below it, whatever process group, session or environment its members chose;
- forks and execs the command, with stdin from ``/dev/null`` and the signal dispositions a fresh
  program expects;
- ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT itself, so signals sent to the process group reach
  the command (a timeout's interrupt, a kernel interrupt) while the reaper stays to clean up;
- when the command exits, stops (SIGSTOP, so nothing can fork any more) and then kills (SIGKILL)
  every remaining descendant, reaps them, and exits with the command's exit status (``128 + N``
  when signal N ended it);
- when its own parent dies (the host crashed or was killed), does the same at once, so nothing
  outlives the host.

With ``--keep-background FD`` (FD: one end of a socket pair held by the host) background
processes outlive the command instead: the reaper forks a *keeper* that supervises the command,
relays the command's output to the reaper's stdout until the command exits, then closes it and
keeps the background processes (their later output is discarded). The reaper itself exits with
the command's status as soon as it is known, so the host's run ends then. The keeper writes its
pid (decimal, then a newline) to FD at start, and ends every process it keeps when FD reaches end
of file: when the host closes its end (``close()``, ``restart()``), or exits. The host may also
kill the keeper's tree directly (`parley.coding._process.kill_tree`): all of it is below the
keeper.

A command that cannot be executed gets a one-line message on stderr and exit status 127, as a
shell reports it.

Costs one interpreter start without ``site`` (``-I -S``) per run. Where ``prctl`` is not
available (not Linux), orphans are not caught, and the host's kill by process group and
descendants is all that remains.
"""

from __future__ import annotations

import os
import select
import sys
import time

TYPE_CHECKING = False  # `typing` costs the reaper's start about 10 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main", "reaper_argv"]

_PR_SET_CHILD_SUBREAPER = 36
"""From linux/prctl.h."""
_IGNORED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
_RESET_IN_CHILD = (*_IGNORED, "SIGPIPE", "SIGXFSZ", "SIGCHLD")
_POLL_S = 0.5
"""Seconds between checks that the parent still lives (a dead parent sends no signal)."""
_CHUNK = 65536
_REAP_S = 2.0
"""Seconds to wait for killed descendants to be reaped (one we may not signal, such as a setuid
program, is left after that)."""


def reaper_argv(argv: list[str] | tuple[str, ...], *, keep_background_fd: int | None = None) -> list[str]:
    """The command line that runs ``argv`` under the reaper, with this interpreter.

    Args:
        argv: the program and its arguments.
        keep_background_fd: a file descriptor the child inherits (one end of a socket pair), to
            keep background processes alive until it reaches end of file; None (default) to end
            them when the command exits.

    Returns:
        ``[sys.executable, "-I", "-S", <this file>, ..., "--", *argv]``.
    """
    keep = ["--keep-background", str(keep_background_fd)] if keep_background_fd is not None else []
    return [sys.executable, "-I", "-S", "-c", _BOOTSTRAP, *keep, "--", *argv]


_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
    "from _reaper import main; sys.exit(main(sys.argv[1:]))"
)
"""Imports this module, so its compiled bytecode is cached (a script run by path is compiled at each start)."""


def _become_subreaper() -> bool:
    """Ask Linux to re-parent orphaned descendants to this process; False where it cannot."""
    try:
        import _ctypes as core  # the C core alone: `import ctypes` costs several ms more per run
    except ImportError:
        return False
    ct: Any = core

    class _Int(ct._SimpleCData):  # type: ignore[misc]
        _type_ = "i"

    class _Function(ct.CFuncPtr):  # type: ignore[misc]
        _flags_ = ct.FUNCFLAG_CDECL | ct.FUNCFLAG_USE_ERRNO
        _restype_ = _Int

    class _Libc:
        _handle = ct.dlopen(None)

    try:
        prctl = _Function(("prctl", _Libc))
        return bool(prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (AttributeError, OSError):
        return False


def _signals() -> Any:
    """The C core of `signal`: `signal` itself imports enum, several ms at every run."""
    import _signal  # type: ignore[import-not-found]

    return _signal


def _signal_numbers(names: tuple[str, ...]) -> list[int]:
    _signal = _signals()
    return [getattr(_signal, name) for name in names if hasattr(_signal, name)]


def _spawn(argv: list[str], stdout: int | None = None) -> int:
    """Fork and exec ``argv``; return the child's pid. ``stdout``: fd for its stdout and stderr."""
    _signal = _signals()
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: a fresh program's signals, stdin from /dev/null
        for number in _signal_numbers(_RESET_IN_CHILD):
            _signal.signal(number, _signal.SIG_DFL)
        _signal.set_wakeup_fd(-1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        if stdout is not None:
            os.dup2(stdout, 1)
            os.dup2(stdout, 2)
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"cannot start {argv[0]!r}: {exc.strerror or exc}\n".encode(errors="replace"))
    finally:
        os._exit(127)


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process this user may see in ``/proc``."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _descendants(root: int) -> set[int]:
    children = _children_map()
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _signal_pids(pids: set[int], number: int) -> None:
    for pid in pids:
        try:  # noqa: SIM105 - contextlib costs the reaper's start a few ms
            os.kill(pid, number)
        except OSError:
            pass


def _end_descendants() -> None:
    """Stop every descendant (until no new one appears), kill them all, and reap the children."""
    if not _has_children():
        return  # orphans come to us, so with no child there is no descendant at all
    _signal = _signals()
    stopped: set[int] = set()
    for _ in range(100):  # each pass finds only what forked before it was stopped
        new = _descendants(os.getpid()) - stopped
        if not new:
            break
        _signal_pids(new, _signal.SIGSTOP)
        stopped |= new
    _signal_pids(stopped, _signal.SIGKILL)
    deadline = time.monotonic() + _REAP_S
    while time.monotonic() < deadline:  # orphans of the killed come to us: reap until none is left
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.002)
        except ChildProcessError:
            return


def _has_children() -> bool:
    """Reap children that have exited; True while any child (running or stopped) is left."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return True
        except ChildProcessError:
            return False


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class _Supervisor:
    """Waits for the command while reaping orphans, watching the parent and an optional control socket."""

    def __init__(self, control: int | None) -> None:
        _signal = _signals()
        self.parent = os.getppid()
        self.control = control
        self.relay: int | None = None  # the command's output pipe, while it is relayed (keeper only)
        self._wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written

    def wait(self, pid: int) -> int | None:
        """Serve until ``pid`` exits (its exit code) or the parent or control socket goes (None)."""
        while True:
            readable = [self._wake_r] + [fd for fd in (self.control, self.relay) if fd is not None]
            ready, _, _ = select.select(readable, [], [], _POLL_S)
            if self._wake_r in ready:
                os.read(self._wake_r, _CHUNK)
            if self.relay is not None and self.relay in ready:
                self._pass_on()
            if self.control is not None and self.control in ready and not os.read(self.control, _CHUNK):
                return None
            if os.getppid() != self.parent and self.control is None:
                return None
            status = self.reap(pid)
            if status is not None:
                return status

    def _pass_on(self) -> None:
        assert self.relay is not None
        data = os.read(self.relay, _CHUNK)
        if not data:
            os.close(self.relay)
            self.relay = None
            return
        _write_all(data)

    @staticmethod
    def reap(pid: int) -> int | None:
        """Reap every child that has exited; return ``pid``'s exit code if it was among them."""
        code = None
        while True:
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return code
            if done == 0:
                return code
            if done == pid:
                code = _exit_code(status)


def _parse(args: list[str]) -> tuple[int | None, list[str]]:
    keep = None
    if args[:1] == ["--keep-background"]:
        keep, args = int(args[1]), args[2:]
    if args[:1] != ["--"] or len(args) < 2:
        raise SystemExit("usage: _reaper.py [--keep-background FD] -- PROGRAM [ARG ...]")
    return keep, args[1:]


def main(args: list[str]) -> int:
    """Run the command in ``args`` (see the module docstring); return the exit status to exit with."""
    _signal = _signals()
    keep, argv = _parse(args)
    for number in _signal_numbers(_IGNORED):
        _signal.signal(number, _signal.SIG_IGN)
    if keep is not None:
        return _fork_keeper(keep, argv)
    _become_subreaper()
    supervisor = _Supervisor(None)
    code = supervisor.wait(_spawn(argv))
    _end_descendants()
    return 124 if code is None else code


def _fork_keeper(control: int, argv: list[str]) -> int:
    """Keep-background mode: fork the keeper; this process exits with the command's status."""
    status_r, status_w = os.pipe()
    keeper = os.fork()
    if keeper:
        os.close(status_w)
        os.close(control)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # the host's output pipe must end when the keeper closes its copy
        os.dup2(null, 2)
        reply = b""
        while chunk := os.read(status_r, 64):
            reply += chunk
        return int(reply) if reply.strip() else 124
    os.close(status_r)
    os.set_inheritable(control, False)
    os.write(control, f"{os.getpid()}\n".encode())
    _become_subreaper()
    supervisor = _Supervisor(control)
    relay_r, relay_w = os.pipe()
    pid = _spawn(argv, stdout=relay_w)
    os.close(relay_w)
    supervisor.relay = relay_r
    code = supervisor.wait(pid)
    relay = supervisor.relay  # None once every writer closed it
    if code is not None:
        if relay is not None:
            _drain(relay)
        os.write(status_w, str(code).encode())
        os.close(status_w)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # the host's run ends: its output pipe closes
        os.dup2(null, 2)
        _keep(control, relay)
    _end_descendants()
    os._exit(0)


def _write_all(data: bytes) -> None:
    """Write ``data`` to stdout whole; drop it if the reader is gone."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(1, view) :]
    except OSError:
        pass


def _drain(fd: int) -> None:
    """Relay what the command left in the pipe, without waiting for background writers."""
    os.set_blocking(fd, False)
    try:
        while data := os.read(fd, _CHUNK):
            _write_all(data)
    except OSError:
        pass


def _keep(control: int, relay: int | None) -> None:
    """Keep the background processes until the control socket closes or none is left.

    Their output (``relay``, unless every writer closed it already) is read and discarded, so a
    writer never blocks on a full pipe.
    """
    watched = [control] if relay is None else [control, relay]
    while True:
        ready, _, _ = select.select(watched, [], [], _POLL_S)
        if relay is not None and relay in ready:
            try:
                if not os.read(relay, _CHUNK):  # every writer is gone: stop watching
                    watched.remove(relay)
            except BlockingIOError:
                pass
        if control in ready and not os.read(control, _CHUNK):
            return
        _Supervisor.reap(-1)
        if not _descendants(os.getpid()):
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
