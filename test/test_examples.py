"""The examples gallery runs: each ``examples/NAME.py`` against the scripted server, started as the
"Try it without a key" page says, with ``NAME.replies.yaml`` as its script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if (p.with_suffix(".replies.yaml")).is_file())
EXPECTED = {
    "two_agents": "Summary: The 10th Fibonacci number is 55.",
    "group_chat": "Speakers: planner, coder, critic",
    "tools": "Summary: 20 EUR is 22.00 USD.",
    "custom_executor": "Summary: It has 2 lines.",
    "pools": "chat 3: Code output: 55",
}


def test_the_gallery_is_complete() -> None:
    assert set(EXPECTED) <= {p.stem for p in EXAMPLES}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_against_the_scripted_server(example: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen(
        [sys.executable, "-m", "parley.testing.openai_server", "--script", str(example.with_suffix(".replies.yaml"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        out = subprocess.run(
            [sys.executable, str(example)],
            capture_output=True,
            text=True,
            env={**env, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "none"},
            cwd=tmp_path,
            timeout=100,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert EXPECTED.get(example.stem, "") in out.stdout.splitlines()
    assert list(tmp_path.iterdir()) == []
