"""A real Jupyter Kernel Gateway for the tests: one per session, on a free loopback port, with a token.

`running_gateway` starts it on first use (``python -m jupyter kernelgateway``, from the
``jupyter`` extra) and waits until ``/api`` answers; `stop_gateway` ends it (conftest calls it
when the session ends). Its kernels run this interpreter's ``python3`` kernel spec, in a
directory of their own (`Gateway.root`), and the gateway lists its kernels
(``GET /api/kernels``) so tests can check that none is left behind. Without the gateway, or when
it cannot start, the tests that need it skip, each with the same reason; with ``CI=true`` they
fail instead (`conftest.require`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import require

from parley.coding.jupyter import JupyterConnectionInfo

from ._kernel_env import kernel_problem

_START_TIMEOUT_S = 60.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Gateway:
    """A running gateway.

    Attributes:
        url: its base URL, ``http://127.0.0.1:<port>``.
        token: the token it wants.
        root: the directory its kernels work in.
        process: the gateway's process.
        log: its stdout and stderr.
    """

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def connection(self) -> JupyterConnectionInfo:
        """Where it is, as executors take it."""
        return JupyterConnectionInfo.from_url(f"{self.url}/?token={self.token}")

    def get(self, path: str) -> object:
        """``GET path`` with the token; the decoded JSON."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with _NO_PROXY.open(request, timeout=10) as response:
            return json.loads(response.read())

    def kernel_ids(self) -> set[str]:
        """The ids of the kernels it runs now."""
        kernels = self.get("/api/kernels")
        assert isinstance(kernels, list)
        return {str(k["id"]) for k in kernels}


_gateway: Gateway | None = None


@functools.cache
def gateway_problem() -> str | None:
    """Why no gateway can run here, or None when one can."""
    if importlib.util.find_spec("kernel_gateway") is None:
        return "jupyter-kernel-gateway is not installed: pip install 'parley[jupyter]'"
    return kernel_problem()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(root: Path, token: str) -> Gateway:
    port = _free_port()
    log = root.parent / f"{root.name}-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # kernels pick matplotlib's inline backend
    command = [
        sys.executable, "-m", "jupyter", "kernelgateway",
        "--KernelGatewayApp.ip=127.0.0.1",
        f"--KernelGatewayApp.port={port}",
        "--KernelGatewayApp.port_retries=0",
        f"--KernelGatewayApp.auth_token={token}",
        "--JupyterWebsocketPersonality.list_kernels=True",
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", token, root, process, log)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            gateway.get("/api")
            return gateway
        time.sleep(0.05)
    _end(process)
    raise RuntimeError(f"the gateway did not answer on port {port}:\n{log.read_text(errors='replace')[-2000:]}")


def _end(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@functools.cache
def _start_once() -> Gateway | str:
    """The session's gateway, or why it did not start (tried on three ports)."""
    global _gateway
    root = Path(tempfile.gettempdir()) / f"parley-test-gateway-{os.getpid()}"
    root.mkdir(exist_ok=True)
    token = secrets.token_hex(16)
    why = ""
    for _ in range(3):  # a free port may be taken before the gateway binds it
        try:
            _gateway = _start(root, token)
            return _gateway
        except RuntimeError as exc:
            why = str(exc)
    return why


def running_gateway() -> Gateway:
    """The session's gateway, started on first use; skips the calling test when it cannot run (fails on CI)."""
    problem = gateway_problem()
    require(problem is None, f"a Jupyter Kernel Gateway ({problem})")
    started = _start_once()
    require(isinstance(started, Gateway), f"a Jupyter Kernel Gateway (it did not start: {started})")
    assert isinstance(started, Gateway)
    return started


def started_gateway() -> Gateway | None:
    """The session's gateway if a test started it, else None."""
    return _gateway


def stop_gateway() -> None:
    """End the session's gateway, if it was started, and remove its directory."""
    global _gateway
    gateway, _gateway = _gateway, None
    _start_once.cache_clear()
    if gateway is not None:
        _end(gateway.process)
        shutil.rmtree(gateway.root, ignore_errors=True)
        gateway.log.unlink(missing_ok=True)
