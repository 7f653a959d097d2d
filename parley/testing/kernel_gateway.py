"""A real Jupyter Kernel Gateway on this machine, for tests, benchmarks and examples of `JupyterCodeExecutor`.

`LocalKernelGateway` is `parley.coding.jupyter.LocalJupyterServer` on a free loopback port with a
random token, whose `connection_info` never starts it (a test reads it only from a running
gateway)::

    with LocalKernelGateway() as gateway, JupyterCodeExecutor(gateway) as executor:
        executor.execute_code_blocks([CodeBlock("print(1)", "python")])

It is a real server, not a double: nothing is scripted, and its IOPub rate limit is the
server's default (1 MB/s), as on a gateway elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.coding.jupyter.local_jupyter_server import LocalJupyterServer

__all__ = ["LocalKernelGateway"]


class LocalKernelGateway(LocalJupyterServer):
    """A ``jupyter kernelgateway`` process on 127.0.0.1 (see `LocalJupyterServer`).

    Args:
        root: the directory its kernels work in (created if missing). Default: a new temporary
            directory, removed by `stop`.
        startup_timeout: seconds to wait for the gateway to answer. Default 60.
    """

    def __init__(self, root: Path | str | None = None, *, startup_timeout: float = 60.0) -> None:
        super().__init__(root=root, startup_timeout=startup_timeout)

    @property
    def connection_info(self) -> JupyterConnectionInfo:
        """Where the running gateway is, with its token.

        Raises:
            RuntimeError: the gateway is not running.
        """
        return JupyterConnectionInfo("127.0.0.1", port=self._running()[0], token=self.token)
