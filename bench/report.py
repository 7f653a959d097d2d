"""Render benchmark outcomes as Markdown: a header on the run, the table, then the details."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.peer_venv import AUTOGEN_02, AUTOGEN_07, Peer
from bench.registry import Metric
from bench.runner import Outcome, SideOutcome

__all__ = ["RunInfo", "render", "render_table"]

_REPO = Path(__file__).resolve().parent.parent
_DASH = "—"


@dataclass(frozen=True)
class RunInfo:
    """Facts about the run, printed above the table.

    Attributes:
        quick: True for a ``--quick`` run.
        peer: True when the pyautogen 0.2.35 side ran.
        started: when the run started (UTC).
        load_average: the 1-minute load average when the run started (other work on the machine
            makes every figure noisier).
        peer07: True when the AutoGen 0.7 side ran.
    """

    quick: bool
    peer: bool
    started: dt.datetime
    load_average: float
    peer07: bool = False

    @classmethod
    def now(cls, *, quick: bool, peer: bool, peer07: bool = False) -> RunInfo:
        """Capture the start of a run."""
        return cls(quick, peer, dt.datetime.now(dt.timezone.utc), os.getloadavg()[0], peer07)


def fmt(value: float) -> str:
    """Format a measurement with about three significant figures and thousands separators."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(side: SideOutcome, key: str | None, unit: str) -> str:
    if key is None or not side.ran:
        return _DASH
    if side.error is not None:
        return "error"
    value = side.median(key)
    return _DASH if value is None else f"{fmt(value)} {unit}"


def _ratio(outcome: Outcome, metric: Metric, peer: SideOutcome, key: str | None) -> str:
    if key is None or outcome.parley.error or peer.error:
        return _DASH
    ours, theirs = outcome.parley.median(metric.parley_key), peer.median(key)
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return _DASH
    ratio = ours / theirs if metric.higher_is_better else theirs / ours
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"


def _status(outcome: Outcome, metric: Metric) -> str:
    if metric.status is None:
        return ""
    if outcome.parley.error is not None or not outcome.parley.samples:
        return "not measured"
    return metric.status(outcome.medians())


def render_table(outcomes: Sequence[Outcome]) -> str:
    """Return the results table: one row per metric of every outcome."""
    rows = [
        f"| Metric | parley (median) | {AUTOGEN_02.title} (median) | Ratio vs {AUTOGEN_02.key} "
        f"| {AUTOGEN_07.title} (median) | Ratio vs {AUTOGEN_07.key} | Target (DESIGN.md) | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for metric in outcome.benchmark.metrics:
            cells = [
                metric.label.format(**outcome.params),
                _cell(outcome.parley, metric.parley_key, metric.unit),
                _cell(outcome.peer, metric.peer_key, metric.unit),
                _ratio(outcome, metric, outcome.peer, metric.peer_key),
                _cell(outcome.peer07, metric.peer07_key, metric.unit),
                _ratio(outcome, metric, outcome.peer07, metric.peer07_key),
                metric.target,
                _status(outcome, metric),
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _git_revision() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=_REPO, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _peer_line(peer: Peer, ran: bool) -> str:
    if not ran:
        return f"{peer.title} not run"
    return f"{peer.title} ({', '.join(f'`{r}`' for r in peer.requirements)}) in `bench/.venvs/{peer.venv.name}/`"


def _header(info: RunInfo) -> list[str]:
    mode = "quick (`--quick`)" if info.quick else "full"
    return [
        f"# parley vs {AUTOGEN_02.title} and {AUTOGEN_07.title}",
        "",
        f"- Run: {info.started:%Y-%m-%d %H:%M} UTC, {mode} mode, parley at `{_git_revision()}`.",
        f"- Machine: {os.cpu_count()} cores ({_cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; 1-minute load average at start {info.load_average:.2f}.",
        f"- Peers: {_peer_line(AUTOGEN_02, info.peer)}; {_peer_line(AUTOGEN_07, info.peer07)}. "
        "Each ratio = that peer's median / parley's median for times (parley / peer for rates), from the "
        "same run: above 1 means parley is that many times faster.",
        "",
    ]


def _side_details(name: str, outcome: Outcome, side: SideOutcome) -> list[str]:
    if not side.ran:
        return []
    lines = []
    for key in sorted({k for s in side.samples for k in s}):
        median, quartiles = side.median(key), side.quartiles(key)
        spread = f" (IQR {fmt(quartiles[0])}–{fmt(quartiles[1])})" if quartiles else ""
        lines.append(f"  - {name} `{key}`: median {fmt(median or 0.0)}{spread}, n={len(side.samples)}")
    lines.extend(f"  - {name} {k}: {v}" for k, v in side.info.items())
    if side.error is not None:
        error = side.error.replace("\n", "\n    ")
        lines.append(f"  - {name} **failed**:\n\n    ```\n    {error}\n    ```")
    return lines


def render(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """Return the whole Markdown report: header, table, then per-benchmark details."""
    lines = [*_header(info), render_table(outcomes), "", "## Details", ""]
    for outcome in outcomes:
        b = outcome.benchmark
        params = "".join(f"{k}={v}, " for k, v in outcome.params.items())
        lines.append(
            f"- **{b.name}** ({params}{outcome.warmup} warm-up + {outcome.reps} measured rounds, "
            f"{outcome.seconds:.1f} s): {b.summary}"
        )
        lines.extend(_side_details("parley", outcome, outcome.parley))
        lines.extend(_side_details("peer", outcome, outcome.peer))
        lines.extend(_side_details("peer 0.7", outcome, outcome.peer07))
    lines.append("")
    return "\n".join(lines)
