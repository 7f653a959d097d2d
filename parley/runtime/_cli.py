"""The ``parley run``, ``parley validate`` and ``parley replay`` commands.

`register` adds them to the ``parley`` command (`parley.cli.add_command`). Exit codes: 0 for a run that
ended by its own rules (``completed``, ``terminated``), 1 for a failed run, 2 for a bad config or
arguments, 3 for a run stopped by a limit (``max_steps``, ``timeout``, ``budget``), 130 for a
cancelled one (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parley.cli import Command

__all__ = ["EXIT_CODES", "register"]

EXIT_CODES = {"completed": 0, "terminated": 0, "failed": 1, "max_steps": 3, "timeout": 3, "budget": 3, "cancelled": 130}
"""The exit code of ``parley run`` for each stop reason."""


def _configure_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("file", help="the config file (YAML, TOML or JSON)")
    run.add_argument("target", help="a team or agent id")
    run.add_argument("task", help="the task: the first message")
    run.add_argument("--session", default=None, help="a session id (continue its conversation in this process)")
    run.add_argument("--max-cost", type=float, default=None, metavar="USD", help="stop at this cost, in US dollars")
    run.add_argument("--max-steps", type=int, default=None, metavar="N", help="stop after N messages")
    run.add_argument("--max-duration", type=float, default=None, metavar="S", help="stop after S seconds")
    run.add_argument("--json", action="store_true", help="print the events as JSON lines instead of the display")
    run.add_argument("--record", default=None, metavar="DIR", help="write the run's events to DIR/<run_id>.jsonl")


def _configure_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the config file (YAML, TOML or JSON)")


def _configure_record(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a run record (.jsonl, from --record)")


def register(add_command: Callable[[Command], None]) -> None:
    """Add ``run``, ``validate`` and ``replay`` to the ``parley`` command (see `parley.cli.add_command`)."""
    from parley.cli import Command

    add_command(
        Command(
            "run",
            "run a team or agent from a config file",
            _configure_run,
            _run,
            "Run TARGET (a team or agent id of FILE) on TASK, showing the run as it happens.",
        )
    )
    add_command(
        Command("validate", "check a config file", _configure_file, _validate, "Check FILE; print its problems.")
    )
    add_command(
        Command(
            "replay",
            "print a recorded run again",
            _configure_record,
            _replay,
            "Print the run recorded in FILE as the console showed it.",
        )
    )


def _validate(args: argparse.Namespace) -> int:
    from parley.exceptions import RuntimeConfigError
    from parley.runtime._loading import load_config

    try:
        config = load_config(args.file)
    except RuntimeConfigError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"{args.file}: OK ({_counted(len(config.agents), 'agent')}, {_counted(len(config.teams), 'team')})")
    return 0


def _counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``"1 team"``, ``"0 teams"``, ``"2 agents"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _replay(args: argparse.Namespace) -> int:
    from parley.runtime.console import ConsoleDisplay
    from parley.runtime.records import read_record

    try:
        events = read_record(args.file)
    except (OSError, ValueError) as e:
        print(f"parley replay: {e}", file=sys.stderr)
        return 2
    display = ConsoleDisplay()
    for event in events:
        display(event)
    return 0


def _run(args: argparse.Namespace) -> int:
    from parley.exceptions import ConfigError
    from parley.runtime.runtime import Runtime

    given = {"max_cost_usd": args.max_cost, "max_steps": args.max_steps, "max_duration_s": args.max_duration}
    budget = {k: v for k, v in given.items() if v is not None}
    try:
        runtime = Runtime.from_config(args.file, record_dir=Path(args.record) if args.record else None)
        return asyncio.run(_stream(runtime, args, budget))
    except ConfigError as e:
        print(f"parley run: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return EXIT_CODES["cancelled"]


async def _stream(runtime: Any, args: argparse.Namespace, budget: dict[str, Any]) -> int:
    from contextlib import aclosing

    from parley.runtime.console import ConsoleDisplay, as_json_line
    from parley.runtime.events import RunFinished

    show: Any = (lambda e: print(as_json_line(e), flush=True)) if args.json else ConsoleDisplay()
    code = EXIT_CODES["cancelled"]
    stream = runtime.run_stream(args.target, args.task, session_id=args.session, budget=budget)
    async with runtime, aclosing(stream) as events:
        async for event in events:
            show(event)
            if isinstance(event, RunFinished):
                code = EXIT_CODES[event.result.stop_reason]
    return code
