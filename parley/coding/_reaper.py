"""The reaper: a tiny supervisor that runs one command and ends everything the command started.

For each run it

- makes itself a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``, kernel 3.4 and
  later), so every process the command starts and then orphans (double forks, ``setsid``
  daemons, ``nohup … &``) is re-parented to the reaper instead of to init: the whole tree stays
  below it, whatever process group, session or environment its members chose;
- forks and execs the command, with stdin from ``/dev/null`` and the signal dispositions a fresh
  program expects;
- ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT itself, so signals sent to the process group reach
  the command (a timeout's interrupt, a kernel interrupt) while the reaper stays to clean up;
- when the command exits, stops (SIGSTOP, so nothing can fork any more) and then kills (SIGKILL)
  every remaining descendant, reaps them, and reports the command's exit status (``128 + N``
  when signal N ended it);
- when its parent dies (the host crashed or was killed), does the same at once, so nothing
  outlives the host.

It runs with the standard library only, two ways:

- **As a script** (`reaper_argv`): ``python -I -S -c <import this module> -- PROGRAM [ARG ...]``
  runs one command in place of it and exits with its status. The embedded kernel runs under it.
- **As a server** (`serve`, started by `parley.coding._process`): one long-lived process per host
  process, which forks a reaper per run on request, so a run costs a fork instead of an
  interpreter start. A request (one ``SOCK_SEQPACKET`` message: a dict with ``argv``, ``cwd``,
  ``keep`` and, unless the server's own environment is the run's, ``env``, in `marshal` format 4,
  which every Python since 3.4 reads and which costs a forked reaper far fewer page writes to
  decode than JSON) comes with the run's output pipe, its status pipe and, to keep background processes,
  a control socket (file descriptors passed with ``SCM_RIGHTS``). The run's reaper starts a new
  session (its pid is the run's process group), writes ``pid <n>`` to the status pipe, and
  ``exit <code>`` when the command has ended and everything it started is gone.

  With ``keep``, background processes outlive the command instead: the reaper relays the
  command's output until the command exits, writes ``exit <code>``, closes the output and keeps
  the background processes (their later output is discarded) until the control socket reaches end
  of file: when the host closes it (``close()``, ``restart()``) or exits.

A command that cannot be executed gets a one-line message on stderr and exit status 127, as a
shell reports it. Where ``prctl`` is not available (not Linux), orphans are not caught, and the
host's kill by process group and descendants is all that remains.
"""

from __future__ import annotations

import os
import select
import sys
import time

TYPE_CHECKING = False  # `typing` costs the reaper's start about 10 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Spawn = Callable[[list[str], int | None, dict[str, str] | None], int | None]
    """Starts a run's command: ``(argv, stdout fd or None, env or None) -> pid``, or None when it cannot."""

__all__ = ["main", "reaper_argv", "serve", "server_argv"]

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_DUMPABLE = 4
"""From linux/prctl.h."""
_IGNORED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
_RESET_IN_CHILD = (*_IGNORED, "SIGPIPE", "SIGXFSZ", "SIGCHLD")
_POLL_S = 0.5
"""Seconds between checks that the parent still lives (a dead parent sends no signal)."""
_CHUNK = 65536
_REAP_S = 2.0
"""Seconds to wait for killed descendants to be reaped (one we may not signal, such as a setuid
program, is left after that)."""


def reaper_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    """The command line that runs ``argv`` under the reaper (script mode), with this interpreter.

    Args:
        argv: the program and its arguments.

    Returns:
        ``[sys.executable, "-I", "-S", "-c", <bootstrap>, "--", *argv]``.
    """
    return [sys.executable, "-I", "-S", "-c", _BOOTSTRAP, "--", *argv]


def server_argv(socket_fd: int) -> list[str]:
    """The command line that starts the reaper server on the inherited ``SOCK_SEQPACKET`` socket ``socket_fd``."""
    return [sys.executable, "-I", "-S", "-c", _BOOTSTRAP, "--serve", str(socket_fd)]


_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
    "from _reaper import main; sys.exit(main(sys.argv[1:]))"
)
"""Imports this module, so its compiled bytecode is cached (a script run by path is compiled at each start)."""


_prctl: Any = None  # the libc function, made once per process (a forked reaper inherits it)


def _become_subreaper() -> bool:
    """Ask Linux to re-parent orphaned descendants to this process; False where it cannot."""
    return _call_prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _set_dumpable(dumpable: bool) -> bool:
    """Make this process (and its forks, until they exec) dumpable or not; False where it cannot.

    The servers make themselves not dumpable: Linux then refuses ``/proc/<pid>/mem``, ``fd/``,
    ``environ`` and ``ptrace`` to processes without ``CAP_SYS_PTRACE``, even of the same user.
    So code run below a server (as the same user, in a container as a rule) can neither read
    nor write a server's memory, nor reopen its pipes through ``/proc`` to read its requests or
    forge its replies. An ``exec`` makes a program dumpable again; a forked block is made so.
    """
    return _call_prctl(_PR_SET_DUMPABLE, 1 if dumpable else 0)


def _call_prctl(option: int, value: int) -> bool:
    global _prctl
    if _prctl is None:
        _prctl = _load_prctl() or False
    if _prctl is False:
        return False
    try:
        return bool(_prctl(option, value, 0, 0, 0) == 0)
    except OSError:
        return False


def _load_prctl() -> Any:
    """The C library's ``prctl`` through the C core of ctypes, or None where there is none."""
    return _libc_function("prctl", "i")


def _libc_function(name: str, result: str) -> Any:
    """The C library's function ``name`` returning the C type code ``result`` (``"i"``, ``"l"``), or None.

    Through the C core of ctypes alone: `import ctypes` costs several ms more per run.
    """
    try:
        import _ctypes as core
    except ImportError:
        return None
    ct: Any = core

    class _Result(ct._SimpleCData):  # type: ignore[misc]
        _type_ = result

    class _Function(ct.CFuncPtr):  # type: ignore[misc]
        _flags_ = ct.FUNCFLAG_CDECL | ct.FUNCFLAG_USE_ERRNO
        _restype_ = _Result

    class _Libc:
        _handle = ct.dlopen(None)

    try:
        return _Function((name, _Libc))
    except (AttributeError, OSError):
        return None


_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}
"""The number of the ``ioprio_get`` system call, by machine (the standard library has no call for it)."""
_IOPRIO_GET_NUMBER = _IOPRIO_GET.get(os.uname().machine)
_syscall: Any = None  # libc's ``syscall``, made once per process (False where there is none)


def _io_priority(pid: int) -> int | None:
    """The I/O priority (``ionice``: class and level) of ``pid`` (0: this process); None where it cannot be read."""
    global _syscall
    number = _IOPRIO_GET_NUMBER
    if number is None:
        return None
    if _syscall is None:
        _syscall = _libc_function("syscall", "l") or False
    if _syscall is False:
        return None
    try:
        value = int(_syscall(number, 1, pid))  # 1: IOPRIO_WHO_PROCESS
    except OSError:
        return None
    return value if value >= 0 else None


def _signals() -> Any:
    """The C core of `signal`: `signal` itself imports enum, several ms at every run."""
    import _signal  # type: ignore[import-not-found]

    return _signal


def _signal_numbers(names: tuple[str, ...]) -> list[int]:
    _signal = _signals()
    return [getattr(_signal, name) for name in names if hasattr(_signal, name)]


def _spawn(argv: list[str], stdout: int | None = None, env: dict[str, str] | None = None) -> int | None:
    """Start ``argv`` with ``posix_spawnp`` (no copy of this process); return its pid, or None.

    ``stdout``: the fd for its stdout and stderr (default: ours); ``env``: its environment
    (default: ours); a program without ``/`` is looked up on that environment's ``PATH``. It gets
    stdin from ``/dev/null`` and the signal dispositions a fresh program expects. When it cannot
    be started, a one-line message goes to our stderr and the result is None.
    """
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    if stdout is not None:
        actions += [(os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stdout, 2)]
    try:
        return os.posix_spawnp(
            argv[0],
            argv,
            os.environ if env is None else env,
            file_actions=actions,
            setsigdef=_signal_numbers(_RESET_IN_CHILD),
            setsigmask=(),
        )
    except OSError as exc:
        _write_all(f"cannot start {argv[0]!r}: {exc.strerror or exc}\n".encode(errors="replace"), 2)
        return None


def _children_map(groups: dict[int, int] | None = None) -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process this user may see in ``/proc``; ``groups`` gets pid -> group."""
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
        if groups is not None:
            groups[int(name)] = int(fields[2])
    return children


def _descendants(root: int, children: dict[int, list[int]] | None = None) -> set[int]:
    """Every descendant of ``root``, from ``children`` (default: a fresh `_children_map`)."""
    children = _children_map() if children is None else children
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
    _stop_then_kill(lambda children: _descendants(os.getpid(), children))
    deadline = time.monotonic() + _REAP_S
    while time.monotonic() < deadline:  # orphans of the killed come to us: reap until none is left
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.002)
        except ChildProcessError:
            return


def _stop_then_kill(ending: Callable[[dict[int, list[int]]], set[int]]) -> None:
    """Stop the processes ``ending`` names, pass after pass until no new one appears; then kill them all.

    ``ending`` picks them from a fresh `_children_map`. Each pass finds only what forked before
    it stopped its parent. A process that forks and exits over and over has a new pid by the time
    a pass signals the one it listed, but keeps its process group: so each group is stopped as
    one too, when every member is ending and it is not this process's own.
    """
    _signal = _signals()
    own = os.getpgrp()
    stopped: set[int] = set()
    groups: set[int] = set()
    for _ in range(100):
        pgids: dict[int, int] = {}
        found = ending(_children_map(pgids))
        new = found - stopped
        if not new:
            break
        _signal_pids(new, _signal.SIGSTOP)
        stopped |= new
        for group in {pgids[pid] for pid in new if pid in pgids} - groups - {own}:
            if all(pid in found or pid in stopped for pid, its in pgids.items() if its == group):
                groups.add(group)
                _signal_groups({group}, _signal.SIGSTOP)
    _signal_pids(stopped, _signal.SIGKILL)
    _signal_groups(groups, _signal.SIGKILL)


def _signal_groups(groups: set[int], number: int) -> None:
    for group in groups:
        try:  # noqa: SIM105 - contextlib costs the reaper's start a few ms
            os.killpg(group, number)
        except OSError:
            pass


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


def _run(
    argv: list[str],
    *,
    env: dict[str, str] | None,
    keep: int | None,
    report: Callable[[int], None],
    spawn: Spawn | None = None,
    supervisor: _Supervisor | None = None,
) -> None:
    """Supervise one run of ``argv``; ``report`` its exit status once nothing of it is left.

    ``spawn`` starts the command (default `_spawn`); the warm Python server passes its own,
    which forks instead (see `parley.coding._warm_python`). ``supervisor``: one made before, by a
    reaper that serves several runs (default: a new one).

    With ``keep`` (the control socket's fd), the status is reported as soon as the command has
    exited and its output is relayed; background processes are kept until ``keep`` reaches end of
    file or none is left. A run whose parent (or control socket) went away reports nothing.
    """
    spawn = _spawn if spawn is None else spawn
    _become_subreaper()
    supervisor = _Supervisor(keep) if supervisor is None else supervisor
    if keep is None:
        pid = spawn(argv, None, env)
        code = supervisor.wait(pid) if pid is not None else _CANNOT_START
        _end_descendants()
        if code is not None:
            report(code)
        return
    relay_r, relay_w = os.pipe()
    pid = spawn(argv, relay_w, env)
    os.close(relay_w)
    if pid is None:
        report(_CANNOT_START)
        return
    supervisor.relay = relay_r
    code = supervisor.wait(pid)
    relay = supervisor.relay  # None once every writer closed it
    if code is not None:
        if relay is not None:
            _drain(relay)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # the host's output pipe closes: the run is over for the host
        os.dup2(null, 2)
        report(code)
        _keep(keep, relay)
    _end_descendants()


def _write_all(data: bytes, fd: int = 1) -> None:
    """Write ``data`` to ``fd`` whole; drop it if the reader is gone."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
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


def serve(
    socket_fd: int,
    spawn: Spawn | None = None,
    on_ready: Callable[[], None] | None = None,
    reuse: Any = None,
    max_request: int = 0,
) -> int:
    """Serve run requests on ``socket_fd`` until the host closes it (see the module docstring); return 0.

    The server is a child subreaper too: if a run's reaper is killed (by the code it runs), the
    run's orphans come to the server, which ends them. A server whose resource limits, priority
    or CPU affinity are no longer those it started with (a block of the same user changed them,
    see `limits`) forks nothing more: it ends at its next request, unanswered, and the host
    starts a fresh server for that run. ``spawn`` starts each run's command
    (default `_spawn`: ``posix_spawnp``); ``on_ready``, when given, is called once the server has
    imported and set up all it needs, before the first request is read. ``reuse``, when given,
    makes reapers that serve one run after another, sent to them by the host itself
    (`parley.coding._warm_reapers.Reapers`: the requests it takes are for such a reaper); the
    runs sent here get a reaper of their own.
    ``max_request``: the longest request read, in bytes (0: `_MAX_REQUEST`; a longer one ends
    the server, as a closed socket does).
    """
    import _socket  # the C core: `socket` and `json` cost every block's fork (pages to copy, modules to drop)
    import marshal

    _signal = _signals()
    for number in _signal_numbers(_IGNORED):
        _signal.signal(number, _signal.SIG_IGN)
    _become_subreaper()
    _set_dumpable(False)
    _hold_limits()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
    server = _socket.socket(fileno=socket_fd)
    reapers: set[int] = set()
    owner = os.getpid()
    try:
        if on_ready is not None:
            on_ready()
        while True:
            ready, _, _ = select.select([server.fileno(), wake_r], [], [])
            if wake_r in ready:
                os.read(wake_r, _CHUNK)
                _reap_reapers(reapers)
            if server.fileno() not in ready:
                continue
            try:
                message, fds = _receive(server, _socket, max_request)
            except OSError:
                return 0
            if not message:
                return 0  # the host closed its end (or died): each run notices its parent is gone
            if reuse is not None and reuse.take(message, fds, reapers, (server.fileno(), wake_r, wake_w), server):
                for fd in fds:
                    os.close(fd)
                continue
            if not intact():  # a block changed this server's limits: the run's reaper would inherit them
                for fd in fds:
                    os.close(fd)
                return 0  # the host sees the run unanswered and starts a fresh server for it
            pid = os.fork()
            if pid == 0:
                server.close()
                os.close(wake_r)
                os.close(wake_w)
                os._exit(_serve_one(marshal.loads(message), fds, spawn))
            reapers.add(pid)
            for fd in fds:
                os.close(fd)
    finally:
        if os.getpid() != owner:  # a fork leaving as a block (`_warm_python`'s `_Script`): it closed the
            server.detach()  # server's fd by number, and by now that number may be its own channel's


def _hold_limits() -> None:
    """Import `resource` for `limits` and record this process's limits as `START_LIMITS`."""
    global _resource
    try:
        import resource
    except ImportError:
        return
    _resource = resource
    _RLIMITS[:] = sorted({getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")})
    START_LIMITS[:] = limits()


def limits(pid: int = 0) -> tuple[object, ...]:
    """Resource limits, priority, CPU affinity, scheduling policy and I/O priority of ``pid`` (0: this process).

    Empty if unknown. A process of the same user may change all five in another (``prlimit``,
    ``setpriority``, ``sched_setaffinity``, ``sched_setscheduler`` to ``SCHED_IDLE``, ``ionice -c 3``
    need no privilege), and a fork inherits them: a block could set them on the process that
    forks later blocks. About twenty system calls (tens of microseconds). The I/O priority is
    None where it cannot be read (no ``ioprio_get`` number known for this machine).
    """
    if _resource is None:
        return ()
    try:
        return (
            *(_resource.prlimit(pid, number) for number in _RLIMITS),
            os.getpriority(os.PRIO_PROCESS, pid),
            frozenset(os.sched_getaffinity(pid)),
            os.sched_getscheduler(pid),  # SCHED_IDLE would starve every later block
            _io_priority(pid),  # the idle I/O class too (`ionice -c 3`)
        )
    except (AttributeError, OSError):
        return ()


def intact() -> bool:
    """Whether this process's limits, priority and affinity are still those `serve` started with.

    A server checks it before each fork: a process whose limits a block changed must not fork
    the next block (nor its reaper), so it ends instead and its host starts a fresh one.
    """
    return limits() == tuple(START_LIMITS)


_resource: Any = None
_RLIMITS: list[int] = []
"""The ``resource.RLIMIT_*`` numbers, once `_hold_limits` has imported `resource`."""
START_LIMITS: list[object] = []
"""`limits` of the server when `serve` started (inherited by every process it forks)."""


def _receive(server: Any, core: Any, size: int = 0) -> tuple[bytes, list[int]]:
    """One request and the (at most 3) file descriptors that came with it, from the socket ``server``.

    ``core`` is the `_socket` module; ``size`` the largest request read, in bytes (0: `_MAX_REQUEST`).
    Below glibc's ``mmap`` threshold (128 KiB) the buffer comes from the heap: a 4 MiB one is
    mapped, remapped and unmapped at every request. Raises OSError as ``recvmsg`` does, and
    ``EMSGSIZE`` when the request was longer than ``size`` (cut, so unreadable).
    """
    message, ancillary, flags, _ = server.recvmsg(size or _MAX_REQUEST, core.CMSG_SPACE(3 * _FD_SIZE))
    fds = []
    for level, kind, data in ancillary:
        if level == core.SOL_SOCKET and kind == core.SCM_RIGHTS:
            fds += [
                int.from_bytes(data[i : i + _FD_SIZE], sys.byteorder, signed=True)
                for i in range(0, len(data) - _FD_SIZE + 1, _FD_SIZE)
            ]
    if flags & getattr(core, "MSG_TRUNC", 0):
        for fd in fds:
            os.close(fd)
        raise OSError(_EMSGSIZE, "request too long")
    return message, fds


_FD_SIZE = 4
"""Bytes per file descriptor in an ``SCM_RIGHTS`` message (a C ``int``)."""


def _reap_reapers(reapers: set[int]) -> None:
    """Reap exited children; when a run's reaper was killed, end the orphans it left to the server.

    Any other child that ended was such an orphan: what it forked before it ended came to the
    server too (a process that forks and exits over and over, to outrun a kill), so that also
    ends the orphans.
    """
    lost = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in reapers:
            reapers.discard(pid)
            lost = lost or os.WIFSIGNALED(status)
        else:
            lost = True
    if lost:
        _end_orphans(reapers)


def _end_orphans(reapers: set[int]) -> None:
    """Stop, then kill, every descendant not below a live reaper (see `_stop_then_kill`).

    One pass is not enough: an orphan that forks and exits in a loop has a new pid by the time it
    is signalled, and its child comes to the server (a subreaper) after the pass listed it.
    """

    def orphans(children: dict[int, list[int]]) -> set[int]:
        found = _descendants(os.getpid(), children)
        for reaper in reapers:  # the live runs and what is below them are not orphans
            found -= {reaper} | _descendants(reaper, children)
        return found

    _stop_then_kill(orphans)


def _serve_one(request: dict[str, Any], fds: list[int], spawn: Spawn | None = None) -> int:
    """One run of the server, in its own forked reaper; see the module docstring."""
    _signal = _signals()
    _signal.set_wakeup_fd(-1)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    output, status, *control = fds
    for fd in (status, *control):
        os.set_inheritable(fd, False)  # fds arrive inheritable: the command must not hold them
    os.setsid()  # the run's process group is this process's pid: the host signals it
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.write(status, f"pid {os.getpid()}\n".encode())
    try:
        os.chdir(request["cwd"])
    except OSError as exc:
        _write_all(f"cannot enter the working directory {request['cwd']!r}: {exc.strerror}\n".encode(), 2)
        os.write(status, b"exit 127\n")
        return 0

    def report(code: int) -> None:
        os.write(status, f"exit {code}\n".encode())
        os.close(status)

    keep = control[0] if request.get("keep") and control else None
    _run(request["argv"], env=request.get("env"), keep=keep, report=report, spawn=spawn)
    return 0


_CANNOT_START = 127
"""The exit status of a command that could not be started, as a shell reports it."""
_MAX_REQUEST = 4 * 1024 * 1024
_EMSGSIZE = 90
"""Linux's ``errno.EMSGSIZE`` (`errno` is not among what start-up imports)."""
"""The largest request the server reads, in bytes (an environment is rarely over a few KB)."""


def main(args: list[str]) -> int:
    """Script mode: run the command in ``args`` (``-- PROGRAM [ARG ...]``); return its exit status.

    ``--serve FD`` starts the server instead.
    """
    if args[:1] == ["--serve"] and len(args) == 2:
        return serve(int(args[1]))
    if args[:1] != ["--"] or len(args) < 2:
        raise SystemExit("usage: _reaper.py -- PROGRAM [ARG ...] | --serve FD")
    _signal = _signals()
    for number in _signal_numbers(_IGNORED):
        _signal.signal(number, _signal.SIG_IGN)
    codes: list[int] = []
    _run(args[1:], env=None, keep=None, report=codes.append)
    return codes[0] if codes else 124


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
