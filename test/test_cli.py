"""The ``parley`` command: help, and the demo that really runs code."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PRIMES = "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    import parley

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    # `-m` puts the working directory first on the path: default to the root of the parley under test
    root = Path(parley.__file__).parent.parent
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, env=env, cwd=cwd or root, timeout=120
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


# ---- the command frame -----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_arguments_prints_the_help_and_exits_2() -> None:
    out = run_cli()
    assert out.returncode == 2
    assert out.stdout.startswith("usage: parley")
    for command in ("demo", "doctor", "executors", "run", "validate", "replay"):
        assert command in out.stdout


@pytest.mark.parametrize(("typed", "meant"), [("dmeo", "demo"), ("docter", "doctor"), ("executor", "executors")])
def test_an_unknown_command_gets_a_did_you_mean(typed: str, meant: str) -> None:
    out = run_cli(typed)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"parley: unknown command '{typed}'. Did you mean '{meant}'? "
        "Commands: demo, doctor, executors, run, validate, replay."
    ]


@pytest.mark.timeout(60)
def test_a_known_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    out = run_cli("demo", "--quiet", "--base-url", base_url, cwd=tmp_path)
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    assert line.startswith("parley demo: ModelConnectionError: ")
    assert line.endswith("(--debug shows the traceback)")
    assert base_url in line
    debug = run_cli("--debug", "demo", "--quiet", "--base-url", base_url, cwd=tmp_path)
    assert debug.returncode == 1
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert "parley.exceptions.ModelConnectionError" in debug.stderr


@pytest.mark.timeout(150)
def test_demo_runs_from_any_directory_on_a_file_that_is_always_there(tmp_path: Path) -> None:
    import parley

    out = run_cli("demo", "--quiet", cwd=tmp_path)  # no README.md here
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Checksumming {parley.__file__}." in out.stdout
    answer = out.stdout.split("=== Answer ===", 1)[1]
    assert hashlib.sha256(Path(parley.__file__).read_bytes()).hexdigest() in answer
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_doctor_checks_each_component_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    from parley.testing import ScriptedOpenAIServer

    with ScriptedOpenAIServer(["unused"], model="gpt-4o-mini") as server:
        out = run_cli(
            "doctor",
            "--redis-url", f"redis://127.0.0.1:{closed_port()}/0",
            "--gateway-url", f"http://127.0.0.1:{closed_port()}",
            "--base-url", server.base_url,
            cwd=tmp_path,
        )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    rows = {
        line.split()[1]: line.split()[0] for line in out.stdout.splitlines()[1:] if not line.strip().startswith("->")
    }
    assert set(rows) == {"python", "docker", "kernels", "gateway", "redis", "model", "tracing"}
    assert rows["python"] == "ok"
    assert rows["model"] == "ok"
    assert rows["redis"] == "fail"
    assert rows["gateway"] == "fail"
    assert "-> start redis-server, or fix the URL" in out.stdout
    assert out.stderr.splitlines() == ["parley doctor: gateway, redis failed (see the fixes above)."]


def test_executors_lists_the_registered_executors_and_whether_each_runs_here(tmp_path: Path) -> None:
    from parley.coding.factory import EXECUTOR_REGISTRY

    out = run_cli("executors", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = [line.split()[1] for line in out.stdout.splitlines()[1:] if not line.strip().startswith("->")]
    assert listed == list(EXECUTOR_REGISTRY)
    assert "ok       commandline-local (local)  runs code as subprocesses of this Python" in out.stdout
    assert "missing  notebook" in out.stdout  # not inside a notebook's kernel


def test_commands_are_added_by_a_function(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from parley.cli import Command, add_command, main\n"
        "def configure(p):\n    p.add_argument('who')\n"
        "def run(args):\n    print('hello', args.who)\n    return 3\n"
        "add_command(Command('hello', 'say hello', configure, run))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "hello", "you"], capture_output=True, text=True, cwd=tmp_path)
    assert (out.returncode, out.stdout) == (3, "hello you\n")
