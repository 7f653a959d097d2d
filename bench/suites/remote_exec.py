"""Remote execution: a warm ``print(1)`` through Jupyter Enterprise Gateway and through a remote Docker daemon.

One parley sampler times, in each round, a warm ``print(1)`` block through four executors side by
side, so their ratios come from one run:

* `parley.coding.jupyter.JupyterCodeExecutor` on a real Jupyter Enterprise Gateway on loopback
  (`parley.testing.LocalEnterpriseGateway`, its default local process proxy, from the venv
  ``scripts/enterprise_gateway_setup.sh`` installs);
* the same executor on a real Jupyter Kernel Gateway (`parley.testing.LocalKernelGateway`);
* `parley.coding.DockerCommandLineCodeExecutor` on the local daemon (``work_dir`` bind-mounted);
* the same on the "remote" daemon: a second dockerd on a loopback TCP port with its own data root
  (``scripts/docker_remote_setup.sh``; ``$PARLEY_TEST_DOCKER_HOST``, default
  ``tcp://127.0.0.1:23751``), where files move through the archive API, as with a daemon on
  another machine.

The peer is AutoGen 0.2.35's ``JupyterCodeExecutor`` on the **same** Enterprise Gateway (the
``gateway-exec`` peer script, given this gateway's port and token). 0.2's Docker executor has no
remote mode (it always bind-mounts), so the Docker rows have no peer. Times are ms per block.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register
from bench.suites._shared_gateway import SharedGateway

__all__ = ["RemoteExecSampler"]

IMAGE = os.environ.get("PARLEY_SANDBOX_IMAGE", "parley-sandbox:test")
REMOTE_HOST = os.environ.get("PARLEY_TEST_DOCKER_HOST", "tcp://127.0.0.1:23751")


def _start_gateway() -> Any:
    """Start the Enterprise Gateway both sides use (on loopback, its local process proxy)."""
    from parley.testing import LocalEnterpriseGateway

    return LocalEnterpriseGateway().start()


_GATEWAY = SharedGateway(_start_gateway)


class RemoteExecSampler:
    """Times a warm ``print(1)`` on Enterprise Gateway, Kernel Gateway, and the local and remote Docker daemons."""

    def __init__(self) -> None:
        from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
        from parley.coding.jupyter import JupyterCodeExecutor
        from parley.testing import LocalKernelGateway

        self._stack = contextlib.ExitStack()
        try:
            enterprise = _GATEWAY.acquire()
            self._stack.callback(_GATEWAY.release)
            kernel_gateway = self._stack.enter_context(LocalKernelGateway())
            work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-remote-")))
            self._executors: dict[str, Any] = {
                "eg_ms": JupyterCodeExecutor(enterprise, work_dir=work / "eg"),
                "kg_ms": JupyterCodeExecutor(kernel_gateway, work_dir=work / "kg"),
                "docker_ms": DockerCommandLineCodeExecutor(IMAGE, work_dir=work / "docker"),
                "docker_remote_ms": DockerCommandLineCodeExecutor(
                    IMAGE, work_dir=work / "remote", docker_host=REMOTE_HOST
                ),
            }
            for executor in self._executors.values():
                self._stack.callback(executor.close)
            self._block = [CodeBlock("print(1)", "python")]
            for key in self._executors:
                self._time(key)  # starts each kernel and container
        except BaseException:
            self._stack.close()
            raise
        self.info: Mapping[str, str] = {
            "enterprise gateway": f"{enterprise.url} ({enterprise.python})",
            "kernel gateway": kernel_gateway.url,
            "remote docker daemon": f"{REMOTE_HOST} (second dockerd, own data root, no bind mount)",
        }

    def _time(self, key: str) -> float:
        start = time.perf_counter()
        result = self._executors[key].execute_code_blocks(self._block)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0 or result.output.strip() != "1":
            raise RuntimeError(f"print(1) for {key} failed: exit {result.exit_code}, output {result.output!r}")
        return elapsed * 1e3

    def sample(self) -> dict[str, float]:
        """Return ``eg_ms``, ``kg_ms``, ``docker_ms`` and ``docker_remote_ms``: one warm block each."""
        return {key: self._time(key) for key in self._executors}

    def close(self) -> None:
        """Close the executors (kernels deleted, containers removed), the Kernel Gateway, and release the EG."""
        self._stack.close()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return RemoteExecSampler()


def _against(key: str, base: str, name: str) -> Any:
    def status(medians: Medians) -> str:
        return f"{medians.parley[key] / medians.parley[base]:.2f}× {name}"

    return status


register(
    Benchmark(
        name="remote-exec",
        summary=(
            "a warm `print(1)` through JupyterCodeExecutor on a local Jupyter Enterprise Gateway (peer: 0.2's "
            "JupyterCodeExecutor on the same gateway) and on a Kernel Gateway, and through the Docker executor on "
            "the local daemon and on a second dockerd over TCP (no bind mount: files via the archive API); "
            "ms per block."
        ),
        params=lambda quick: {},
        parley=_parley,
        peer=_GATEWAY.peer,
        metrics=(
            Metric(
                label="Enterprise Gateway executor, warm `print(1)`",
                unit="ms/block",
                parley_key="eg_ms",
                peer_key="block_ms",
                status=_against("eg_ms", "kg_ms", "Kernel Gateway"),
            ),
            Metric(label="Kernel Gateway executor, warm `print(1)` (same run)", unit="ms/block", parley_key="kg_ms"),
            Metric(
                label="Docker executor, remote daemon over TCP (archive API), warm `print(1)`",
                unit="ms/block",
                parley_key="docker_remote_ms",
                status=_against("docker_remote_ms", "docker_ms", "local daemon"),
            ),
            Metric(
                label="Docker executor, local daemon (bind mount), warm `print(1)` (same run)",
                unit="ms/block",
                parley_key="docker_ms",
            ),
        ),
        reps=20,
        quick_reps=4,
        warmup=2,
    )
)
