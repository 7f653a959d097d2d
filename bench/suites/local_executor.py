"""Local command-line executor: milliseconds to run one python ``print(1)`` block.

parley's `parley.coding.LocalCommandLineCodeExecutor` against AutoGen 0.2.35's
``autogen.coding.LocalCommandLineCodeExecutor``, each as a user gets it, and against a bare
``subprocess.run([sys.executable, file])`` of the same code measured in the same rounds on each
side (the floor). Each sample runs one block through the executor and one bare run; every result
is checked to have printed ``1``.

parley runs Python blocks from a warm fork server by default (``block_ms``); the same executor
with ``fork_server=False`` (a fresh interpreter per block, ``plain_ms``) is measured in the same
rounds, so the gain over the plain path stays visible.

The executor's own overhead is the paired difference of the two (``overhead_ms``). It is the fair
comparison when the two venvs start python at different speeds: an editable install's import
hook, for one, slows every interpreter start-up in parley's dev venv.

Which interpreter each executor actually started is recorded in the details. AutoGen 0.2 runs
``python`` from PATH; the peer script measures it both with its venv activated and with PATH as
inherited, where a pyenv shim may answer.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, peer_script, register

__all__ = ["LocalExecutorSampler"]

TARGET_MS = 3.0
TARGET_OF_BARE = 0.35


class LocalExecutorSampler:
    """Times parley's local executor and a bare subprocess on ``print(1)``, alternately."""

    def __init__(self) -> None:
        from parley.coding import CodeBlock, LocalCommandLineCodeExecutor

        self._stack = contextlib.ExitStack()
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-exec-")))
        self._executor = self._stack.enter_context(LocalCommandLineCodeExecutor(timeout=60, work_dir=work))
        self._plain = self._stack.enter_context(
            LocalCommandLineCodeExecutor(timeout=60, work_dir=work, fork_server=False)
        )
        self._block = [CodeBlock(code="print(1)", language="python")]
        self._bare = [sys.executable, str(work / "bare.py")]
        (work / "bare.py").write_text("print(1)\n")
        self._work = work
        which = self._executor.execute_code_blocks(
            [CodeBlock(code="import sys; print(sys.executable)", language="python")]
        )
        self.info: Mapping[str, str] = {"executor python": which.output.strip(), "bare python": sys.executable}

    def _run_block(self, executor: Any) -> float:
        start = time.perf_counter()
        result = executor.execute_code_blocks(self._block)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0 or result.output.strip() != "1":
            raise RuntimeError(f"print(1) failed: exit {result.exit_code}, output {result.output!r}")
        return elapsed * 1e3

    def _run_bare(self) -> float:
        start = time.perf_counter()
        done = subprocess.run(self._bare, capture_output=True, text=True, cwd=self._work)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or done.stdout.strip() != "1":
            raise RuntimeError(f"bare print(1) failed: {done!r}")
        return elapsed * 1e3

    def sample(self) -> dict[str, float]:
        """Return ``block_ms`` (fork server), ``plain_ms`` (fork_server=False), ``bare_ms`` and ``overhead_ms``."""
        block, plain, bare = self._run_block(self._executor), self._run_block(self._plain), self._run_bare()
        return {"block_ms": block, "plain_ms": plain, "bare_ms": bare, "overhead_ms": plain - bare}

    def close(self) -> None:
        """Close the executor and remove its working directory."""
        self._stack.close()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return LocalExecutorSampler()


def _verdict(m: Medians) -> str:
    # Against the faster of the two bare runs: parley's dev venv starts python slowly
    # (editable-install hook), which would flatter a ratio to its own.
    bare = min(m.parley["bare_ms"], m.peer["bare_ms"]) if m.peer else m.parley["bare_ms"]
    block = m.parley["block_ms"]
    verdict = "met" if block <= TARGET_MS and block <= TARGET_OF_BARE * bare else "not met"
    return f"{verdict} ({block:.1f} ms = {block / bare:.2f}x a {bare:.1f} ms bare run)"


register(
    Benchmark(
        name="local-exec",
        summary=(
            "one python `print(1)` block through each LocalCommandLineCodeExecutor, alternating with a "
            "bare `subprocess.run([sys.executable, file])` in the same process; ms per block."
        ),
        params=lambda quick: {},
        parley=_parley,
        peer=peer_script("local_executor.py"),
        peer07=peer_script("ag07_executors.py", executor="local"),
        metrics=(
            Metric(
                label="Local executor, python `print(1)`, fork server (peer: its venv activated)",
                unit="ms/block",
                parley_key="block_ms",
                peer_key="block_ms",
                peer07_key="block_ms",
                target="≤ 3 ms and ≤ 0.35× bare (warm fork server)",
                status=_verdict,
            ),
            Metric(
                label="Local executor, `print(1)`, parley plain path (`fork_server=False`)",
                unit="ms/block",
                parley_key="plain_ms",
                peer_key="block_ms",
                peer07_key="block_ms",
            ),
            Metric(
                label="Local executor, `print(1)`, peer with PATH as inherited",
                unit="ms/block",
                parley_key="block_ms",
                peer_key="block_inherited_path_ms",
            ),
            Metric(
                label="Local executor overhead over the bare run (plain block − bare, paired per round)",
                unit="ms/block",
                parley_key="overhead_ms",
                peer_key="overhead_ms",
                peer07_key="overhead_ms",
            ),
            Metric(
                label="(floor) bare `subprocess.run([sys.executable, file])`",
                unit="ms/block",
                parley_key="bare_ms",
                peer_key="bare_ms",
                peer07_key="bare_ms",
            ),
        ),
        reps=60,
        quick_reps=10,
        warmup=5,
    )
)
