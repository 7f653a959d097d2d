"""Sessions continue conversations and share nothing; reload affects new sessions only; config errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from parley.exceptions import ConfigError, RuntimeConfigError
from parley.runtime import Runtime
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, pair_config, write_yaml


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


class Echo:
    """Answers with the system message and how many user messages the request held."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def __call__(self, body: dict[str, Any]) -> str:
        self.requests.append(body["messages"])
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        return f"{body['messages'][0]['content']} saw {users} TERMINATE"


@pytest.mark.timeout(60)
async def test_a_second_run_in_a_session_sees_the_first(tmp_path: Path) -> None:
    echo = Echo()
    with ScriptedOpenAIServer(echo, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(pair_config(server.base_url, tmp_path)) as runtime:
            first = await runtime.run("pair", "one", session_id="s1")
            second = await runtime.run("pair", "two", session_id="s1")
            other = await runtime.run("pair", "three", session_id="s2")
            assert runtime.list_sessions() == ["s1", "s2"]
            await runtime.close_session("s1")
            assert runtime.list_sessions() == ["s2"]
            with pytest.raises(ConfigError, match="Did you mean 's2'"):
                await runtime.close_session("s2x")
    assert first.final_output == "You write Python. saw ['one']"
    assert second.final_output == "You write Python. saw ['one', 'two']"
    assert [m["content"] for m in second.messages] == ["two", second.messages[1]["content"]]  # this run's only
    assert other.final_output == "You write Python. saw ['three']"  # s2 shares nothing with s1


@pytest.mark.timeout(60)
async def test_sessions_run_concurrently_with_their_own_code_folders(tmp_path: Path) -> None:
    code = "```python\nimport os\nprint(os.getcwd())\n```"

    def script(body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"]
        return "done TERMINATE" if str(last).startswith("exitcode") else code

    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(pair_config(server.base_url, tmp_path / "work")) as runtime:
            results = await asyncio.gather(*(runtime.run("pair", "cwd?", session_id=f"s{i}") for i in range(4)))
    folders = [r.messages[2]["content"].split("Code output: ")[1].strip() for r in results]
    assert folders == [str(tmp_path / "work" / f"s{i}") for i in range(4)]


@pytest.mark.timeout(60)
async def test_reload_keeps_running_runs_and_old_sessions_and_refuses_a_broken_file(tmp_path: Path) -> None:
    release = threading.Event()
    seen: list[str] = []
    asked = threading.Event()

    def script(body: dict[str, Any]) -> Any:
        system = body["messages"][0]["content"]
        seen.append(system)
        asked.set()
        if system == "old" and len(seen) == 1:
            return {"content": "old answer TERMINATE", "stream_pause": {"after": 0, "until": release}}
        return f"{system} answer TERMINATE"

    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path)
        config["agents"]["coder"]["system_message"] = "old"
        config["agents"]["coder"]["llm_options"] = {"stream": True}
        path = write_yaml(tmp_path / "team.yaml", config)
        async with Runtime.from_config(path) as runtime:
            in_flight = asyncio.ensure_future(runtime.run("pair", "go", session_id="old-session"))
            await asyncio.to_thread(asked.wait, 30)
            config["agents"]["coder"]["system_message"] = "new"
            write_yaml(path, config)
            await runtime.reload()
            release.set()
            old_run = await in_flight
            new_run = await runtime.run("pair", "go", session_id="new-session")
            again_old = await runtime.run("pair", "go", session_id="old-session")
            (tmp_path / "team.yaml").write_text("agents: {coder: {kind: asistant}}\n")
            with pytest.raises(RuntimeConfigError, match=r"agents.coder.kind.*Did you mean 'assistant'"):
                await runtime.reload()
            after_broken = await runtime.run("pair", "go", session_id="third")
            assert runtime.get_agent_info("coder")["system_message"] == "new"
    assert old_run.final_output == "old answer"
    assert new_run.final_output == "new answer"
    assert again_old.final_output == "old answer"
    assert after_broken.final_output == "new answer"


def test_every_config_error_names_its_path_and_a_did_you_mean(tmp_path: Path) -> None:
    bad: dict[str, Any] = {
        "models": {"fast": [{"model": "m"}]},
        "executors": {"sandbox": {"kind": "commandline-locl", "optons": {}}},
        "tools": {"add": "math:fsum"},
        "agents": {
            "coder": {"kind": "asistant", "model": "fsat", "sytem_message": "x", "tools": ["ad"]},
            "runner": {"kind": "user_proxy", "executor": "sandbx", "human_input_mode": "never"},
            "reviewer": {"kind": "assistant"},
        },
        "teams": {
            "pair": {"kind": "two_agnet", "members": ["runner", "coder"]},
            "review": {"kind": "group_chat", "members": ["runner", "coder", "reviwer"]},
        },
    }
    with pytest.raises(RuntimeConfigError) as info:
        Runtime.from_dict(bad)
    problems = dict(info.value.problems)
    assert problems["executors.sandbox.optons"] == "unknown key 'optons'. Did you mean 'options'?"
    assert problems["agents.coder.sytem_message"] == "unknown key 'sytem_message'. Did you mean 'system_message'?"
    assert problems["agents.runner.human_input_mode"].endswith("Did you mean 'NEVER'?")
    assert problems["teams.pair.kind"].endswith("Did you mean 'two_agent'?")
    # references are checked once the shape is right
    del bad["executors"]["sandbox"]["optons"]
    bad["agents"]["coder"].pop("sytem_message")
    bad["agents"]["runner"]["human_input_mode"] = "NEVER"
    bad["teams"]["pair"]["kind"] = "two_agent"
    with pytest.raises(RuntimeConfigError) as info:
        Runtime.from_dict(bad)
    problems = dict(info.value.problems)
    assert problems["executors.sandbox.kind"].startswith(
        "unknown executor kind 'commandline-locl'. Did you mean 'commandline-local'?"
    )
    assert problems["agents.coder.kind"].startswith("unknown agent kind 'asistant'. Did you mean 'assistant'?")
    assert problems["agents.coder.model"] == "unknown model 'fsat'. Did you mean 'fast'?"
    assert problems["agents.coder.tools[0]"] == "unknown tool 'ad'. Did you mean 'add'?"
    assert problems["agents.runner.executor"] == "unknown executor 'sandbx'. Did you mean 'sandbox'?"
    assert problems["teams.review.members[2]"] == "unknown agent 'reviwer'. Did you mean 'reviewer'?"
    assert "teams.review.members[2]: unknown agent 'reviwer'. Did you mean 'reviewer'?" in str(info.value)


def test_files_in_yaml_toml_and_json_and_their_parse_errors(tmp_path: Path) -> None:
    import json

    config = pair_config("http://127.0.0.1:9/v1", tmp_path)
    (tmp_path / "team.json").write_text(json.dumps(config))
    (tmp_path / "team.toml").write_text(
        '[models]\nfast = [{model = "gpt-4o-mini", base_url = "http://127.0.0.1:9/v1"}]\n'
        '[agents.coder]\nkind = "assistant"\nmodel = "fast"\n[agents.runner]\nkind = "user_proxy"\n'
        '[teams.pair]\nkind = "two_agent"\nmembers = ["runner", "coder"]\n'
    )
    assert Runtime.from_config(tmp_path / "team.json").list_teams() == ["pair"]
    assert Runtime.from_config(tmp_path / "team.toml").list_agents() == ["coder", "runner"]
    (tmp_path / "broken.yaml").write_text("agents: [unclosed\n")
    with pytest.raises(RuntimeConfigError, match="not valid YAML"):
        Runtime.from_config(tmp_path / "broken.yaml")
    with pytest.raises(RuntimeConfigError, match="api_key_env"):
        Runtime.from_dict({"models": {"m": [{"model": "x", "api_key": "sk-written-in-the-file"}]}})


async def test_unknown_target_and_agent_suggest_one(tmp_path: Path) -> None:
    runtime = Runtime.from_dict(pair_config("http://127.0.0.1:9/v1", tmp_path))
    with pytest.raises(ConfigError, match="Did you mean 'pair'"):
        await runtime.run("piar", "go")
    with pytest.raises(ConfigError, match="Did you mean 'coder'"):
        runtime.get_agent_info("codr")
    await runtime.close()
