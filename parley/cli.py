"""The ``parley`` command: ``parley demo`` runs a conversation that writes and executes code."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from parley._demo import run_demo, scripted_demo_reply
    from parley.agentchat._terminal import visible_controls
    from parley.prompts import SCRIPTED_MODEL_NOTICE

    path = Path(args.file)
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
    with tempfile.TemporaryDirectory(prefix="parley-demo-") as tmp:
        work_dir = Path(args.work_dir) if args.work_dir else Path(tmp)
        code, answer = run_demo(path, llm_config=llm_config, work_dir=work_dir, silent=args.quiet)
    print("\n=== Answer ===")
    print(visible_controls(answer) if answer else "(no answer)")  # the model's text: shown, never obeyed
    if code:
        print("parley demo: the conversation did not produce an executed answer.", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for the ``parley`` command."""
    from parley import __version__

    parser = argparse.ArgumentParser(
        prog="parley", description="parley: conversations among agents that solve tasks together."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="run a demo chat: an assistant writes Python, a user proxy really runs it",
        description="An AssistantAgent writes Python that finds the first 20 primes and a file's SHA-256; "
        "a UserProxyAgent runs it with the local executor in a temporary work_dir. Uses the model in "
        "OPENAI_API_KEY (or --base-url) when given, else a scripted model.",
    )
    demo.add_argument("file", nargs="?", default="README.md", help="the file to checksum (default: README.md)")
    demo.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="an OpenAI-compatible server")
    demo.add_argument("--model", default="gpt-4o-mini", help="the model name (default: gpt-4o-mini)")
    demo.add_argument("--work-dir", default=None, help="where to run the code (default: a temporary folder)")
    demo.add_argument("--quiet", action="store_true", help="print only the answer")
    demo.set_defaults(func=_demo)
    from parley.runtime._cli import add_commands

    add_commands(sub)  # run, validate, replay
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parley`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
