"""The benchmark registry: what a benchmark is, and the one place benchmarks are listed.

A benchmark is up to three *samplers*, one per side, built from the same parameters:

* the parley side runs in this process (parley's venv);
* the peer side runs pyautogen 0.2.35 in its own venv, usually as a worker process running a
  script from ``bench/peer/`` (`peer_script`), or as anything else that can time a peer
  (`bench.suites.import_time` times fresh interpreters directly);
* the second peer side (``peer07``) runs AutoGen 0.7 the same way, from its own venv, with the
  ``bench/peer/ag07_*.py`` scripts.

Each call to ``sample()`` returns named measurements (``{"block_ms": 16.2, ...}``); the runner
interleaves the sides round by round and takes medians. Each `Metric` turns one key of those
samples into one row of the results table, with a column and a ratio for each peer.

To add a benchmark: write a module in ``bench/suites/`` that calls `register`, and import it from
``bench/suites/__init__.py`` (the import order is the run order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.peer_venv import PeerWorker

__all__ = [
    "REGISTRY",
    "Benchmark",
    "Medians",
    "Metric",
    "PeerFactory",
    "Sampler",
    "SamplerFactory",
    "peer_script",
    "register",
]


class Sampler(Protocol):
    """One side of one benchmark, set up and ready to be sampled."""

    @property
    def info(self) -> Mapping[str, str]:
        """Facts worth printing with the results (which interpreter ran the code, versions)."""
        ...

    def sample(self) -> dict[str, float]:
        """Take one sample and return its measurements by name (units are in the names)."""
        ...

    def close(self) -> None:
        """Release everything the sampler holds (processes, directories). Idempotent."""
        ...


SamplerFactory = Callable[[Mapping[str, Any]], Sampler]
"""Builds the parley side from the benchmark's parameters."""

PeerFactory = Callable[[Path, Mapping[str, Any]], Sampler]
"""Builds the peer side from the peer venv's python and the benchmark's parameters."""


@dataclass(frozen=True)
class Medians:
    """The medians one benchmark produced, by sample key; a peer's are None when that peer did not run."""

    parley: Mapping[str, float]
    peer: Mapping[str, float] | None
    peer07: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Metric:
    """One row of the results table.

    Attributes:
        label: what the row measures; a format string over the benchmark's parameters, e.g.
            ``"Turn overhead, {messages}-message chat"``.
        unit: the unit of both medians (``"µs/message"``, ``"ms/block"``, ``"s"`` ...).
        parley_key: the parley sample key this row reports.
        peer_key: the peer sample key (pyautogen 0.2.35); None when the row has no such figure
            ("—" in the table).
        peer07_key: the AutoGen 0.7 sample key; None when the row has no such figure.
        target: the DESIGN.md target, as text; empty when the row is context only.
        status: turns the benchmark's medians into a verdict on the target ("met: 12×"); None for
            no verdict.
        higher_is_better: True for rates (messages/s); the ratio is then parley/peer instead of
            peer/parley, so that a ratio above 1 always means parley is better.
    """

    label: str
    unit: str
    parley_key: str
    peer_key: str | None = None
    peer07_key: str | None = None
    target: str = ""
    status: Callable[[Medians], str] | None = None
    higher_is_better: bool = False


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark.

    Attributes:
        name: the short name ``--only`` takes (``"turns"``).
        summary: one sentence on what is measured and how, printed under the table.
        params: builds the parameters from ``quick`` (``--quick``): sizes, turns ... Both sides
            get the same mapping, and metric labels are formatted with it.
        parley: builds the parley sampler.
        metrics: the table rows, in order.
        peer: builds the pyautogen 0.2.35 sampler; None when there is no such peer to compare with.
        peer07: builds the AutoGen 0.7 sampler (from its venv's python); None for none.
        reps: measured rounds in a full run; each round takes one sample from each side.
        quick_reps: measured rounds with ``--quick``.
        warmup: unmeasured rounds before the measured ones (``--quick`` uses at most 1).
    """

    name: str
    summary: str
    params: Callable[[bool], dict[str, Any]]
    parley: SamplerFactory
    metrics: tuple[Metric, ...]
    peer: PeerFactory | None = None
    peer07: PeerFactory | None = None
    reps: int = 20
    quick_reps: int = 5
    warmup: int = 2


REGISTRY: dict[str, Benchmark] = {}
"""Every registered benchmark by name, in registration (= run) order."""


def register(benchmark: Benchmark) -> Benchmark:
    """Add ``benchmark`` to `REGISTRY` and return it.

    Raises:
        ValueError: a benchmark with the same name is already registered.
    """
    if benchmark.name in REGISTRY:
        raise ValueError(f"a benchmark named {benchmark.name!r} is already registered; pick another name")
    REGISTRY[benchmark.name] = benchmark
    return benchmark


def peer_script(script: str, **extra: Any) -> PeerFactory:
    """Return a peer factory that runs ``bench/peer/<script>`` as a worker in a peer's venv.

    Args:
        script: the file name under ``bench/peer/`` (``"turns.py"``); the benchmark's parameters
            become the script's config.
        extra: more config for the script, over the parameters (``executor="docker"``).
    """

    def factory(python: Path, params: Mapping[str, Any]) -> Sampler:
        return PeerWorker(python, script, {**params, **extra})

    return factory
