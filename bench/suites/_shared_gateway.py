"""A gateway both sides of one benchmark use, and the peer side that runs on it (not a benchmark itself).

`SharedGateway` starts its gateway when the first side is built and stops it when the last side
closes, so parley and AutoGen 0.2 are measured on the same server. `SharedGateway.peer` builds
the peer side: 0.2's ``JupyterCodeExecutor`` worker (``bench/peer/gateway_executor.py``) on it.
``gateway-exec`` shares a Jupyter Kernel Gateway this way, ``remote-exec`` an Enterprise Gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.peer_venv import PeerWorker
from bench.registry import Sampler
from bench.suites.kernel_executor import ensure_peer_jupyter

__all__ = ["SharedGateway"]


class SharedGateway:
    """A gateway started on first use and stopped once no side uses it.

    Args:
        start: starts the gateway and returns it (a `parley.testing.LocalKernelGateway` or
            `parley.testing.LocalEnterpriseGateway`, started); called at the first `acquire`.
    """

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start
        self._gateway: Any = None
        self._users = 0

    def acquire(self) -> Any:
        """The gateway, started if no side uses it yet; match each call with one `release`."""
        if self._gateway is None:
            self._gateway = self._start()
        self._users += 1
        return self._gateway

    def release(self) -> None:
        """Stop the gateway once no side uses it."""
        self._users -= 1
        if self._users == 0 and self._gateway is not None:
            gateway, self._gateway = self._gateway, None
            gateway.stop()

    def peer(self, python: Path, params: Mapping[str, Any]) -> Sampler:
        """The peer side (a `bench.registry.PeerFactory`): 0.2's gateway-executor worker on this gateway."""
        ensure_peer_jupyter(python)
        gateway = self.acquire()
        try:
            config = {"port": gateway.connection_info.port, "token": gateway.token}
            worker = PeerWorker(python, "gateway_executor.py", config)
        except BaseException:
            self.release()
            raise
        return _PeerOnGateway(worker, self.release)


class _PeerOnGateway:
    """The peer worker, holding the shared gateway until it is closed."""

    def __init__(self, worker: PeerWorker, release: Callable[[], None]) -> None:
        self._worker = worker
        self._release = release
        self.info = worker.info

    def sample(self) -> dict[str, float]:
        return self._worker.sample()

    def close(self) -> None:
        try:
            self._worker.close()
        finally:
            self._release()
