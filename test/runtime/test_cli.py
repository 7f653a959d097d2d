"""``parley run``, ``parley validate`` and ``parley replay`` as a user runs them, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, pair_config, write_yaml

REPLIES = ["```python\nprint('hello from the block')\n```", "It printed the line. TERMINATE"]
SECRET = "sk-test-never-in-a-record-1234"


def parley(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KEY_ENV: SECRET, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(180)
def test_run_json_ends_with_the_result_and_replay_prints_the_console_transcript(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(REPLIES * 2, model="gpt-4o-mini") as server:
        path = write_yaml(tmp_path / "team.yaml", pair_config(server.base_url, tmp_path / "work"))
        as_json = parley("run", str(path), "pair", "Print a line.", "--json", "--record", "rec-json", cwd=tmp_path)
        shown = parley("run", str(path), "pair", "Print a line.", "--record", "rec", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert events[0]["type"] == "run_started"
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["result"]["stop_reason"] == "terminated"
    assert [e["sequence"] for e in events] == list(range(len(events)))
    json_record = next((tmp_path / "rec-json").glob("*.jsonl")).read_text()
    assert [json.loads(line) for line in json_record.splitlines()] == events
    assert SECRET not in json_record

    assert shown.returncode == 0, shown.stderr
    assert "runner -> coder:" in shown.stdout
    assert "hello from the block" in shown.stdout
    assert "Stopped: terminated" in shown.stdout
    record = next((tmp_path / "rec").glob("*.jsonl"))
    assert SECRET not in record.read_text()
    replayed = parley("replay", str(record), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == shown.stdout


@pytest.mark.timeout(120)
def test_run_exit_code_says_a_limit_stopped_it(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(REPLIES, model="gpt-4o-mini") as server:
        path = write_yaml(tmp_path / "team.yaml", pair_config(server.base_url, tmp_path / "work"))
        done = parley("run", str(path), "pair", "Print a line.", "--max-steps", "1", "--json", cwd=tmp_path)
    assert done.returncode == 3
    assert json.loads(done.stdout.splitlines()[-1])["result"]["stop_reason"] == "max_steps"


def test_validate_names_each_problem_with_its_path(tmp_path: Path) -> None:
    config = pair_config("http://127.0.0.1:9/v1", tmp_path)
    config["teams"]["pair"]["members"] = ["runner", "codr"]
    config["agents"]["coder"]["kind"] = "asistant"
    bad = write_yaml(tmp_path / "bad.yaml", config)
    done = parley("validate", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "teams.pair.members[1]: unknown agent 'codr'. Did you mean 'coder'?" in done.stderr
    assert "agents.coder.kind: unknown agent kind 'asistant'. Did you mean 'assistant'?" in done.stderr
    good = write_yaml(tmp_path / "good.yaml", pair_config("http://127.0.0.1:9/v1", tmp_path))
    ok = parley("validate", str(good), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "OK (2 agents, 1 team)" in ok.stdout


def test_validate_counts_in_the_singular_for_one(tmp_path: Path) -> None:
    config = pair_config("http://127.0.0.1:9/v1", tmp_path)
    del config["agents"]["runner"], config["teams"]
    one = write_yaml(tmp_path / "one.yaml", config)
    done = parley("validate", str(one), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{one}: OK (1 agent, 0 teams)"


def test_run_with_an_unknown_target_suggests_one(tmp_path: Path) -> None:
    good = write_yaml(tmp_path / "good.yaml", pair_config("http://127.0.0.1:9/v1", tmp_path))
    done = parley("run", str(good), "piar", "Go.", cwd=tmp_path)
    assert done.returncode == 2
    assert "Did you mean 'pair'?" in done.stderr
