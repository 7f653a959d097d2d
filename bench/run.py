"""Run parley's benchmarks side by side with pyautogen 0.2.35 and print a Markdown table.

Usage (from the repository root, with parley's venv)::

    .venv/bin/python bench/run.py                   # everything, ~3-5 minutes on 2 cores
    .venv/bin/python bench/run.py --quick           # smaller sizes and fewer rounds, < 1 minute
    .venv/bin/python bench/run.py --only turns,import
    .venv/bin/python bench/run.py --no-peer         # parley only; never builds the peer venv
    .venv/bin/python bench/run.py --list

The first run with the peer builds ``bench/.venvs/autogen-0.2.35/`` (about 20 s, needs PyPI
through pip). A full run with the peer writes ``bench/results/latest.md``; any other run writes
``bench/results/partial.md.tmp`` (gitignored) unless ``--output`` says otherwise. Exit status
is 1 when any side of any benchmark failed (the report says which), 2 on bad arguments.
"""

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/ itself; make the repository root importable instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.cli import main  # noqa: E402 - needs the sys.path fix above

if __name__ == "__main__":
    sys.exit(main())
