"""The ``parley`` command: ``demo``, ``doctor``, ``executors``, and commands that others register.

Each subcommand is a `Command`, added with `add_command`. Modules listed in `COMMAND_MODULES`
add theirs through a ``register(add_command)`` function when they are installed (the runtime's
``run``, ``validate`` and ``replay`` come this way, from ``parley.runtime._cli``).

How it behaves:

- ``parley`` alone prints the help and exits 2; an unknown command exits 2 with a "did you mean".
- A known error (a `parley.exceptions.ParleyError`: a model, config or executor problem) prints
  one line, ``parley <command>: <message>``, and exits 1 (2 for a `ConfigError`); ``--debug``
  shows the traceback instead. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COMMAND_MODULES", "Command", "add_command", "build_parser", "main"]

COMMAND_MODULES = ("parley.runtime._cli",)
"""Modules that add commands with ``register(add_command)``, when they can be imported."""


@dataclass(frozen=True)
class Command:
    """One subcommand.

    Attributes:
        name: what the user types (``"demo"``).
        help: one line for the command list.
        configure: adds the command's arguments to its parser.
        run: runs it with the parsed arguments and returns the exit status.
        description: the longer text of ``parley NAME --help`` (default: ``help``).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


_COMMANDS: dict[str, Command] = {}


def add_command(command: Command) -> None:
    """Add (or replace) a subcommand of ``parley``.

    Raises:
        ValueError: ``command.name`` is empty or starts with ``-``.
    """
    if not command.name or command.name.startswith("-"):
        raise ValueError(f"a command name must be a word, got {command.name!r}")
    _COMMANDS[command.name] = command


def _load_command_modules() -> None:
    for module in COMMAND_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # its package is missing
            found = False
        if found:
            importlib.import_module(module).register(add_command)


# -- demo ----------------------------------------------------------------------------------------


def _demo_configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default=None, help="the file to checksum (default: a file of the parley package itself)"
    )
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="an OpenAI-compatible server")
    parser.add_argument("--model", default="gpt-4o-mini", help="the model name (default: gpt-4o-mini)")
    parser.add_argument("--work-dir", default=None, help="where to run the code (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true", help="print only the answer")


def _demo(args: argparse.Namespace) -> int:
    import parley
    from parley._demo import run_demo, scripted_demo_reply
    from parley.agentchat._terminal import visible_controls
    from parley.prompts import SCRIPTED_MODEL_NOTICE

    path = Path(args.file) if args.file else Path(parley.__file__)
    if not path.is_file():
        print(f"parley demo: {path} is not a file; give a file to checksum, e.g. `parley demo README.md`.")
        return 2
    key = os.environ.get("OPENAI_API_KEY")
    if key or args.base_url:
        entry = {"model": args.model, "api_key": key or "not-needed"}
        if args.base_url:
            entry["base_url"] = args.base_url
        llm_config: object = {"config_list": [entry], "temperature": 0}
        print(f"Using model {args.model} at {args.base_url or 'the OpenAI API'}.")
    else:
        from parley.testing import FunctionModelClient

        llm_config = FunctionModelClient(scripted_demo_reply, model="scripted-demo")
        print(SCRIPTED_MODEL_NOTICE)
    print(f"Checksumming {path}.")
    with tempfile.TemporaryDirectory(prefix="parley-demo-") as tmp:
        work_dir = Path(args.work_dir) if args.work_dir else Path(tmp)
        code, answer = run_demo(path, llm_config=llm_config, work_dir=work_dir, silent=args.quiet)
    print("\n=== Answer ===")
    print(visible_controls(answer) if answer else "(no answer)")  # the model's text: shown, never obeyed
    if code:
        print("parley demo: the conversation did not produce an executed answer.", file=sys.stderr)
    return code


# -- doctor and executors ------------------------------------------------------------------------


def _probe_configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateway-url",
        default=os.environ.get("JUPYTER_GATEWAY_URL"),
        help="a Jupyter Kernel Gateway to check (default: $JUPYTER_GATEWAY_URL)",
    )


def _doctor_configure(parser: argparse.ArgumentParser) -> None:
    _probe_configure(parser)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help="a Redis server (default: $REDIS_URL)")
    parser.add_argument(
        "--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="the model endpoint (default: $OPENAI_BASE_URL)"
    )


def _doctor(args: argparse.Namespace) -> int:
    from parley._doctor import all_checks, format_checks

    checks = all_checks(
        gateway_url=args.gateway_url,
        redis_url=args.redis_url,
        base_url=args.base_url,
        api_key=os.environ.get("OPENAI_API_KEY"),
    )
    print("parley doctor: what this machine can run (ok / missing: not set up / fail: set up but broken)")
    print(format_checks([(c.name, c) for c in checks]))
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        print(f"parley doctor: {', '.join(failed)} failed (see the fixes above).", file=sys.stderr)
        return 1
    return 0


def _executors(args: argparse.Namespace) -> int:
    from parley._doctor import executor_checks, format_checks

    rows = executor_checks(args.gateway_url)
    print('Registered executors (code_execution_config={"executor": NAME}); whether each can run here:')
    print(format_checks([(label, check) for label, _, check in rows]))
    return 0


add_command(
    Command(
        "demo",
        "run a demo chat: an assistant writes Python, a user proxy really runs it",
        _demo_configure,
        _demo,
        description="An AssistantAgent writes Python that finds the first 20 primes and a file's SHA-256; "
        "a UserProxyAgent runs it with the local executor in a temporary work_dir. Uses the model in "
        "OPENAI_API_KEY (or --base-url) when given, else a scripted model. Works from any directory.",
    )
)
add_command(
    Command(
        "doctor",
        "check what this machine can run (Docker, kernels, a gateway, Redis, the model) and how to fix each",
        _doctor_configure,
        _doctor,
        description="Checks the Docker daemon and images, Jupyter kernels, a Kernel Gateway URL, Redis and the "
        "model endpoint, each with a deadline, and says how to fix what is missing. Exits 1 when something "
        "that is set up does not work.",
    )
)
add_command(
    Command(
        "executors",
        "list the registered code executors and whether each can run here",
        _probe_configure,
        _executors,
    )
)


# -- the command ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for the ``parley`` command, with every added command."""
    from parley import __version__

    _load_command_modules()
    parser = argparse.ArgumentParser(
        prog="parley", description="parley: conversations among agents that solve tasks together."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS.values():
        child = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.configure(child)
        child.set_defaults(func=command.run)
    return parser


def _first_word(argv: Sequence[str]) -> str | None:
    """The command word: the first argument that is not an option (every top option is a flag)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parley`` command; returns the exit status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The command's status; 2 for no command, an unknown one, or bad arguments; 1 for a known
        error (2 for a `ConfigError`); 130 after Ctrl-C.
    """
    from parley.exceptions import ConfigError, ParleyError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    word = _first_word(argv)
    if word is None and not argv:
        parser.print_help()
        return 2
    if word is not None and word not in _COMMANDS:
        close = difflib.get_close_matches(word, list(_COMMANDS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"parley: unknown command '{word}'.{hint} Commands: {', '.join(_COMMANDS)}.", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help and --version exit 0, bad arguments 2
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"parley {args.command}: interrupted.", file=sys.stderr)
        return 130
    except ParleyError as exc:
        if args.debug:
            traceback.print_exc()
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(
                f"parley {args.command}: {type(exc).__name__}: {first} (--debug shows the traceback)", file=sys.stderr
            )
        return 2 if isinstance(exc, ConfigError) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
