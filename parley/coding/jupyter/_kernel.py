"""One local Jupyter kernel process: the only module in parley that imports ``jupyter_client``.

`LocalKernel` starts a kernel from a kernel spec with jupyter_client's ``AsyncKernelManager``,
talks to it with an ``AsyncKernelClient`` and ends it. It knows the messaging protocol's
transport, nothing about code blocks or outputs (see `parley.coding.jupyter._messages`).

Choices worth knowing:

- The kernel listens on IPC (Unix domain) sockets in a private temporary directory, with the
  connection file beside them: no TCP ports to race for, nothing reachable from the network,
  and about half the round-trip time of TCP on loopback. The directory is removed on close.
- The kernel runs under the reaper (`parley.coding._reaper`): a small supervisor, started in
  the kernel's place, that is a child subreaper, so everything the kernel's code starts stays in
  its tree whatever session, process group or environment it chose (``setsid``, double forks),
  and that ends all of it when the kernel exits, dies or is killed, or when this process dies.
  `LocalKernel.kill` stops and kills the reaper's whole tree. The kernel still receives the
  interrupts sent to the process group (the reaper ignores them), so timeouts keep its state.
  Every live kernel is also killed by an ``atexit`` hook.
- Readiness is awaited once, at start; executing does not wait for it again.
- IPython's history database is off in the kernel (``HistoryManager.enabled=False``): agent
  code is not the user's history, and it saves a thread and SQLite writes per cell.
- Matplotlib's inline backend is forced (``MPLBACKEND``), so figures come back as displays
  even when the parent process chose a non-interactive backend.
- The kernel's own stdout and stderr (start-up warnings, crashes) go to a log file that is
  quoted when the kernel fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import queue
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parley.coding._process import kill_tree
from parley.coding._reaper import reaper_argv
from parley.coding.jupyter._leftovers import Leftovers
from parley.exceptions import ConfigError, ExecutorUnavailableError, MissingDependencyError

__all__ = ["LocalKernel", "describe_exit", "kernel_names"]

_LIVE: Leftovers[LocalKernel] = Leftovers()  # kernels started and not yet ended; ended at exit
_LOG_TAIL_CHARS = 2_000


def _jupyter_client() -> Any:
    try:
        import jupyter_client
    except ImportError as exc:
        raise MissingDependencyError("jupyter_client", "jupyter") from exc
    return jupyter_client


def kernel_names() -> list[str]:
    """The names of the kernel specs installed here (``jupyter kernelspec list``).

    Raises:
        MissingDependencyError: jupyter_client is not installed.
    """
    _jupyter_client()
    from jupyter_client.kernelspec import KernelSpecManager

    return sorted(KernelSpecManager().find_kernel_specs())


class LocalKernel:
    """A kernel process started from the kernel spec ``kernel_name``, working in ``cwd``.

    Not thread-safe: one caller at a time (the executors serialise their calls), except `kill`,
    which any thread may call.

    Args:
        kernel_name: the kernel spec to start (``"python3"``).
        cwd: the kernel's working directory; it must exist when `start` is called.
        env: the kernel's environment. Default: this process's.
    """

    def __init__(self, kernel_name: str, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self._kernel_name = kernel_name
        self._cwd = cwd
        self._env = dict(os.environ if env is None else env)
        self._dir: Path | None = None
        self._manager: Any = None
        self._client: Any = None
        self.pid: int | None = None
        """Once started, the pid of the reaper the kernel runs under (the root of its process tree)."""

    async def start(self, timeout: float) -> None:
        """Start the kernel and wait until it answers ``kernel_info``.

        Args:
            timeout: seconds to wait for the kernel to be ready.

        Raises:
            MissingDependencyError: jupyter_client is not installed.
            ConfigError: no kernel spec is named ``kernel_name`` (with the installed names and
                a "did you mean").
            ExecutorUnavailableError: the kernel died or did not answer in time; the message
                quotes the kernel's log. Nothing is left running.
        """
        jupyter_client = _jupyter_client()
        from jupyter_client.kernelspec import NoSuchKernel

        self._dir = Path(tempfile.mkdtemp(prefix="parley-kernel-"))
        manager = jupyter_client.AsyncKernelManager(
            kernel_name=self._kernel_name, transport="ipc", connection_file=str(self._dir / "kernel.json")
        )
        manager.shutdown_wait_time = 1.0
        self._manager = manager
        log = open(self._dir / "kernel.log", "wb")  # noqa: SIM115, ASYNC230 - a local file the kernel writes to
        try:
            _supervised(manager.kernel_spec)  # NoSuchKernel here, before jupyter_client logs it as a crash
            await manager.start_kernel(
                cwd=str(self._cwd),
                env={**self._env, "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
                stdout=log,
                stderr=log,
                extra_arguments=["--HistoryManager.enabled=False"],
            )
            self.pid = manager.provisioner.pid if manager.provisioner is not None else None
            _LIVE.add(self)
            self._client = manager.client()
            self._client.start_channels()
            await self._client.wait_for_ready(timeout=timeout)
        except NoSuchKernel as exc:
            self.kill()
            names = kernel_names()
            raise ConfigError(
                f"No Jupyter kernel named {self._kernel_name!r} is installed (installed: "
                f"{', '.join(names) or 'none'}). Install one with `python -m ipykernel install --user "
                f"--name {self._kernel_name}`, or pass kernel_name= one of those.",
                key="kernel_name",
                suggestions=difflib.get_close_matches(self._kernel_name, names, n=1),
            ) from exc
        except (RuntimeError, TimeoutError, OSError) as exc:
            why = self.log_tail()
            self.kill()
            raise ExecutorUnavailableError(
                f"The Jupyter kernel {self._kernel_name!r} did not start: {exc}. Check that ipykernel is "
                f"installed for the kernel's Python (pip install 'pyparley[jupyter]').\n"
                f"--- kernel log ---\n{why}"
            ) from exc
        except BaseException:
            self.kill()
            raise
        finally:
            log.close()

    def log_tail(self) -> str:
        """The last 2,000 characters of the kernel's own stdout and stderr."""
        if self._dir is None:
            return ""
        try:
            return (self._dir / "kernel.log").read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        except OSError:
            return ""

    async def execute(self, code: str, *, silent: bool = False) -> str:
        """Send an ``execute_request`` and return its ``msg_id``.

        History is off and there is no stdin. ``stop_on_error`` is off, so a request sent while
        an interrupted one is still ending waits its turn instead of being aborted. A ``silent``
        request shows no result and runs no cell hooks.
        """
        return str(
            self._client.execute(code, silent=silent, store_history=False, allow_stdin=False, stop_on_error=False)
        )

    async def comm_msg(self, comm_id: str, data: Mapping[str, Any]) -> str:
        """Send a ``comm_msg`` with ``data`` to the kernel's comm ``comm_id``; return its ``msg_id``.

        The kernel sends no reply to it: what it means arrives on IOPub.
        """
        msg = self._client.session.msg("comm_msg", {"comm_id": comm_id, "data": dict(data)})
        self._client.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    async def iopub(self, timeout: float) -> dict[str, Any] | None:
        """The next IOPub message, or None when none arrives within ``timeout`` seconds."""
        try:
            msg: dict[str, Any] = await self._client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return None
        return msg

    async def reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The shell reply to ``msg_id`` (earlier replies are dropped), or None after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            try:
                msg: dict[str, Any] = await self._client.get_shell_msg(timeout=left)
            except queue.Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    async def exit_status(self) -> int | None:
        """The kernel process's exit status, or None while it runs."""
        if self._manager is None or self._manager.provisioner is None:
            return None
        status: int | None = await self._manager.provisioner.poll()
        if status is not None and status > 128 and status - 128 in signal.valid_signals():
            return 128 - status  # the reaper exits with 128 + N when signal N ended the kernel
        return status

    async def interrupt(self) -> None:
        """Interrupt the running code (SIGINT to the kernel, or an ``interrupt_request``)."""
        await self._manager.interrupt_kernel()

    def ran_after_death(self) -> bool:
        """Always False: a fresh local kernel is a new process on new ports; requests to the dead one die with it."""
        return False

    def take_lost_connection(self) -> str | None:
        """Always None: a local kernel's channels do not drop while it lives."""
        return None

    def describe_exit(self, status: int) -> str:
        """``exit status 1``, or ``killed by SIGKILL`` (see the module's `describe_exit`)."""
        return describe_exit(status)

    async def shutdown(self) -> None:
        """Ask the kernel to shut down (up to 1 s), then kill whatever is left. Idempotent."""
        manager = self._manager
        if manager is not None and self.pid is not None:
            with contextlib.suppress(Exception):  # a dead or wedged kernel is killed below
                self._client.stop_channels()
                await manager.shutdown_kernel(now=False)
        self.kill()

    def kill(self) -> None:
        """Kill the kernel's process tree now and remove its files. Idempotent, any thread.

        Blocks until the processes are gone, for at most about a second.
        """
        if self.pid is not None:
            kill_tree(self.pid, wait=1.0)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.stop_channels()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        _LIVE.discard(self)
        self._client = self._manager = self._dir = None
        self.pid = None


_PYTHON_NAMES = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}


def _supervised(spec: Any) -> None:
    """Make the kernel spec start the kernel under the reaper (its ``{connection_file}`` stays for jupyter_client).

    A spec naming ``python`` runs this interpreter, as jupyter_client itself would decide.
    """
    argv = list(spec.argv)
    if argv and argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    spec.argv = reaper_argv(argv)


def describe_exit(status: int) -> str:
    """``exit status 1``, or ``killed by SIGKILL`` for a negative status (a signal, as subprocess reports it)."""
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"
