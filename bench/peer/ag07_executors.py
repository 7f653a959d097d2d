"""AutoGen 0.7 peer of the executor benchmarks: ``autogen-ext``'s local, Docker and Jupyter executors.

Each sample runs one ``print(1)`` block (``CodeBlock(code="print(1)", language="python")``)
through ``await executor.execute_code_blocks(blocks, CancellationToken())`` on a started
executor, on one event loop, and reports milliseconds per block. By ``config["executor"]``:

* ``"local"``: ``autogen_ext.code_executors.local.LocalCommandLineCodeExecutor`` (it runs python
  blocks with ``sys.executable``): ``block_ms``, plus ``bare_ms``, a bare
  ``subprocess.run([sys.executable, file])`` in the same process, and ``overhead_ms``, their
  paired difference;
* ``"docker"``: ``autogen_ext.code_executors.docker.DockerCommandLineCodeExecutor`` on
  ``config["image"]`` (its ``python`` link added as for 0.2, see ``docker_executor.py``):
  ``block_ms``, plus ``bare_ms``, a bare docker-py ``exec_run(["python3", file])`` in the
  executor's own container, and ``overhead_ms``. 0.7 has no option for the container's network;
  the script creates it with the network off (``network_mode="none"``), as parley does by
  default, which also works on a daemon without a bridge network;
* ``"jupyter"``: ``autogen_ext.code_executors.jupyter.JupyterCodeExecutor`` (a local ipykernel
  driven through nbclient): ``block_ms``, and ``bash_ms`` for ``!echo 1`` (it runs every block
  as IPython).

Config: ``{"executor": "local" | "docker" | "jupyter", "image": str}``. Run by the orchestrator
inside the AutoGen 0.7 venv.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _protocol import Close, Sample, serve

Timed = Callable[[], Awaitable[dict[str, float]]]


def _check(output: str, exit_code: int, what: str) -> None:
    if exit_code != 0 or output.strip() != "1":
        raise RuntimeError(f"{what} failed: exit {exit_code}, output {output!r}")


async def _block_ms(executor: Any, code: str = "print(1)") -> float:
    from autogen_core import CancellationToken
    from autogen_core.code_executor import CodeBlock

    start = time.perf_counter()
    result = await executor.execute_code_blocks([CodeBlock(code=code, language="python")], CancellationToken())
    elapsed = (time.perf_counter() - start) * 1e3
    _check(result.output, result.exit_code, f"{code!r} through the executor")
    return elapsed


async def _local(work: Path, config: dict[str, Any]) -> tuple[Any, Timed, dict[str, str]]:
    from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor

    executor = LocalCommandLineCodeExecutor(timeout=60, work_dir=work)
    await executor.start()
    bare_file = work / "bare.py"
    bare_file.write_text("print(1)\n")

    async def timed() -> dict[str, float]:
        block = await _block_ms(executor)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(bare_file)], capture_output=True, text=True)  # noqa: ASYNC221 - the floor, timed alone
        bare = (time.perf_counter() - start) * 1e3
        _check(done.stdout, done.returncode, "bare subprocess.run of print(1)")
        return {"block_ms": block, "bare_ms": bare, "overhead_ms": block - bare}

    return executor, timed, {"executor python": sys.executable}


async def _docker(work: Path, config: dict[str, Any]) -> tuple[Any, Timed, dict[str, str]]:
    import docker
    from autogen_ext.code_executors.docker import DockerCommandLineCodeExecutor
    from docker_executor import _image_with_python, _network_off

    _network_off()
    client = docker.from_env()
    image = _image_with_python(client, config["image"])
    executor = DockerCommandLineCodeExecutor(image=image, work_dir=work, timeout=60)
    await executor.start()
    await _block_ms(executor)
    (work / "bare.py").write_text("print(1)\n")
    container = client.containers.get(executor.container_name)

    async def timed() -> dict[str, float]:
        block = await _block_ms(executor)
        start = time.perf_counter()
        bare = container.exec_run(["python3", "/workspace/bare.py"])
        bare_ms = (time.perf_counter() - start) * 1e3
        _check(bare.output.decode(), bare.exit_code, "bare exec_run of print(1)")
        return {"block_ms": block, "bare_ms": bare_ms, "overhead_ms": block - bare_ms}

    return executor, timed, {"docker-py": docker.__version__, "image": image}


async def _jupyter(work: Path, config: dict[str, Any]) -> tuple[Any, Timed, dict[str, str]]:
    from autogen_ext.code_executors.jupyter import JupyterCodeExecutor

    executor = JupyterCodeExecutor(timeout=60, output_dir=work)
    await executor.start()

    async def timed() -> dict[str, float]:
        return {"block_ms": await _block_ms(executor), "bash_ms": await _block_ms(executor, "!echo 1")}

    return executor, timed, {}


_KINDS = {"local": _local, "docker": _docker, "jupyter": _jupyter}


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    from importlib.metadata import version

    tmp = tempfile.TemporaryDirectory(prefix="peer07-exec-")
    loop = asyncio.new_event_loop()
    executor, timed, info = loop.run_until_complete(_KINDS[config["executor"]](Path(tmp.name), config))

    def sample() -> dict[str, float]:
        return loop.run_until_complete(timed())

    def close() -> None:
        try:
            loop.run_until_complete(executor.stop())
        finally:
            loop.close()
            tmp.cleanup()

    return sample, {"autogen-ext": version("autogen-ext"), **info}, close


if __name__ == "__main__":
    serve(setup)
