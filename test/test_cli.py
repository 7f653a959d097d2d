"""The ``parley`` command: help, and the demo that really runs code."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PRIMES = "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    assert "demo" in out.stdout


@pytest.mark.timeout(150)
def test_demo_runs_code_and_prints_the_executed_answer(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(os.urandom(100_000))
    out = run_cli("demo", str(target), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scripted demo model" in out.stdout.splitlines()[0]
    answer = out.stdout.split("=== Answer ===", 1)[1]
    assert PRIMES in answer
    assert hashlib.sha256(target.read_bytes()).hexdigest() in answer
    assert "exitcode: 0 (execution succeeded)" in out.stdout  # the conversation shows the real run


def test_demo_reports_a_missing_file(tmp_path: Path) -> None:
    out = run_cli("demo", str(tmp_path / "nope.txt"))
    assert out.returncode == 2
    assert "is not a file" in out.stdout


@pytest.mark.timeout(150)
def test_demo_with_base_url_uses_that_model_through_the_openai_sdk(tmp_path: Path) -> None:
    from parley._demo import scripted_demo_reply
    from parley.testing import ScriptedOpenAIServer

    target = tmp_path / "data.txt"
    target.write_text("hello parley\n")
    with ScriptedOpenAIServer(lambda body: scripted_demo_reply(body["messages"]), model="local-model") as server:
        out = run_cli("demo", str(target), "--base-url", server.base_url, "--model", "local-model", "--quiet")
        requests = server.request_count
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == f"Using model local-model at {server.base_url}."
    assert PRIMES in out.stdout
    assert hashlib.sha256(b"hello parley\n").hexdigest() in out.stdout
    assert requests == 2  # the program, then the answer read from its executed output


@pytest.mark.timeout(150)
def test_the_demo_shows_escape_sequences_in_the_answer_without_obeying_them(tmp_path: Path) -> None:
    from parley._demo import scripted_demo_reply
    from parley.testing import ScriptedOpenAIServer

    def model(body: dict[str, Any]) -> str:
        reply = scripted_demo_reply(body["messages"])
        return reply.replace("TERMINATE", "\x1b]0;pwned\x07\x1b[2J\x1b[3J TERMINATE")

    target = tmp_path / "data.txt"
    target.write_text("hello parley\n")
    with ScriptedOpenAIServer(model, model="local-model") as server:
        out = run_cli("demo", str(target), "--base-url", server.base_url, "--model", "local-model", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    answer = out.stdout.split("=== Answer ===", 1)[1]
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[3J" in answer
    assert "\x1b" not in out.stdout
    assert "\x07" not in out.stdout
