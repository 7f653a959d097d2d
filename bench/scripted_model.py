"""The scripted model server that both sides of a benchmark can talk to, as a separate process.

It is parley's `parley.testing.openai_server` run with parley's interpreter, answering every
chat-completions request with `REPLY`. It runs in its own process so that serving never competes
with the measured client for the GIL. Only the standard library is used here, so a peer script
(pyautogen's venv) can import this module too, after putting the repository root on ``sys.path``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

__all__ = ["REPLY", "reply", "start_server", "stop_server"]

HERE = Path(__file__).resolve().parent

REPLY = "The answer is 42."
"""The text of every reply."""


def reply(request: dict[str, Any]) -> str:
    """The script: the same answer to every request."""
    return REPLY


def start_server(python: str) -> tuple[subprocess.Popen[str], str]:
    """Start the server with parley's interpreter ``python``; return the process and its base URL.

    Raises:
        RuntimeError: the server did not print its URL (its stderr is quoted).
    """
    proc = subprocess.Popen(
        # run from bench/ as "scripted_model:reply": the server's script loader takes a dotted
        # "bench.scripted_model:reply" for a file name (its suffix looks like ".scripted_model:reply")
        [python, "-m", "parley.testing.openai_server", "--script", "scripted_model:reply"],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        _, err = proc.communicate()
        raise RuntimeError(f"the scripted server did not start: {url!r} {err}")
    return proc, url


def stop_server(proc: subprocess.Popen[str]) -> None:
    """Stop the server and wait for it (SIGTERM, then SIGKILL after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
