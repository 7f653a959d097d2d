"""The worker loop every peer script runs inside its peer's venv (pyautogen 0.2.35, or AutoGen 0.7).

Protocol, one JSON object per line on the worker's *original* stdout:

1. The orchestrator starts ``python bench/peer/<script>.py '<json config>'``.
2. The worker calls the script's ``setup(config)`` and answers ``{"ready": true, "info": {...}}``.
3. For each ``sample`` line on stdin it answers ``{"sample": {"<metric>": <float>, ...}}``.
4. On ``quit`` (or end of input) it calls the script's ``close()`` and exits.

Any exception is answered as ``{"error": "<traceback>"}``. Before set-up, file descriptor 1 is
pointed at stderr, so whatever the library prints can never corrupt the protocol stream.

This folder is run with the peers' interpreters (``ag07_*.py`` with AutoGen 0.7's, the rest with
0.2's) and is excluded from parley's mypy run.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

Sample = Callable[[], dict[str, float]]
Close = Callable[[], None]
Setup = Callable[[dict[str, Any]], tuple[Sample, dict[str, str], Close]]


def serve(setup: Setup) -> None:
    """Run the worker loop around ``setup``; see the module docstring for the protocol."""
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(obj: dict[str, Any]) -> None:
        channel.write(json.dumps(obj) + "\n")
        channel.flush()

    config: dict[str, Any] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        sample, info, close = setup(config)
    except Exception:
        send({"error": traceback.format_exc()})
        return
    info = {"python": sys.executable, **info}
    send({"ready": True, "info": info})
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command == "sample":
                try:
                    send({"sample": sample()})
                except Exception:
                    send({"error": traceback.format_exc()})
                continue
            send({"error": f"unknown command {command!r}; expected 'sample' or 'quit'"})
    finally:
        close()
