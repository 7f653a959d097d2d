"""`LocalJupyterServer`: a Jupyter Kernel Gateway on this machine (AutoGen 0.2's ``coding.jupyter``).

It runs ``python -m jupyter kernelgateway`` (from the ``jupyter`` extra) with this interpreter,
with a random token by default, and waits until its ``/api`` answers; its `connection_info` is
what `JupyterCodeExecutor` takes::

    with LocalJupyterServer() as server, JupyterCodeExecutor(server) as executor:
        executor.execute_code_blocks([CodeBlock("print(1)", "python")])

It also lists its kernels (``GET /api/kernels``, which a gateway refuses by default), so a caller
can check that none is left behind (`kernel_ids`). Matplotlib's backend is left to the kernel
(``MPLBACKEND`` is removed), so figures come back as images.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from parley.coding._env import code_environment
from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.exceptions import ExecutorUnavailableError, MissingDependencyError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LocalJupyterServer"]

_PORT_ATTEMPTS = 3  # a free port may be taken by someone else before the gateway binds it


def get_json(url: str, token: str, path: str, timeout: float = 10.0) -> Any:
    """``GET`` ``url + path`` with the token in the ``Authorization`` header, bypassing proxies; the decoded JSON.

    Raises:
        OSError: the request failed (``urllib.error.HTTPError`` for an HTTP error), or took over
            ``timeout`` seconds.
    """
    import urllib.request  # imported when a gateway is first asked, not with parley.coding.jupyter

    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(url + path, headers=headers)
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


class LocalJupyterServer:
    """A ``jupyter kernelgateway`` process on this machine; a context manager that starts and stops it.

    The constructor starts nothing. `start` (or entering the context) does; so does the first
    read of `connection_info`, so AutoGen 0.2's ``JupyterCodeExecutor(LocalJupyterServer())``
    works. `stop` ends the gateway, which ends its kernels.

    Args:
        ip: the address to listen on. Default ``"127.0.0.1"`` (this machine only).
        port: the port; default a free one.
        token: True (default) for a random token, a string for that token, or None or False
            for none (anyone who reaches the port may then run code: keep ``ip`` on loopback).
        log_file: where the gateway's log goes; default a file beside its kernels' directory,
            removed by `stop`.
        log_level: the gateway's log level (``"DEBUG"``, ``"INFO"``, ...). Default ``"INFO"``.
        log_max_bytes: accepted for AutoGen 0.2 compatibility; the log is not rotated.
        log_backup_count: accepted for AutoGen 0.2 compatibility.
        root: the directory its kernels work in (created if missing). Default: a new temporary
            directory, removed by `stop`.
        startup_timeout: seconds to wait for the gateway to answer. Default 60.

    Its kernels run this interpreter's ``python3`` kernel spec, and its environment (which they
    inherit) leaves out the variables that look like secrets (`parley.coding._env`).
    """

    _NAME = "Jupyter Kernel Gateway"

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int | None = None,
        token: str | bool | None = True,
        log_file: str | Path | None = None,
        log_level: str = "INFO",
        log_max_bytes: int = 1_048_576,
        log_backup_count: int = 3,
        *,
        root: Path | str | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self._ip = ip
        self._given_port = port
        self._given_root = Path(root) if root is not None else None
        self._startup_timeout = startup_timeout
        self._token = secrets.token_hex(16) if token is True else (token or "")
        self._log_file = Path(log_file) if log_file is not None else None
        self._log_level = log_level
        self._dir: Path | None = None
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._stopped = False

    def _running(self) -> tuple[int, Path]:
        """The port and the kernels' directory of the running gateway.

        Raises:
            RuntimeError: the gateway is not running.
        """
        if self._port is None or self._root is None:
            raise RuntimeError("the gateway is not running: call start() or use it as a context manager")
        return self._port, self._root

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (without the token).

        Raises:
            RuntimeError: the gateway is not running.
        """
        return f"http://{self._host}:{self._running()[0]}"

    @property
    def _host(self) -> str:
        return "127.0.0.1" if self._ip in ("0.0.0.0", "", "::") else self._ip

    @property
    def token(self) -> str:
        """The token the gateway wants ("" for none)."""
        return self._token

    @property
    def root(self) -> Path:
        """The directory its kernels work in.

        Raises:
            RuntimeError: the gateway is not running.
        """
        return self._running()[1]

    @property
    def connection_info(self) -> JupyterConnectionInfo:
        """Where the gateway is, with its token, as `JupyterCodeExecutor` takes it.

        The first read starts a server that was never started; after `stop` it is an error.

        Raises:
            RuntimeError: the server was stopped.
            MissingDependencyError: jupyter-kernel-gateway is not installed.
            ExecutorUnavailableError: it did not start (see `start`).
        """
        if self._process is None and self._stopped:
            raise RuntimeError("this Jupyter server was stopped: start() it again, or make a new one")
        self.start()
        return JupyterConnectionInfo(self._host, port=self._running()[0], token=self._token or None)

    def get(self, path: str) -> Any:
        """``GET`` an API path (``"/api/kernels"``) with the token; the decoded JSON body.

        Raises:
            OSError: the request failed (``urllib.error.HTTPError`` for an HTTP error).
        """
        return get_json(self.url, self._token, path)

    def kernel_ids(self) -> set[str]:
        """The ids of the kernels the gateway runs now."""
        return {str(kernel["id"]) for kernel in self.get("/api/kernels")}

    def start(self) -> Self:
        """Start the gateway and wait until it answers; return self. Does nothing when it runs.

        Raises:
            MissingDependencyError: jupyter-kernel-gateway is not installed.
            ExecutorUnavailableError: it did not answer in time (its log is quoted).
        """
        if self._process is not None:
            return self
        self._check_installed()
        self._dir = Path(tempfile.mkdtemp(prefix="parley-gateway-"))
        self._root = self._given_root or self._dir / "kernels"
        self._root.mkdir(parents=True, exist_ok=True)
        why = ""
        for _ in range(1 if self._given_port else _PORT_ATTEMPTS):
            why = self._try_port(self._given_port or free_port(self._ip))
            if not why:
                return self
        self.stop()
        raise ExecutorUnavailableError(f"The {self._NAME} did not start:\n{why}")

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the gateway (its kernels end with it), wait ``down_for`` seconds, start it again on the same port.

        A gateway restarted this way has no kernel: clients of the old one find theirs gone.

        Raises:
            RuntimeError: the gateway is not running.
            ExecutorUnavailableError: it did not answer again in time (its log is quoted).
        """
        port, _ = self._running()
        self._end_process()
        time.sleep(down_for)
        why = self._try_port(port)
        if why:
            raise ExecutorUnavailableError(f"The {self._NAME} did not start again on port {port}:\n{why}")

    def _check_installed(self) -> None:
        """Raise `MissingDependencyError` when the gateway is not installed."""
        if importlib.util.find_spec("kernel_gateway") is None:
            raise MissingDependencyError("kernel_gateway", "jupyter")

    def _command(self, port: int) -> list[str]:
        """The command that starts the gateway on ``port`` with the token."""
        return [
            sys.executable, "-m", "jupyter", "kernelgateway",
            f"--KernelGatewayApp.ip={self._ip}",
            f"--log-level={self._log_level}",
            f"--KernelGatewayApp.port={port}",
            "--KernelGatewayApp.port_retries=0",
            f"--KernelGatewayApp.auth_token={self._token}",
            "--JupyterWebsocketPersonality.list_kernels=True",
        ]  # fmt: skip

    def _environment(self) -> dict[str, str]:
        """The gateway's environment (its kernels inherit it): no secrets, matplotlib's backend left to the kernel."""
        return {k: v for k, v in code_environment().items() if k != "MPLBACKEND"}

    def _try_port(self, port: int) -> str:
        """Start the gateway on ``port``; return "" once it answers, else the tail of its log."""
        assert self._dir is not None
        assert self._root is not None
        log = self._log_file or self._dir / f"gateway-{port}.log"
        with open(log, "ab") as out:
            self._process = subprocess.Popen(
                self._command(port), cwd=self._root, env=self._environment(), stdout=out, stderr=subprocess.STDOUT
            )
        self._port = port
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            with contextlib.suppress(OSError):
                self.get("/api")
                return ""
            time.sleep(0.05)
        self._end_process()
        return log.read_text(errors="replace")[-2_000:] or f"no answer on port {port}"

    def _end_process(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        """Stop the gateway (SIGTERM, then SIGKILL after 10 s) and remove its files. Idempotent."""
        self._stopped = True
        self._end_process()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
