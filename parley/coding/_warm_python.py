"""The fork server for Python blocks: a warm interpreter that runs each script in a fork of itself.

Starting an interpreter (``site``, the codecs, the path) is most of what a ``print(1)`` block costs
(about 10 ms here). This module runs inside a *template*: an interpreter started once, with the
block's interpreter, environment and flags, that has done that start-up and imported nothing of
its own beyond what serving needs. It serves runs like the reaper server
(`parley.coding._reaper.serve`), with one difference: a run's command is not executed but forked
from the template, so a block starts in well under a millisecond. The run's reaper (forked from
the template too) contains it exactly as it contains any command.

What the forked block sees is what ``python FILE`` would give it:

- ``__main__`` is a fresh module (``__name__ == "__main__"``, ``__file__``, a ``SourceFileLoader``,
  no ``__spec__``), and ``sys.modules`` holds only what the interpreter's own start-up imported:
  every module imported to serve (``_reaper``, ``_socket``, ``select`` ...) is dropped, so a block imports afresh;
- ``sys.argv == [FILE]``, ``sys.path[0]`` is the script's directory (none under ``-P`` /
  ``PYTHONSAFEPATH``), the working directory is the run's, ``os.environ`` is the template's,
  which is the run's (`parley.coding._reaper_server` starts one template per environment);
- stdin is ``/dev/null``, stdout and stderr the run's pipe, no other file descriptor is open, and
  the signal handlers and mask are the ones the interpreter started with;
- an uncaught exception prints its traceback (without this module's frames) and exits 1,
  ``SystemExit`` exits as the interpreter makes it, an uncaught ``KeyboardInterrupt`` exits 130
  (128 + SIGINT, what the reaper reports for a fresh interpreter killed that way); non-daemon
  threads are joined and ``atexit`` handlers run, because the block leaves through the
  interpreter's own exit.

Two things differ from a fresh interpreter, by the nature of a fork: blocks forked from one
template share its hash seed (``PYTHONHASHSEED`` still applies when set), and the process's
command line (``ps``, ``/proc/self/cmdline``, ``sys.orig_argv`` is set back) is the template's.

Templates run on this machine (`parley.coding._reaper_server`) and inside Docker containers
(`parley.coding._runner` starts them there, sending this module's source over a socket:
`bootstrap` with ``received=True``).

Standard library only, and nothing is imported at the top beyond what start-up already holds.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, NoReturn

__all__ = ["REAPER_REQUEST", "REQUEST_BYTES", "REUSE_REAPERS", "bootstrap", "can_serve", "main"]

REAPER_REQUEST = b"reaper"
"""A template's request (with no file descriptors) for a reaper the host sends runs to itself.

The reply is the reaper's pid, with this side of its socket (``SCM_RIGHTS``); ``none`` when
none could be made (no reply: the template ended instead). See `parley.coding._warm_reapers`."""

REQUEST_BYTES = 65536
"""The longest run request a template reads, in bytes: it carries no environment, only two paths.

Below glibc's ``mmap`` threshold, so each process of a run reads it into its heap."""

REUSE_REAPERS = "--reuse-reapers"
"""The argument after the socket's fd that has a template's reapers serve one run after another."""

_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE", "SIGXFSZ", "SIGCHLD")
"""The dispositions a block gets back as the template started with them (the reaper changes them)."""


def bootstrap(received: bool = False) -> str:
    """Return the ``-c`` program that starts a template, run as ``[python, "-c", <it>, SOCKET_FD]``.

    It records the modules and path that start-up left, takes ``-c``'s empty entry off the path
    (so nothing in the working directory shadows what serving imports), then imports this module.

    Args:
        received: where no copy of the sources is on disk (inside a container, for
            `parley.coding._runner`): the program takes `parley.coding._reaper`'s source and then
            this module's as the first two messages on the ``SOCK_SEQPACKET`` socket
            ``SOCKET_FD``, and makes them modules, instead of importing them from this file's
            directory. It also leaves its working directory for ``/``. Default False.
    """
    start = (
        "import sys; m = frozenset(sys.modules); "
        "p = list(sys.path if getattr(sys.flags, 'safe_path', False) else sys.path[1:]); "
    )
    if not received:
        here = os.path.dirname(os.path.abspath(__file__))
        return start + f"sys.path[:] = [{here!r}, *p]; import _warm_python; _warm_python.main(m, p, sys.argv[1:])"
    return (
        start + "sys.path[:] = p; import os; os.chdir('/')\n"
        "for n in ('_reaper', '_warm_python'):\n"
        "    s = sys.modules[n] = type(sys)(n); s.__file__ = n + '.py'\n"
        "    exec(compile(os.read(int(sys.argv[1]), 1 << 22), s.__file__, 'exec'), s.__dict__)\n"
        "sys.modules['_warm_python'].main(m, p, sys.argv[1:])\n"
    )


def can_serve(env: Mapping[str, str]) -> bool:
    """Whether a template started with ``env`` serves its runs as a fresh interpreter would.

    Not when ``PYTHONPATH`` names a relative directory: start-up would resolve it against the
    template's working directory, not the block's.
    """
    return not any(entry and not os.path.isabs(entry) for entry in env.get("PYTHONPATH", "").split(os.pathsep))


class _Script(BaseException):
    """Raised in a block's process to leave the server's frames and run ``path`` (never caught elsewhere).

    A block forked ahead of its run (`_Template.fork_ahead`) has no path yet: ``waiting`` is the
    socket its run comes on (see `_Template.wait`).
    """

    def __init__(self, path: str | None, waiting: Any = None) -> None:
        super().__init__(path)
        self.path = path
        self.waiting = waiting


class _Template:
    """What start-up left, recorded before serving changes anything."""

    def __init__(self, modules: frozenset[str], path: list[str]) -> None:
        import _signal  # type: ignore[import-not-found]  # built in, already imported by start-up

        self.modules = modules
        self.path = path
        self.signals = {
            number: _signal.getsignal(number)
            for number in (getattr(_signal, name, None) for name in _SIGNALS)
            if number is not None
        }

    def spawn(self, argv: list[str], stdout: int | None, env: dict[str, str] | None) -> int | None:
        """Fork the run ``[python, FILE]``; in the child, leave for `main` to run ``FILE``.

        ``env`` is the template's own environment (the host chose the template by it).
        """
        pid = os.fork()
        if pid:
            return pid
        try:
            self._reset(stdout)
            _HELD["set_dumpable"](True)  # the template is not (see `_reaper._set_dumpable`); a fresh interpreter is
        except BaseException:
            os._exit(127)
        raise _Script(argv[1])

    def fork_ahead(self) -> tuple[int, Any] | None:
        """Fork a run's block before its run: it waits for its script (`run_ahead`); None when it cannot.

        Everything a forked block does before its script (the fork, `_reset`, leaving the
        server's frames) is then done while no run waits for it. Until its run comes the block
        is not dumpable (nothing below the server can read or write its memory), holds only its
        socket, and a block that is never run ends when the socket closes, having run nothing.
        """
        core = _HELD["_socket"]
        ours, theirs = core.socketpair(core.AF_UNIX, core.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid:
            theirs.close()
            return pid, ours
        try:
            ours.close()
            self._reset(None, keep=theirs.fileno())
        except BaseException:
            os._exit(127)
        raise _Script(None, theirs)

    @staticmethod
    def run_ahead(ahead: tuple[int, Any], argv: list[str], cwd: str) -> int | None:
        """Start the run ``[python, FILE]`` in ``cwd`` in the block `fork_ahead` made; its pid, or None.

        Its stdout and stderr are this process's (the run's pipe). None when that block is gone.
        """
        pid, channel = ahead
        core = _HELD["_socket"]
        try:
            os.kill(pid, _HELD["_signal"].SIGCONT)  # a block may have stopped it (same user)
            channel.sendmsg(
                [_HELD["marshal"].dumps((cwd, argv[1]), 4)], [(core.SOL_SOCKET, core.SCM_RIGHTS, _fd_bytes([1]))]
            )
        except OSError:
            return None
        finally:
            channel.close()
        return pid

    @staticmethod
    def wait(channel: Any) -> str:
        """In a block forked ahead: wait for its run, take its output and directory; return its script.

        Leaves (having run nothing) when the socket closes first.
        """
        try:
            message, fds = _HELD["reaper"]._receive(channel, _HELD["_socket"], REQUEST_BYTES)
        except OSError:
            os._exit(0)
        channel.close()
        if not message or len(fds) != 1:
            os._exit(0)
        os.dup2(fds[0], 1)
        os.dup2(fds[0], 2)
        os.close(fds[0])
        cwd, path = _HELD["marshal"].loads(message)
        _HELD["set_dumpable"](True)
        try:
            os.chdir(cwd)
        except OSError as exc:
            _HELD["reaper"]._write_all(f"cannot enter the working directory {cwd!r}: {exc.strerror}\n".encode(), 2)
            os._exit(127)
        return str(path)

    def rehearse(self) -> None:
        """In a block forked ahead, before its run comes: do once what every block's start and end do.

        A block's first write to a page it shares with the template (a reference count, as a
        rule) is a copy-on-write fault: about 140 of them for ``print(1)`` here, once the run
        had come. This runs a ``print(1)`` script the way `run` does, from reading it to
        collecting its garbage, with stdout and stderr on ``/dev/null``, so most of them happen
        while no run waits. It leaves nothing the script could see: `run` makes ``__main__``
        afresh and sets stdout and stderr, and a stream whose encoder keeps a state (a BOM not
        yet written) is not printed to.
        """
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        try:
            _forget(self.modules, self.path)
            main = _main_module(os.path.join(os.path.dirname(os.devnull), "rehearsal.py"))
            with open(os.devnull, "rb") as file:
                source = file.read() + b"print(1)\n"
            quiet = str(getattr(sys.stdout, "encoding", "")).lower() not in ("utf-8", "utf8")
            exec(
                compile(source, main.__file__, "exec", dont_inherit=True),
                {**main.__dict__, "print": _quiet} if quiet else main.__dict__,
            )
            main.__dict__.clear()
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            _HELD["gc"].collect()
        except BaseException:  # a rehearsal only saves time: the run does it all again
            pass

    def _reset(self, stdout: int | None, keep: int | None = None) -> None:
        """Give the forked child the signals and file descriptors a fresh interpreter has (and ``keep``)."""
        _signal = _HELD["_signal"]
        _signal.set_wakeup_fd(-1)
        for number, handler in self.signals.items():
            _signal.signal(number, handler)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        if stdout is not None:
            os.dup2(stdout, 1)
            os.dup2(stdout, 2)
        if keep is None:
            os.closerange(3, _max_fd())
        else:
            os.closerange(3, keep)
            os.closerange(keep + 1, _max_fd())

    def settle(self) -> None:
        """In the template, once serving has imported all it needs: forget what serving imported.

        Every module imported to serve leaves ``sys.modules``, and every path entry other than
        start-up's leaves ``sys.path_importer_cache`` (this module's directory, and ``-c``'s ``''``).
        Serving keeps the modules it uses through its own references. Done here once, not in each
        block: dropping them there wrote to (and so copied) about 150 of the template's pages a
        block (~0.7 ms here). `run` still drops whatever is left, should serving import more later.
        Then everything the template holds is frozen out of the garbage collector's reach.
        """
        _forget(self.modules, self.path)
        _HELD["gc"].freeze()  # what the template holds is never garbage: a block's collections skip it

    def run(self, path: str) -> NoReturn:
        """Run the script at ``path`` as ``__main__`` of a fresh module state, then exit as the interpreter does."""
        sys.path[:] = self.path if getattr(sys.flags, "safe_path", False) else [os.path.dirname(path), *self.path]
        _forget(self.modules, sys.path)
        sys.argv = [path]
        if hasattr(sys, "orig_argv"):
            sys.orig_argv = [sys.executable, path]
        main = _main_module(path)
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError as exc:
            sys.stderr.write(f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}\n")
            _leave(2, main)
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            sys.excepthook(type(exc), exc.with_traceback(None), None)
            _leave(1, main)
        del source
        _leave(_execute(code, main.__dict__), main)


def _quiet(*args: object, **kwargs: Any) -> None:
    """``print`` for a rehearsal whose stdout must not be written to (see `_Template.rehearse`)."""


def _forget(modules: frozenset[str], path: list[str]) -> None:
    """Drop from ``sys.modules`` the names not in ``modules``; from the importer cache, the entries not in ``path``."""
    for name in [name for name in sys.modules if name not in modules]:
        del sys.modules[name]
    for entry in [entry for entry in sys.path_importer_cache if entry not in path]:
        del sys.path_importer_cache[entry]


def _execute(code: Any, namespace: dict[str, Any]) -> int:
    """Execute the script's code; return the exit status the interpreter would give it.

    An uncaught exception is printed as the interpreter prints it (1; 130 for
    ``KeyboardInterrupt``), ``SystemExit`` as the interpreter handles it.
    """
    try:
        exec(code, namespace)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except BaseException as exc:
        tb = exc.__traceback__
        tb = tb.tb_next if tb is not None else None  # this function's frame is not the script's
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        del exc, tb
        return status
    return 0


def _exit_status(code: object) -> int:
    """The status ``SystemExit(code)`` ends an interpreter with; a code neither None nor int is printed."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:  # noqa: SIM105 - contextlib is not among what start-up imported
        sys.stderr.write(f"{code}\n")
    except BaseException:
        pass
    return 1


def _leave(status: int, main: Any) -> NoReturn:
    """Exit as the interpreter does, without tearing down the modules the template had.

    Non-daemon threads are joined, ``atexit`` handlers run, ``__main__``'s globals are dropped
    and cyclic garbage collected (so an unclosed file is flushed and closed), and stdout and
    stderr are flushed. The interpreter's own teardown would also clear every module the
    template imported, and writing to all of those shared pages costs more than the block
    itself (about 5 ms here), so the process ends with ``os._exit``.
    """
    for step in (_join_threads, _HELD["atexit"]._run_exitfuncs, main.__dict__.clear, _HELD["gc"].collect):
        try:  # noqa: SIM105 - an interrupt while leaving: go on leaving
            step()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - a closed or broken stream: nothing to flush
            stream.flush()
        except BaseException:
            pass
    os._exit(status)


def _join_threads() -> None:
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()


def _main_module(path: str) -> Any:
    """A fresh ``__main__`` for ``path``, with the attributes ``python FILE`` gives it."""
    main = type(sys)("__main__")
    main.__dict__.update(
        __annotations__={},
        __builtins__=_HELD["builtins"],
        __cached__=None,
        __file__=path,
        __loader__=_HELD["SourceFileLoader"]("__main__", path),
        __package__=None,
        __spec__=None,
    )
    sys.modules["__main__"] = main
    return main


_HELD: dict[str, Any] = {}
"""What a block's process needs to start and leave, imported by the template (see `_hold`)."""


def _hold() -> None:
    """Import, in the template, what each block's process would otherwise import after the fork.

    An import in the forked child runs the import machinery (locks, specs, finders), writing to
    dozens of pages the template shares with it, each a copy-on-write fault (``atexit`` alone,
    which start-up does not import, cost ~57 faults a block). The block does not see these in
    ``sys.modules`` (they are dropped as everything serving imported), only this module holds them.
    """
    import _signal
    import _socket
    import atexit
    import builtins
    import gc
    import marshal
    import select
    from _frozen_importlib_external import SourceFileLoader

    import _reaper  # type: ignore[import-not-found]  # on the path the bootstrap gave

    _HELD.update(
        _socket=_socket,
        marshal=marshal,
        select=select,
        reaper=_reaper,
        _signal=_signal,
        atexit=atexit,
        builtins=builtins,
        gc=gc,
        SourceFileLoader=SourceFileLoader,
        set_dumpable=_reaper._set_dumpable,
    )


def _fd_bytes(fds: list[int]) -> bytes:
    """File descriptors as ``SCM_RIGHTS`` carries them (C ints)."""
    return b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):
        return 65536


def main(modules: frozenset[str], path: list[str], args: list[str]) -> NoReturn:
    """Serve runs on the socket ``args[0]`` until the host closes it; in a run's block, run its script.

    Args:
        modules: the names in ``sys.modules`` when start-up was done.
        path: ``sys.path`` as start-up left it, without ``-c``'s empty entry.
        args: ``[SOCKET_FD]``, then ``REUSE_REAPERS`` to have reapers serve one run after another
            (`parley.coding._warm_reapers`; the host on this machine asks for it).
    """
    template = _Template(modules, path)
    from _reaper import serve  # on the path the bootstrap gave

    reuse = None
    if args[1:] == [REUSE_REAPERS]:
        from _warm_reapers import Reapers  # type: ignore[import-not-found]  # beside this module (not sent to containers)

        reuse = Reapers(template)
    sys.path[:] = path
    _hold()
    try:
        code = serve(
            int(args[0]), spawn=template.spawn, on_ready=template.settle, reuse=reuse, max_request=REQUEST_BYTES
        )
    except _Script as script:
        script_path, waiting = script.path, script.waiting
    else:
        raise SystemExit(code)
    if waiting is not None:
        template.rehearse()
        script_path = template.wait(waiting)
    assert script_path is not None
    template.run(script_path)  # outside the handler: the block must not see _Script as its context
