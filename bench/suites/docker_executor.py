"""Docker executor: milliseconds per python ``print(1)`` block, and seconds to stop the container.

Two benchmarks, both on the locally built image ``parley-sandbox:test`` (``bash
scripts/docker_setup.sh``; no registry is reachable here):

* ``docker-exec``: one block through parley's `parley.coding.DockerCommandLineCodeExecutor` and
  through AutoGen 0.2.35's ``autogen.coding.DockerCommandLineCodeExecutor``, each in its own warm
  container; each round also runs a bare docker-py ``container.exec_run(["python3", file])`` in
  the same container on each side (the floor) and reports the paired difference
  (``overhead_ms``). parley runs python blocks through its persistent in-container runner, forked
  from a warm ``python3`` there; the same block on the runner with a fresh ``python3`` per block
  (``fork_server=False``), on the plain path (``runner=False``: a ``docker exec`` per block) and
  an ``sh`` ``true`` block on the runner (the runner's own cost, without python) are timed too. AutoGen 0.2
  runs ``python``, which this image lacks, so its side uses the
  same image plus a ``python`` → ``python3`` link (built once by the peer script).
* ``docker-stop``: a fresh executor runs one block (the container starts), then ``close()``
  (0.2: ``stop()``) is timed. AutoGen 0.2's container has ``/bin/sh`` as PID 1, which ignores
  SIGTERM, so Docker waits its 10 s grace before killing it; parley's has Docker's init.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, peer_script, register

__all__ = ["DockerExecSampler", "DockerStopSampler"]

IMAGE = os.environ.get("PARLEY_SANDBOX_IMAGE", "parley-sandbox:test")
TARGET_RUNNER_MS = 10.0
TARGET_STOP_S = 1.0


def _check(output: str, exit_code: int, what: str) -> None:
    if exit_code != 0 or output.strip() != "1":
        raise RuntimeError(f"{what} failed: exit {exit_code}, output {output!r}")


class DockerExecSampler:
    """Times parley's Docker executor and a bare ``exec_run`` on ``print(1)``, alternately, in one container."""

    def __init__(self) -> None:
        import docker

        from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

        self._stack = contextlib.ExitStack()
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-docker-")))
        self._executor = self._stack.enter_context(DockerCommandLineCodeExecutor(image=IMAGE, work_dir=work))
        self._plain = self._stack.enter_context(
            DockerCommandLineCodeExecutor(image=IMAGE, work_dir=work / "plain", runner=False)
        )
        self._cold = self._stack.enter_context(
            DockerCommandLineCodeExecutor(image=IMAGE, work_dir=work / "cold", fork_server=False)
        )
        self._block = [CodeBlock(code="print(1)", language="python")]
        self._true = [CodeBlock(code="true", language="sh")]
        self._executor.execute_code_blocks(self._block)  # starts the container and its runner
        self._plain.execute_code_blocks(self._block)
        self._cold.execute_code_blocks(self._block)
        (work / "bare.py").write_text("print(1)\n")
        self._client = docker.from_env()
        self._stack.callback(self._client.close)
        self._container = self._client.containers.get(self._executor.container_name)
        self.info: Mapping[str, str] = {"image": IMAGE, "docker-py": docker.__version__}

    def _run_block(self, executor: Any = None) -> float:
        start = time.perf_counter()
        result = (executor or self._executor).execute_code_blocks(self._block)
        elapsed = time.perf_counter() - start
        _check(result.output, result.exit_code, "print(1) through the executor")
        return elapsed * 1e3

    def _run_true(self) -> float:
        start = time.perf_counter()
        result = self._executor.execute_code_blocks(self._true)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0:
            raise RuntimeError(f"an sh `true` block failed: {result.output!r}")
        return elapsed * 1e3

    def _run_bare(self) -> float:
        start = time.perf_counter()
        result = self._container.exec_run(["python3", "/workspace/bare.py"])
        elapsed = time.perf_counter() - start
        _check(result.output.decode(), result.exit_code, "bare exec_run of print(1)")
        return elapsed * 1e3

    def sample(self) -> dict[str, float]:
        """Return ``block_ms`` (warm fork), ``cold_ms`` (runner, fresh python3), ``plain_ms`` (exec per block),
        ``true_ms``, ``bare_ms`` and ``overhead_ms``."""
        block, bare, plain, true = self._run_block(), self._run_bare(), self._run_block(self._plain), self._run_true()
        cold = self._run_block(self._cold)
        return {
            "block_ms": block,
            "bare_ms": bare,
            "overhead_ms": block - bare,
            "plain_ms": plain,
            "cold_ms": cold,
            "true_ms": true,
        }

    def close(self) -> None:
        """Close the executor (removing its container) and its working directory."""
        self._stack.close()


class DockerStopSampler:
    """Times ``close()`` of a fresh parley Docker executor that has run one block."""

    def __init__(self) -> None:
        self._work = tempfile.TemporaryDirectory(prefix="parley-bench-docker-stop-")
        self.info: Mapping[str, str] = {"image": IMAGE}

    def sample(self) -> dict[str, float]:
        """Return ``stop_s`` (``close()``) and ``first_block_s`` (the first block, container start included)."""
        from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

        executor = DockerCommandLineCodeExecutor(image=IMAGE, work_dir=self._work.name)
        try:
            start = time.perf_counter()
            result = executor.execute_code_blocks([CodeBlock(code="print(1)", language="python")])
            first = time.perf_counter() - start
            _check(result.output, result.exit_code, "print(1) in a fresh container")
        finally:
            start = time.perf_counter()
            executor.close()
            stop = time.perf_counter() - start
        return {"stop_s": stop, "first_block_s": first}

    def close(self) -> None:
        """Remove the working directory."""
        self._work.cleanup()


def _exec_verdict(m: Medians) -> str:
    block, bare, plain, cold = m.parley["block_ms"], m.parley["bare_ms"], m.parley["plain_ms"], m.parley["cold_ms"]
    verdict = "met" if block <= TARGET_RUNNER_MS else "not met"
    return (
        f"{verdict} ({block:.1f} ms: {bare / block:.1f}× faster than a bare exec_run, {plain / block:.1f}× faster than "
        f"the exec-per-block path, {cold / block:.1f}× faster than a fresh python3 on the runner)"
    )


def _stop_verdict(m: Medians) -> str:
    stop = m.parley["stop_s"]
    return f"{'met' if stop < TARGET_STOP_S else 'not met'} ({stop * 1e3:.0f} ms)"


def _exec(params: Mapping[str, Any]) -> Sampler:
    return DockerExecSampler()


def _stop(params: Mapping[str, Any]) -> Sampler:
    return DockerStopSampler()


register(
    Benchmark(
        name="docker-exec",
        summary=(
            "one python `print(1)` block through each DockerCommandLineCodeExecutor in a warm container of "
            "`parley-sandbox:test`, alternating with a bare docker-py `exec_run` in the same container; ms per block."
        ),
        params=lambda quick: {"image": IMAGE},
        parley=_exec,
        peer=peer_script("docker_executor.py"),
        peer07=peer_script("ag07_executors.py", executor="docker"),
        metrics=(
            Metric(
                label="Docker executor, python `print(1)` per block",
                unit="ms/block",
                parley_key="block_ms",
                peer_key="block_ms",
                peer07_key="block_ms",
                target="≤ 10 ms (persistent in-container runner, warm python3 forked per block)",
                status=_exec_verdict,
            ),
            Metric(
                label="(runner, no warm interpreter) the same block with `fork_server=False`: a fresh python3",
                unit="ms/block",
                parley_key="cold_ms",
            ),
            Metric(
                label="(plain path) the same block with `runner=False`: a `docker exec` per block",
                unit="ms/block",
                parley_key="plain_ms",
            ),
            Metric(
                label="(runner) an sh `true` block: the runner's cost without a python start",
                unit="ms/block",
                parley_key="true_ms",
            ),
            Metric(
                label="Docker executor overhead over a bare `exec_run` (block − bare, paired per round)",
                unit="ms/block",
                parley_key="overhead_ms",
                peer_key="overhead_ms",
                peer07_key="overhead_ms",
            ),
            Metric(
                label="(floor) bare docker-py `exec_run(['python3', file])`",
                unit="ms/block",
                parley_key="bare_ms",
                peer_key="bare_ms",
                peer07_key="bare_ms",
            ),
        ),
        reps=40,
        quick_reps=8,
        warmup=3,
    )
)

register(
    Benchmark(
        name="docker-stop",
        summary=(
            "a fresh Docker executor runs one `print(1)` block, then `close()` (0.2: `stop()`) is timed; the "
            "first block's time includes starting the container."
        ),
        params=lambda quick: {"image": IMAGE, "mode": "stop"},
        parley=_stop,
        peer=peer_script("docker_executor.py"),
        metrics=(
            Metric(
                label="Docker executor, stop (`close()`; 0.2: `stop()`)",
                unit="s",
                parley_key="stop_s",
                peer_key="stop_s",
                target="under 1 s",
                status=_stop_verdict,
            ),
            Metric(
                label="(context) first block of a fresh executor, container start included",
                unit="s",
                parley_key="first_block_s",
                peer_key="first_block_s",
            ),
        ),
        reps=3,
        quick_reps=1,
        warmup=0,
    )
)
