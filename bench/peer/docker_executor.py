"""Peer side of the Docker benchmarks: AutoGen 0.2.35's DockerCommandLineCodeExecutor.

Config: ``{"image": ...}`` for the per-block benchmark, plus ``"mode": "stop"`` for the stop one.

AutoGen 0.2 runs a python block as ``timeout 60 python <file>``; the test image has only
``python3``, so set-up derives ``<image>-python`` from it once (the same image plus a ``python``
link) with ``docker commit``, and the executor runs that. Neither AutoGen version has an option for
the container's network, so set-up has docker-py create containers with the network off
(``network_mode="none"``) unless one is asked for: parley's default, and what a daemon without a
bridge network needs (``ag07_executors.py`` does the same).

* per block: ``block_ms`` (a ``print(1)`` block through the executor), ``bare_ms`` (a bare
  docker-py ``exec_run(["python3", file])`` in the executor's own container) and ``overhead_ms``
  (their paired difference), in milliseconds;
* stop: ``first_block_s`` (constructing the executor, which starts the container, plus one
  block) and ``stop_s`` (``stop()``), in seconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from _protocol import Close, Sample, serve


def _image_with_python(client: Any, image: str) -> str:
    import docker

    derived = f"{image.replace(':', '-')}:python"
    try:
        client.images.get(derived)
    except docker.errors.ImageNotFound:
        container = client.containers.run(image, ["ln", "-s", "/usr/bin/python3", "/usr/local/bin/python"], detach=True)
        container.wait()
        container.commit(*derived.split(":"))
        container.remove()
    return derived


def _network_off() -> None:
    """Have docker-py create containers with the network off unless a network is asked for."""
    from docker.models.containers import ContainerCollection

    create = ContainerCollection.create
    if getattr(create, "network_off", False):
        return

    def create_offline(self: Any, image: str, command: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("network_mode", "none")
        return create(self, image, command, **kwargs)

    create_offline.network_off = True  # type: ignore[attr-defined]
    ContainerCollection.create = create_offline  # type: ignore[method-assign]


def _check(output: str, exit_code: int, what: str) -> None:
    if exit_code != 0 or output.strip() != "1":
        raise RuntimeError(f"{what} failed: exit {exit_code}, output {output!r}")


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    import docker
    from autogen.coding import CodeBlock, DockerCommandLineCodeExecutor

    _network_off()
    client = docker.from_env()
    image = _image_with_python(client, config["image"])
    tmp = tempfile.TemporaryDirectory(prefix="peer-docker-")
    work = Path(tmp.name)
    block = [CodeBlock(code="print(1)", language="python")]
    info = {"autogen": autogen.__version__, "docker-py": docker.__version__, "image": image}

    if config.get("mode") == "stop":

        def sample_stop() -> dict[str, float]:
            start = time.perf_counter()
            executor = DockerCommandLineCodeExecutor(image=image, work_dir=work, timeout=60)
            try:
                result = executor.execute_code_blocks(block)
                first = time.perf_counter() - start
                _check(result.output, result.exit_code, "print(1) in a fresh container")
            finally:
                start = time.perf_counter()
                executor.stop()
                stop = time.perf_counter() - start
            return {"first_block_s": first, "stop_s": stop}

        def close_stop() -> None:
            client.close()
            tmp.cleanup()

        return sample_stop, info, close_stop

    executor = DockerCommandLineCodeExecutor(image=image, work_dir=work, timeout=60)
    _check(executor.execute_code_blocks(block).output, 0, "the first print(1)")
    (work / "bare.py").write_text("print(1)\n")
    container = client.containers.get(executor._container.name)

    def sample() -> dict[str, float]:
        start = time.perf_counter()
        result = executor.execute_code_blocks(block)
        block_ms = (time.perf_counter() - start) * 1e3
        _check(result.output, result.exit_code, "print(1) through the executor")
        start = time.perf_counter()
        bare = container.exec_run(["python3", "/workspace/bare.py"])
        bare_ms = (time.perf_counter() - start) * 1e3
        _check(bare.output.decode(), bare.exit_code, "bare exec_run of print(1)")
        return {"block_ms": block_ms, "bare_ms": bare_ms, "overhead_ms": block_ms - bare_ms}

    def close() -> None:
        executor.stop()
        client.close()
        tmp.cleanup()

    return sample, info, close


if __name__ == "__main__":
    serve(setup)
