"""The command line of ``bench/run.py``: parse arguments, run benchmarks, print and write the report."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

import bench.suites  # noqa: F401 - registers the benchmarks
from bench.peer_venv import AUTOGEN_02, AUTOGEN_07, PEERS, Peer, PeerError, ensure_peer_venv
from bench.registry import REGISTRY, Benchmark
from bench.report import RunInfo, render
from bench.runner import run_benchmark

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"


def _select(only: Sequence[str], parser: argparse.ArgumentParser) -> list[Benchmark]:
    if not only:
        return list(REGISTRY.values())
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    for name in names:
        if name not in REGISTRY:
            close = difflib.get_close_matches(name, REGISTRY, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            parser.error(f"unknown benchmark {name!r}{hint} (known: {', '.join(REGISTRY)})")
    return [b for b in REGISTRY.values() if b.name in names]


def _peer_keys(text: str, parser: argparse.ArgumentParser) -> set[str]:
    keys = {k.strip() for k in text.split(",") if k.strip()}
    known = [peer.key for peer in PEERS]
    for key in sorted(keys - set(known)):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        parser.error(f"unknown peer {key!r}{hint} (known: {', '.join(known)})")
    return keys


def _peer_venv(peer: Peer) -> tuple[Path | None, bool]:
    """``peer``'s python, building its venv if needed; (None, True) when it cannot be built."""
    try:
        return ensure_peer_venv(peer), False
    except PeerError as exc:
        print(f"bench: the {peer.title} side is skipped: {exc}", file=sys.stderr)
        return None, True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run parley's benchmarks side by side with pyautogen 0.2.35 and AutoGen 0.7.",
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (< 1 minute)")
    p.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only these benchmarks (comma-separated)"
    )
    p.add_argument("--no-peer", action="store_true", help="run the parley side only")
    p.add_argument(
        "--peers",
        default=",".join(peer.key for peer in PEERS),
        metavar="KEYS",
        help="the peers to run, comma-separated (default: all, %(default)s)",
    )
    p.add_argument("--output", type=Path, help="where to write the Markdown report")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the selected benchmarks, print and write the report; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for b in REGISTRY.values():
            print(f"{b.name:14} {b.summary}")
        return 0
    selected = _select(args.only, parser)
    wanted = set() if args.no_peer else _peer_keys(args.peers, parser)
    failed = False
    pythons: dict[str, Path | None] = {}
    for peer, needed in ((AUTOGEN_02, any(b.peer for b in selected)), (AUTOGEN_07, any(b.peer07 for b in selected))):
        pythons[peer.key], broken = _peer_venv(peer) if needed and peer.key in wanted else (None, False)
        failed = failed or broken
    peer_python, peer07_python = pythons[AUTOGEN_02.key], pythons[AUTOGEN_07.key]
    info = RunInfo.now(quick=args.quick, peer=peer_python is not None, peer07=peer07_python is not None)
    outcomes = [
        run_benchmark(b, quick=args.quick, peer_python=peer_python, peer07_python=peer07_python) for b in selected
    ]
    report = render(outcomes, info)
    print(report)
    complete = not args.quick and not args.only and peer_python is not None and peer07_python is not None
    output: Path = args.output or RESULTS / ("latest.md" if complete else "partial.md.tmp")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    print(f"bench: report written to {output}", file=sys.stderr)
    failed = failed or any(o.parley.error or o.peer.error for o in outcomes)
    return 1 if failed else 0
