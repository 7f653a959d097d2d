"""Peer side of the gateway-executor benchmark: AutoGen 0.2.35's JupyterCodeExecutor.

Each sample measures ``block_ms``: a ``print(1)`` block through
``autogen.coding.jupyter.JupyterCodeExecutor`` on a warm kernel of the orchestrator's gateway
(its kernel is started by the constructor, as 0.2 does), in milliseconds.

Config: ``port`` and ``token`` of the gateway on 127.0.0.1. Run by the orchestrator inside the
peer venv, which needs ``websocket-client`` and ``requests`` (its ``jupyter-executor`` extra).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _protocol import Close, Sample, serve


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    import websocket
    from autogen.coding import CodeBlock
    from autogen.coding.jupyter import JupyterCodeExecutor, JupyterConnectionInfo

    tmp = tempfile.TemporaryDirectory(prefix="peer-gateway-exec-")
    server = JupyterConnectionInfo(host="127.0.0.1", use_https=False, port=config["port"], token=config["token"])
    executor = JupyterCodeExecutor(server, timeout=60, output_dir=tmp.name)
    block = [CodeBlock(code="print(1)", language="python")]

    def sample() -> dict[str, float]:
        start = time.perf_counter()
        result = executor.execute_code_blocks(block)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0 or result.output.strip() != "1":
            raise RuntimeError(f"print(1) failed: exit {result.exit_code}, output {result.output!r}")
        return {"block_ms": elapsed * 1e3}

    def close() -> None:
        executor.stop()  # deletes its kernel on the gateway
        tmp.cleanup()

    info = {"autogen": autogen.__version__, "websocket-client": websocket.__version__}
    return sample, info, close


if __name__ == "__main__":
    serve(setup)
