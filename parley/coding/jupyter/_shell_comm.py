"""Shell blocks through a comm: no cell to run, and a bash started ahead of time.

A shell block sent as a cell costs a whole ``execute_request`` (IPython compiles the cell, runs
its hooks and transformers, broadcasts ``execute_input``, bumps the execution count) before
the script starts, and then the kernel forks and execs bash. On the embedded kernel both halves
cost more than the target for the whole block. So a kernel that can take comm messages (see
`CommChannel`) gets, in its setup cell, a comm of parley's own (`SERVICE_SOURCE`):

- The block is one ``comm_msg`` carrying ``{"code": ..., "shell": ...}``. ipykernel handles it
  without IPython's ``run_cell``, with ``busy`` and ``idle`` around it and the output streamed
  with the request as parent, as for a cell. The handler runs the script with the same helper as
  the cell path (`parley.coding.jupyter._shell`), inside the output budget
  (`parley.coding.jupyter._limit`), then sends back on the comm, before ``idle``, the exit
  code and the budget's report (the payload a cell's reply would carry): ``{"rc": int,
  "report": {...}}``, or ``{"interrupted": true}`` after a timeout's interrupt, or ``{"error":
  [name, value]}`` when the script could not start.
- After a bash block, once the kernel is idle again, a thread starts the next block's bash
  ahead of time (`WAITER`): a fresh process, in a session of its own, with its output on a pipe,
  that waits for its script on stdin, then puts ``/dev/null`` on stdin and runs it with ``eval``. So
  ``$$``, the state and the exit code are that block's own, and what the script prints is what
  ``bash -c`` prints: a script that does not parse as a whole is run by ``exec bash -c`` in the
  same process instead, so bash's syntax errors read as they always did. The spare is used only
  when the kernel's working directory and ``os.environ`` are what they were when it started (a
  python block may ``os.chdir`` or set a variable); else it is killed and the script starts as
  on the cell path. A spare dies with the kernel (its stdin closes, and the reaper ends the
  kernel's tree), and is never used for ``sh`` (dash starts in about a millisecond anyway, and its
  ``eval`` would prefix every error message with ``eval:``).

A block whose comm gets no answer (the kernel has no such comm) is reported by `run_cell` as a
missing helper, and the executor runs it as a cell instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from parley.coding.jupyter._shell import SHELL_HELPER_SOURCE

__all__ = ["COMM_TARGET", "SERVICE_SOURCE", "WAITER", "CommChannel", "comm_request", "service_setup"]

COMM_TARGET = "parley.shell"
"""The target name of parley's shell comm in the kernel."""

WAITER = (
    '__u=$_; read -r __n || exit 0; __s=; __p=; while [ "$__n" -gt 0 ]; do IFS= read -r __l || exit 0; '
    "__s=\"$__s$__p$__l\"; __p=$'\\n'; __n=$((__n - 1)); done; exec </dev/null; "
    'if eval "__parley_parse() { $__s"$\'\\n\'"}" 2>/dev/null; then '
    "__q=${__u//\\'/\\'\\\\\\'\\'}; BASH_EXECUTION_STRING=$__s; "
    'eval "unset -f __parley_parse; unset __n __s __p __l __u __q; : \'$__q\'; $__s"; else exec "$0" -c "$__s"; fi'
)
"""The bash script a spare runs: read the line count, then the lines, of the block's script from
stdin, then run it. All on one line, so ``$LINENO`` and bash's messages count the script's lines
as ``bash -c`` does; ``$_`` and ``$BASH_EXECUTION_STRING`` are what ``bash -c`` would set."""

SERVICE_SOURCE = r'''
import asyncio, os, signal, subprocess, sys, threading

MAX_SPARE_CHARS = 32768  # bash reads its script byte by byte: a long one starts as on the cell path


def _environ():
    data = getattr(os.environ, "_data", None)
    return dict(data) if data is not None else dict(os.environ)


def _quiet(signum, frame):
    pass


class Service:
    def __init__(self, ipython, helper, waiter):
        self.ipython, self.helper, self.waiter = ipython, helper, waiter
        self.spare = None  # (process, shell, cwd, environment)
        self.pending = None  # the thread starting the spare
        self.comm = None

    def on_msg(self, msg):
        data = msg["content"]["data"]
        code, shell = data["code"], data["shell"]
        limit = getattr(self.ipython, "_parley_limit", None)
        if limit is not None:
            limit.start()
        result = {}
        try:
            # no flush: the kernel flushes after the request, before it says idle
            result["rc"] = self.helper(code, shell, False, self.take(code, shell), False)
        except KeyboardInterrupt:
            result["interrupted"] = True
        except Exception as exc:
            result["error"] = [type(exc).__name__, str(exc)]
        finally:
            if limit is not None:
                try:
                    result["report"] = limit.end()
                except Exception:
                    pass
        self.comm.send(result)
        if shell == "bash":
            self.later(shell)

    def take(self, code, shell):
        if shell == "bash" and self.pending is not None:
            self.pending.join()
            self.pending = None
        spare = self.spare
        if spare is None or spare[1] != shell:
            return None  # kept for the next block of its shell
        self.spare = None
        proc, _, cwd, env = spare
        try:
            if ("\0" not in code and len(code) <= MAX_SPARE_CHARS
                    and proc.poll() is None and os.getcwd() == cwd and _environ() == env):
                proc.stdin.write(b"%d\n" % (code.count("\n") + 1) + os.fsencode(code) + b"\n")
                proc.stdin.close()
                return proc
        except BaseException:
            self.discard(proc)
            raise
        self.discard(proc)
        return None

    def discard(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.wait()
        except Exception:
            pass
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except Exception:
                pass

    def later(self, shell):
        # Between requests the kernel ignores SIGINT, and a child inherits an ignored signal: a no-op
        # handler in its place (put back by ipykernel after this request) ignores it as well, and
        # leaves the child the default, as a block started within a request has.
        kernel = getattr(self.ipython, "kernel", None)
        if getattr(kernel, "saved_sigint_handler", None) is signal.SIG_IGN:
            kernel.saved_sigint_handler = _quiet
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self.start, shell)

    def start(self, shell):
        """Start the spare in a thread: its fork and exec would hold up the kernel's next request."""
        if self.spare is not None or self.pending is not None:
            return
        self.pending = threading.Thread(target=self.prestart, args=(shell,), name="parley-spare-shell", daemon=True)
        self.pending.start()

    def prestart(self, shell):
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            return  # the spare would ignore SIGINT, which a block started within a request does not
        try:
            cwd, env = os.getcwd(), _environ()
            proc = subprocess.Popen([shell, "-c", self.waiter], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except Exception:
            return
        self.spare = (proc, shell, cwd, env)


def serve(comm_id, helper, waiter):
    ipython = get_ipython()
    old = getattr(ipython, "_parley_shell_service", None)
    if old is not None:
        if old.pending is not None:
            old.pending.join()
        if old.spare is not None:
            old.discard(old.spare[0])
    try:
        from comm import create_comm
    except ImportError:
        from ipykernel.comm import Comm as create_comm
    service = Service(ipython, helper, waiter)
    service.comm = create_comm(target_name="parley.shell", comm_id=comm_id)
    service.comm.on_msg(service.on_msg)
    ipython._parley_shell_service = service
'''
"""Python source defining ``serve(comm_id, helper, waiter)``: open the comm ``comm_id``, answer shell blocks on it.

The spare's SIGINT is the default, as for a bash started within a request: between requests the
kernel ignores SIGINT, and an ignored signal is inherited, so the service puts a no-op handler in
its place (ipykernel's ``saved_sigint_handler``, put back after each request), and starts no spare
when SIGINT is ignored all the same.
"""


@runtime_checkable
class CommChannel(Protocol):
    """A kernel that can be sent a ``comm_msg`` (a local kernel; see `parley.coding.jupyter._kernel`)."""

    async def comm_msg(self, comm_id: str, data: Mapping[str, Any]) -> str:
        """Send a ``comm_msg`` with ``data`` to the kernel's comm ``comm_id``; return its ``msg_id``."""
        ...


def service_setup(comm_id: str) -> str:
    """The setup statements that open parley's shell comm ``comm_id`` in a kernel, in a namespace of their own.

    Nothing lands in the user's namespace, so ``%reset`` leaves the comm in place. When the comm
    cannot be opened, the statements do nothing and shell blocks run as cells.
    """
    namespace = "{'__name__': '__parley_shell_comm', 'get_ipython': get_ipython}"
    return (
        f"try:\n    __parley_ns = {namespace}\n    exec({SHELL_HELPER_SOURCE!r}, __parley_ns)\n"
        f"    exec({SERVICE_SOURCE!r}, __parley_ns)\n"
        f"    __parley_ns['serve']({comm_id!r}, __parley_ns['__parley_shell'], {WAITER!r})\n"
        "except Exception:\n    pass\nfinally:\n    __parley_ns = None\n    del __parley_ns\n"
    )


def comm_request(code: str, shell: str) -> dict[str, str]:
    """The data of the ``comm_msg`` that runs ``code`` with ``shell`` (``"bash"`` or ``"sh"``)."""
    return {"code": code, "shell": shell}
