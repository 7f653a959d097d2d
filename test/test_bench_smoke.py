"""Smoke test of ``bench/run.py``: the cheapest benchmark runs and prints its table. No peer venv needed.

The report's table is also rendered from scripted outcomes, with both peers' columns.
"""

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
        "| Metric | parley (median) | pyautogen 0.2.35 (median) | Ratio vs 0.2 | AutoGen 0.7.5 (median) | Ratio vs 0.7 "
        "| Target (DESIGN.md) | Status |" in done.stdout
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith("| `import parley`"))
    assert " ms | — | — | — | — | under 150 ms | " in row
    assert out.read_text() == done.stdout.rstrip("\n") + "\n"


@pytest.mark.timeout(60)
def test_unknown_benchmark_name_suggests_the_close_one() -> None:
    done = bench("--only", "imprt", "--no-peer")
    assert done.returncode == 2
    assert "unknown benchmark 'imprt'; did you mean import?" in done.stderr


@pytest.mark.timeout(60)
def test_unknown_peer_suggests_the_close_one() -> None:
    done = bench("--only", "import", "--peers", "0.2,0.8")
    assert done.returncode == 2
    assert "unknown peer '0.8'; did you mean 0.7? (known: 0.2, 0.7)" in done.stderr


@pytest.mark.timeout(60)
def test_the_table_gives_each_peer_its_column_and_its_ratio_from_the_same_run() -> None:
    from bench.registry import Benchmark, Metric
    from bench.report import render_table
    from bench.runner import Outcome, SideOutcome

    metrics = (
        Metric("Turns", "µs/message", "us", peer_key="sync_us", peer07_key="us"),
        Metric("Only 0.2 has it", "µs/message", "us", peer_key="sync_us"),
    )
    benchmark = Benchmark("t", "scripted", lambda quick: {}, lambda params: NotImplemented, metrics)
    outcome = Outcome(
        benchmark,
        {},
        2,
        0,
        1.0,
        parley=SideOutcome(True, [{"us": 10.0}, {"us": 20.0}]),
        peer=SideOutcome(True, [{"sync_us": 150.0}, {"sync_us": 150.0}]),
        peer07=SideOutcome(True, [{"us": 600.0}, {"us": 600.0}]),
    )
    rows = render_table([outcome]).splitlines()[2:]
    assert rows == [
        "| Turns | 15.0 µs/message | 150 µs/message | 10.0× | 600 µs/message | 40.0× |  |  |",
        "| Only 0.2 has it | 15.0 µs/message | 150 µs/message | 10.0× | — | — |  |  |",
    ]


@pytest.mark.timeout(60)
def test_list_names_every_benchmark() -> None:
    done = bench("--list")
    assert done.returncode == 0, done.stderr
    registry = importlib.import_module("bench.registry").REGISTRY
    importlib.import_module("bench.suites")  # registers every benchmark
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == list(registry)
    assert {"turns", "groupchat", "local-exec", "concurrency", "import"} <= set(listed)
