"""``import parley`` versus ``import autogen``: the cost of importing the package in a fresh interpreter.

Each sample starts two fresh interpreters of the side's own venv, ``python -c "pass"`` and
``python -c "import <module>"``, and reports their difference in milliseconds, so interpreter
start-up and the venv's ``site`` processing cancel out. The median of these paired differences is
the figure in the table. Bytecode caches are warm after the warm-up rounds, as for a user.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register

__all__ = ["ImportTimeSampler"]

TARGET_MS = 150.0


class ImportTimeSampler:
    """Times ``import <module>`` in fresh ``python`` processes.

    Args:
        python: the interpreter to start.
        module: the module to import.
    """

    def __init__(self, python: Path | str, module: str) -> None:
        self._python = str(python)
        self._module = module
        self._cwd = tempfile.TemporaryDirectory(prefix="parley-bench-import-")
        self.info: Mapping[str, str] = {"python": self._python}

    def _time(self, code: str) -> float:
        start = time.perf_counter()
        done = subprocess.run([self._python, "-c", code], capture_output=True, text=True, cwd=self._cwd.name)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self._python} -c {code!r} failed:\n{done.stderr}")
        return elapsed * 1e3

    def sample(self) -> dict[str, float]:
        """Return ``import_ms`` (import minus bare start-up) and ``startup_ms`` (``-c pass``)."""
        startup = self._time("pass")
        total = self._time(f"import {self._module}")
        return {"import_ms": total - startup, "startup_ms": startup}

    def close(self) -> None:
        """Remove the scratch directory the interpreters ran in."""
        self._cwd.cleanup()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return ImportTimeSampler(sys.executable, "parley")


def _peer(python: Path, params: Mapping[str, Any]) -> Sampler:
    return ImportTimeSampler(python, "autogen")


def _verdict(m: Medians) -> str:
    ms = m.parley["import_ms"]
    return f"met ({ms:.0f} ms)" if ms < TARGET_MS else f"not met ({ms:.0f} ms)"


register(
    Benchmark(
        name="import",
        summary=(
            "fresh `python -c 'import parley'` (peer: `import autogen`) minus `python -c 'pass'`, "
            "each side in its own venv; median of the paired differences."
        ),
        params=lambda quick: {},
        parley=_parley,
        peer=_peer,
        metrics=(
            Metric(
                label="`import parley` / `import autogen`",
                unit="ms",
                parley_key="import_ms",
                peer_key="import_ms",
                target="under 150 ms",
                status=_verdict,
            ),
            Metric(
                label="(context) bare interpreter start-up, `python -c pass`",
                unit="ms",
                parley_key="startup_ms",
                peer_key="startup_ms",
            ),
        ),
        reps=21,
        quick_reps=5,
        warmup=2,
    )
)
