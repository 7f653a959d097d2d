"""Smoke test of ``bench/run.py``: the cheapest benchmark runs and prints its table. No peer venv needed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=50)


@pytest.mark.timeout(60)
def test_quick_import_benchmark_prints_and_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    done = bench("--quick", "--only", "import", "--no-peer", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert (
        "| Metric | parley (median) | pyautogen 0.2.35 (median) | Ratio | Target (DESIGN.md) | Status |" in done.stdout
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith("| `import parley`"))
    assert " ms | — | — | under 150 ms | " in row
    assert out.read_text() == done.stdout.rstrip("\n") + "\n"


@pytest.mark.timeout(60)
def test_unknown_benchmark_name_suggests_the_close_one() -> None:
    done = bench("--only", "imprt", "--no-peer")
    assert done.returncode == 2
    assert "unknown benchmark 'imprt'; did you mean import?" in done.stderr


@pytest.mark.timeout(60)
def test_list_names_every_benchmark() -> None:
    done = bench("--list")
    assert done.returncode == 0, done.stderr
    registry = importlib.import_module("bench.registry").REGISTRY
    importlib.import_module("bench.suites")  # registers every benchmark
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == list(registry)
    assert {"turns", "groupchat", "local-exec", "concurrency", "import"} <= set(listed)
