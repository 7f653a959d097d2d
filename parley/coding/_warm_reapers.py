"""Reapers that serve one run after another, for a warm template on this machine.

`parley.coding._warm_python` runs a template; with ``REUSE_REAPERS`` it hands `Reapers` to
`parley.coding._reaper.serve`, so a python block costs one fork (its own, done ahead of its run)
instead of two, and its request goes from the host straight to its reaper. This module is
imported by the template from its own directory, like `parley.coding._warm_python`: standard
library only, nothing imported at the top that start-up did not (what it uses, the template
holds in ``_HELD``). Docker's runner does not use it.
"""

from __future__ import annotations

import os

from _warm_python import _HELD, REAPER_REQUEST, REQUEST_BYTES, _fd_bytes  # type: ignore[import-not-found]  # the template's own

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Reapers"]


class Reapers:
    """Reapers that serve one run after another, sent to them by the host; for `parley.coding._reaper.serve`.

    A run's reaper is otherwise a fork of the template made for that run alone, and a fork, its
    set-up and its exit cost about as much as the block itself (~1 ms here). Each of these is
    forked once, at the host's request (`REAPER_REQUEST`): it leads a session of its own, is a
    child subreaper and waits on a socket whose other end goes back to the host, which then
    sends it run after run itself (no hop through the template: `parley.coding._reaper_server`).
    For each run it does what a run's reaper does (``pid <n>``, the command forked from the
    template's copy it is, every descendant ended before ``exit <code>``), takes its stdout and
    stderr off the run's pipe and leaves the run's directory. A run with ``keep`` (which comes
    with a control socket) still gets a reaper of its own from the template, as does any run
    when a reaper cannot be made or reached.

    The run's process group is the reaper's. A reaper reads no next run until the host has
    closed the run's status pipe, which it does only once it is done with the run (its timeout's
    escalation, a cancel's kill, a ``close()``): so no signal of the host for one run reaches
    another, however late it comes. A reaper whose group is signalled during a run ends after
    that run instead of serving another; a run the host sent it meanwhile finds its status pipe
    closed unanswered, and the host sends it to another reaper.
    A reaper killed or ended (by a block, as a rule) is dropped; its runs' orphans come to the
    template, which ends them as for any killed reaper. Requests carry no environment (the
    template runs with the run's), so a reaper keeps nothing of a run that the next one could not see.
    """

    def __init__(self, template: Any) -> None:
        self._template = template

    def take(self, message: bytes, fds: list[int], reapers: set[int], close: tuple[int, ...], server: Any) -> bool:
        """Serve a `REAPER_REQUEST`: fork a reaper, send the host its socket; False for a run (or when it may not fork).

        ``reapers``: the server's reaper pids, which a new one joins. ``close``: the server's fds,
        closed in a new reaper. ``server``: the host's socket, for the reply: the reaper's pid
        with its socket (``SCM_RIGHTS``), or ``none`` when none could be made.
        """
        if message != REAPER_REQUEST or fds:
            return False  # a run: it gets a reaper of its own
        made = self._start(close)
        if made is None:
            if not _HELD["reaper"].intact():
                return False  # the server then ends (`parley.coding._reaper.serve`): the host starts a fresh one
            reply: tuple[bytes, list[Any]] = (b"none", [])
        else:
            reapers.add(made[0])
            core = _HELD["_socket"]
            reply = (str(made[0]).encode(), [(core.SOL_SOCKET, core.SCM_RIGHTS, _fd_bytes([made[1].fileno()]))])
        try:  # noqa: SIM105 - contextlib is not among what start-up imported
            server.sendmsg([reply[0]], reply[1])
        except OSError:
            pass  # the host is gone: the reaper ends at end of file
        if made is not None:
            made[1].close()
        return True

    def _start(self, close: tuple[int, ...]) -> tuple[int, Any] | None:
        if not _HELD["reaper"].intact():
            return None  # the template's limits were changed: it forks nothing more (see `_reaper.serve`)
        core = _HELD["_socket"]
        ours, theirs = core.socketpair(core.AF_UNIX, core.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid == 0:  # no `finally` here, nor below: a block leaves this frame as `_warm_python._Script`
            try:
                ours.close()
                for fd in close:
                    os.close(fd)  # the server's: its end of file must not wait for this process
                status = _serve_runs(theirs, self._template)
            except Exception:
                status = 1
            os._exit(status)
        theirs.close()
        return pid, ours


def _serve_runs(channel: Any, template: Any) -> int:
    """A reaper of `Reapers`: serve the runs that come on ``channel`` until it closes or the template goes.

    Each run's block is forked ahead while the reaper waits (`parley.coding._warm_python._Template.fork_ahead`).
    """
    reaper, _signal = _HELD["reaper"], _HELD["_signal"]
    _signal.set_wakeup_fd(-1)  # the server's wake-up pipe is closed here
    for number in reaper._signal_numbers(reaper._IGNORED):
        _signal.signal(number, _signalled)  # still not ended by them, but no longer reused after them
    os.setsid()  # the runs' process group is this process's pid: the host signals it
    reaper._become_subreaper()
    supervisor = reaper._Supervisor(None)
    null = os.open(os.devnull, os.O_WRONLY)
    ahead = _Ahead(template)
    while True:
        if not ahead.refill():
            return 0
        ready, _, _ = _HELD["select"].select([channel.fileno()], [], [], reaper._POLL_S)
        if not ready:
            if os.getppid() != supervisor.parent:
                return 0
            continue
        try:
            message, fds = reaper._receive(channel, _HELD["_socket"], REQUEST_BYTES)
        except OSError:
            return 0
        if not message or len(fds) != 2:
            return 0
        request = _HELD["marshal"].loads(message)
        ahead.cwd = request["cwd"]
        _SIGNALLED.clear()
        if not _serve_run(request, fds, ahead, supervisor, null):
            return 0


_SIGNALLED: list[int] = []
"""The signals the reaper's group got during its current run (a timeout's, as a rule)."""


def _signalled(number: int, frame: Any) -> None:
    """A signal to the run's group: the host is ending the run, and may kill the group after it.

    The reaper then ends after this run instead of serving another, so neither that kill nor a
    late signal of the escalation can reach a next run.
    """
    _SIGNALLED.append(number)


class _Ahead:
    """A `Reapers` reaper's block for its next run, forked ahead (`parley.coding._warm_python._Template.fork_ahead`)."""

    def __init__(self, template: Any) -> None:
        self.template = template
        self.block: tuple[int, Any] | None = None
        self.cwd = "/"  # the run's, set when it comes

    def refill(self) -> bool:
        """Fork the next run's block, unless one waits already; False: this reaper must end instead.

        It must when its limits, priority or CPU affinity are no longer the template's (a block
        changed them, `parley.coding._reaper.limits`): every block it forks would inherit them.
        """
        if self.block is None:
            if not _HELD["reaper"].intact():
                return False
            self.block = self.template.fork_ahead()
        return True

    def spawn(self, argv: list[str], stdout: int | None, env: dict[str, str] | None) -> int | None:
        """Start the run in the block forked ahead; fork one now if that one is gone or was changed.

        A block of the same user may kill the block forked ahead, or change its limits, priority
        or CPU affinity (``prlimit``, ``setpriority``, ``sched_setaffinity`` need no more): one whose
        are not the template's is killed, unused.
        """
        reaper = _HELD["reaper"]
        block, self.block = self.block, None
        if block is not None and reaper.limits(block[0]) != tuple(reaper.START_LIMITS):
            try:  # noqa: SIM105 - contextlib is not among what start-up imported
                os.kill(block[0], _HELD["_signal"].SIGKILL)
            except OSError:
                pass
            block[1].close()
            block = None
        pid: int | None = self.template.run_ahead(block, argv, self.cwd) if block is not None else None
        if pid is None:
            if not reaper.intact():
                reaper._write_all(_TAMPERED, 2)
                return None
            pid = self.template.spawn(argv, stdout, env)
        return pid


_TAMPERED = (
    b"Not run: a block changed the resource limits, priority, CPU affinity, scheduling policy or I/O priority "
    b"of the process that starts blocks (prlimit, setpriority, sched_setaffinity, sched_setscheduler, ionice), "
    b"so it was retired rather than pass them on. "
    b"Run the block again.\n"
)


def _serve_run(
    request: dict[str, Any],
    fds: list[int],
    ahead: _Ahead,
    supervisor: Any,
    null: int,
) -> bool:
    """One run of a `Reapers` reaper, as `parley.coding._reaper` runs one; False: the reaper must end.

    Once the run's exit is written, the reaper forks its next block ahead and waits until the host
    closes the run's status pipe before it reads its next run (`_wait_for_the_host`): until then the
    host may still signal the reaper's group for this run (a timeout that fired as the run
    ended, a cancel, a ``close()``), and no other run may be in that group. A reaper signalled
    meanwhile ends instead, as does one whose limits, priority or CPU affinity are no longer
    the template's (a block changed them: every block it forks would inherit them; see `_Ahead.refill`).
    """
    reaper = _HELD["reaper"]
    output, status = fds
    try:
        os.set_inheritable(status, False)  # fds arrive inheritable: the command must not hold them
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.write(status, f"pid {os.getpid()}\n".encode())
        try:
            os.chdir(request["cwd"])
        except OSError as exc:
            reaper._write_all(f"cannot enter the working directory {request['cwd']!r}: {exc.strerror}\n".encode(), 2)
            codes = [127]
        else:
            codes = []
            reaper._run(
                request["argv"],
                env=request.get("env"),
                keep=None,
                report=codes.append,
                spawn=ahead.spawn,
                supervisor=supervisor,
            )  # the block leaves here as `parley.coding._warm_python._Script`: nothing below runs in it
        if not codes:
            return False  # the template is gone, so must its reapers be
        os.dup2(null, 1)  # the run's pipe closes: the run is over for the host once it reads the exit
        os.dup2(null, 2)
        os.write(status, f"exit {codes[0]}\n".encode())
        os.chdir("/")
        if not ahead.refill():
            return False
        over = _wait_for_the_host(status, supervisor.parent)
        os.close(status)
        if not over or _SIGNALLED:
            return False
    except OSError:
        return False
    return True


def _wait_for_the_host(status: int, parent: int) -> bool:
    """Wait until the host has closed the run's status pipe (read end); False when the template went first."""
    poll = _HELD["select"].poll()
    poll.register(status, 0)  # only POLLERR: no reader is left
    while not poll.poll(_HELD["reaper"]._POLL_S * 1000):
        if os.getppid() != parent:
            return False
    return True
