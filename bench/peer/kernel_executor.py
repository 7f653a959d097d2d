"""Peer side of the kernel-executor benchmark: AutoGen 0.2.35's EmbeddedIPythonCodeExecutor.

Each sample measures, in milliseconds per block:

* ``block_ms``: a ``print(1)`` block through ``autogen.coding.jupyter.EmbeddedIPythonCodeExecutor``
  (its kernel started once, in the constructor, and warm);
* ``bare_ms``: a bare jupyter-client execute of ``print(1)`` on a second warm kernel with
  jupyter-client's defaults (TCP, ``BlockingKernelClient``), as 0.2 uses them: execute, IOPub
  until idle, shell reply; ``overhead_ms`` is ``block_ms - bare_ms`` of the same sample;
* ``bash_ms``: ``!echo 1`` through the executor (0.2 runs every block as IPython).

Config: none. Run by the orchestrator inside the peer venv, which needs ipykernel and
jupyter-client (the orchestrator installs them).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _protocol import Close, Sample, serve


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    import jupyter_client
    from autogen.coding import CodeBlock
    from autogen.coding.jupyter import EmbeddedIPythonCodeExecutor

    tmp = tempfile.TemporaryDirectory(prefix="peer-kernel-exec-")
    executor = EmbeddedIPythonCodeExecutor(timeout=60, output_dir=tmp.name)
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=tmp.name)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)

    def through_executor(code: str) -> float:
        start = time.perf_counter()
        result = executor.execute_code_blocks([CodeBlock(code=code, language="python")])
        elapsed = time.perf_counter() - start
        if result.exit_code != 0 or result.output.strip() != "1":
            raise RuntimeError(f"{code!r} failed: exit {result.exit_code}, output {result.output!r}")
        return elapsed * 1e3

    def bare() -> float:
        start = time.perf_counter()
        msg_id = client.execute("print(1)", store_history=False)
        out = []
        while True:
            msg = client.get_iopub_msg()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while client.get_shell_msg()["parent_header"].get("msg_id") != msg_id:
            pass
        elapsed = time.perf_counter() - start
        if "".join(out).strip() != "1":
            raise RuntimeError(f"bare print(1) printed {out!r}")
        return elapsed * 1e3

    which = executor.execute_code_blocks([CodeBlock(code="import sys; print(sys.executable)", language="python")])
    info = {
        "autogen": autogen.__version__,
        "jupyter_client": jupyter_client.__version__,
        "kernel python": which.output.strip(),
        "transport": "tcp (jupyter-client default, executor and bare kernel)",
    }

    def sample() -> dict[str, float]:
        block, floor = through_executor("print(1)"), bare()
        bash = through_executor("!echo 1")
        return {"block_ms": block, "bare_ms": floor, "overhead_ms": block - floor, "bash_ms": bash}

    def close() -> None:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        executor._kernel_client.stop_channels()  # 0.2 has no close(); its kernel would outlive us
        executor._kernel_manager.shutdown_kernel(now=True)
        tmp.cleanup()

    return sample, info, close


if __name__ == "__main__":
    serve(setup)
