"""Gateway executor: milliseconds for a warm python ``print(1)`` block in a kernel on a Jupyter Kernel Gateway.

parley's `parley.coding.jupyter.JupyterCodeExecutor` against AutoGen 0.2.35's
``autogen.coding.jupyter.JupyterCodeExecutor``, each on a warm kernel of its own on the **same**
gateway: a real ``jupyter kernelgateway`` on loopback (`parley.testing.LocalKernelGateway`,
started with parley's interpreter by whichever side is built first and stopped after the last).
Both talk the gateway's REST API and the kernel's websocket; 0.2 through ``requests`` and
``websocket-client`` (installed with its ``jupyter-executor`` extra, as for ``kernel-exec``).

Each sample checks that the block printed ``1``. Times are milliseconds per block; parley is
measured through its async API and through its sync API.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Metric, Sampler, register
from bench.suites._shared_gateway import SharedGateway

__all__ = ["GatewayExecSampler"]


def _start_gateway() -> Any:
    """Start the Kernel Gateway both sides use (on loopback)."""
    from parley.testing import LocalKernelGateway

    return LocalKernelGateway().start()


_GATEWAY = SharedGateway(_start_gateway)


def _check(output: str, exit_code: int, what: str) -> None:
    if exit_code != 0 or output.strip() != "1":
        raise RuntimeError(f"{what} failed: exit {exit_code}, output {output!r}")


class GatewayExecSampler:
    """Times parley's gateway executor (async and sync API) on a warm kernel."""

    def __init__(self) -> None:
        from parley._sync import run_sync
        from parley.coding import CodeBlock
        from parley.coding.jupyter import JupyterCodeExecutor

        self._run = run_sync
        self._stack = contextlib.ExitStack()
        gateway = _GATEWAY.acquire()
        self._stack.callback(_GATEWAY.release)
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-gateway-")))
        self._executor = JupyterCodeExecutor(gateway.connection_info, timeout=60, work_dir=work)
        self._stack.callback(self._executor.close)
        run_sync(self._executor.a_start())
        self._python = [CodeBlock(code="print(1)", language="python")]
        self.info: Mapping[str, str] = {"gateway": f"{gateway.url} (jupyter kernelgateway, loopback)"}

    def sample(self) -> dict[str, float]:
        """Return ``block_ms`` (async API) and ``sync_ms`` (sync API)."""
        start = time.perf_counter()
        result = self._run(self._executor.a_execute_code_blocks(self._python))
        block = time.perf_counter() - start
        _check(result.output, result.exit_code, "print(1) through the async API")
        start = time.perf_counter()
        result = self._executor.execute_code_blocks(self._python)
        sync = time.perf_counter() - start
        _check(result.output, result.exit_code, "print(1) through the sync API")
        return {"block_ms": block * 1e3, "sync_ms": sync * 1e3}

    def close(self) -> None:
        """Delete the kernel, release the gateway, remove the working directory."""
        self._stack.close()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return GatewayExecSampler()


register(
    Benchmark(
        name="gateway-exec",
        summary=(
            "a warm `print(1)` block through each JupyterCodeExecutor, each on its own kernel of one local "
            "`jupyter kernelgateway` (REST + the kernel's websocket); ms per block."
        ),
        params=lambda quick: {},
        parley=_parley,
        peer=_GATEWAY.peer,
        metrics=(
            Metric(
                label="Gateway executor, warm `print(1)` (parley: async API)",
                unit="ms/block",
                parley_key="block_ms",
                peer_key="block_ms",
            ),
            Metric(
                label="Gateway executor, warm `print(1)`, parley's sync API",
                unit="ms/block",
                parley_key="sync_ms",
                peer_key="block_ms",
            ),
        ),
        reps=40,
        quick_reps=8,
        warmup=3,
    )
)
