"""Run one registered benchmark: both sides, interleaved round by round, with warm-up.

Round ``r`` takes one sample from each side, in an order that rotates from round to round (parley
first, then each peer first in turn), so slow drift of the machine (other processes, thermal state) falls on both sides
alike. The first ``warmup`` rounds are thrown away. A side that fails is recorded with its error
and dropped; the other side carries on, so one broken benchmark never hides the rest.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.registry import Benchmark, Medians, PeerFactory, Sampler

__all__ = ["Outcome", "SideOutcome", "run_benchmark"]


@dataclass
class SideOutcome:
    """What one side produced.

    Attributes:
        ran: False when the side was not run at all (no peer, or ``--no-peer``).
        samples: the measured samples, in order (warm-up excluded).
        info: the sampler's facts (interpreter, versions).
        error: the failure that stopped this side, with the last lines of its traceback; None if
            it did not fail.
    """

    ran: bool
    samples: list[dict[str, float]] = field(default_factory=list)
    info: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    def median(self, key: str) -> float | None:
        """The median of ``key`` over the samples, or None when there are none."""
        values = [s[key] for s in self.samples if key in s]
        return statistics.median(values) if values else None

    def quartiles(self, key: str) -> tuple[float, float] | None:
        """The 25th and 75th percentiles of ``key``, or None with fewer than two samples."""
        values = [s[key] for s in self.samples if key in s]
        if len(values) < 2:
            return None
        q1, _, q3 = statistics.quantiles(values, n=4)
        return q1, q3

    def medians(self) -> dict[str, float]:
        """The median of every key the samples carry."""
        keys = {k for s in self.samples for k in s}
        return {k: m for k in sorted(keys) if (m := self.median(k)) is not None}


@dataclass
class Outcome:
    """The result of running one benchmark.

    Attributes:
        benchmark: what ran.
        params: the parameters both sides got.
        reps: measured rounds.
        warmup: discarded rounds.
        seconds: wall time of the whole benchmark, set-up included.
        parley: the parley side.
        peer: the pyautogen 0.2.35 side.
        peer07: the AutoGen 0.7 side.
    """

    benchmark: Benchmark
    params: dict[str, Any]
    reps: int
    warmup: int
    seconds: float
    parley: SideOutcome
    peer: SideOutcome
    peer07: SideOutcome = field(default_factory=lambda: SideOutcome(ran=False))

    def medians(self) -> Medians:
        """Every side's medians, in the shape `bench.registry.Metric.status` takes."""
        return Medians(
            self.parley.medians(),
            self.peer.medians() if self.peer.samples else None,
            self.peer07.medians() if self.peer07.samples else None,
        )


class _Side:
    def __init__(self, outcome: SideOutcome, build: Callable[[], Sampler] | None) -> None:
        self.outcome = outcome
        self.sampler: Sampler | None = None
        if build is not None:
            self._guard(lambda: self._start(build))

    def _start(self, build: Callable[[], Sampler]) -> None:
        self.sampler = build()
        self.outcome.info = dict(self.sampler.info)

    def take(self, measured: bool) -> None:
        sampler = self.sampler
        if sampler is None:
            return

        def once() -> None:
            values = sampler.sample()
            if measured:
                self.outcome.samples.append(values)

        self._guard(once)

    def close(self) -> None:
        sampler, self.sampler = self.sampler, None
        if sampler is not None:
            try:
                sampler.close()
            except Exception as exc:
                self._record(exc)

    def _guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            self._record(exc)
            self.close()

    def _record(self, exc: BaseException) -> None:
        if self.outcome.error is None:
            lines = traceback.format_exception(exc)
            self.outcome.error = "".join(lines[-6:]).strip()


def _peer_side(factory: PeerFactory | None, python: Path | None, params: dict[str, Any]) -> _Side:
    if factory is None or python is None:
        return _Side(SideOutcome(ran=False), None)
    return _Side(SideOutcome(ran=True), lambda: factory(python, params))


def run_benchmark(
    benchmark: Benchmark,
    *,
    quick: bool,
    peer_python: Path | None,
    peer07_python: Path | None = None,
    log: IO[str] = sys.stderr,
) -> Outcome:
    """Run ``benchmark`` on every side and return the samples.

    Args:
        benchmark: the registered benchmark.
        quick: use the ``--quick`` parameters and repetition counts.
        peer_python: the pyautogen 0.2.35 venv's interpreter; None leaves that peer out.
        peer07_python: the AutoGen 0.7 venv's interpreter; None leaves that peer out.
        log: where progress lines go.

    Returns:
        The outcome; failures are recorded in it, never raised.
    """
    params = benchmark.params(quick)
    reps = benchmark.quick_reps if quick else benchmark.reps
    warmup = min(benchmark.warmup, 1) if quick else benchmark.warmup
    print(f"bench: {benchmark.name}: {warmup} warm-up + {reps} measured rounds ...", file=log, flush=True)
    gc.collect()
    start = time.perf_counter()
    parley = _Side(SideOutcome(ran=True), lambda: benchmark.parley(params))
    peer = _peer_side(benchmark.peer, peer_python, params)
    peer07 = _peer_side(benchmark.peer07, peer07_python, params)
    sides = [parley, peer, peer07]
    try:
        for r in range(warmup + reps):
            turn = r % len(sides)
            for side in sides[turn:] + sides[:turn]:
                side.take(measured=r >= warmup)
    finally:
        for side in sides:
            side.close()
    seconds = time.perf_counter() - start
    print(f"bench: {benchmark.name}: done in {seconds:.1f} s", file=log, flush=True)
    return Outcome(benchmark, params, reps, warmup, seconds, parley.outcome, peer.outcome, peer07.outcome)
