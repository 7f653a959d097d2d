"""A team from YAML whose agent lists an MCP server's tools: each session starts its own server
(a real stdio server written with the SDK), the model's tool call runs on it, closing the session
ends it, and a reload that changes the agent closes it (the next call starts it again)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.exceptions import RuntimeConfigError
from parley.runtime import Runtime
from parley.runtime.events import RunEvent, ToolCallEvent, ToolResultEvent
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, write_yaml
from .test_mcp import SERVER, START, server_processes

pytestmark = pytest.mark.timeout(180)

WEATHER_CALL = {"content": None, "tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}}]}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


@pytest.fixture(autouse=True)
def _no_server_left() -> Iterator[None]:
    yield
    left = server_processes()
    for p in left:
        p.kill()
    assert left == [], "an MCP server process outlived its session"


def team(base_url: str, system_message: str = "You answer about the weather.") -> dict[str, Any]:
    return {
        "models": {"fast": [{"model": "gpt-4o-mini", "base_url": base_url, "api_key_env": KEY_ENV}]},
        "tools": {"forecast": {"kind": "mcp", "command": sys.executable, "args": [SERVER], "startup_timeout": START}},
        "agents": {
            "coder": {"kind": "assistant", "model": "fast", "system_message": system_message, "tools": ["forecast"]},
            "runner": {"kind": "user_proxy", "human_input_mode": "NEVER"},
        },
        "teams": {"pair": {"kind": "two_agent", "members": ["runner", "coder"], "max_turns": 2}},
    }


async def run_events(runtime: Runtime, session_id: str) -> list[RunEvent]:
    return [e async for e in runtime.run_stream("pair", "Weather in Oslo?", session_id=session_id)]


async def test_an_agent_calls_an_mcp_servers_tool_and_closing_the_session_ends_the_server(tmp_path: Path) -> None:
    replies = [WEATHER_CALL, "Sunny in Oslo.", WEATHER_CALL, "Still sunny."]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        path = write_yaml(tmp_path / "team.yaml", team(server.base_url))
        async with Runtime.from_config(path) as runtime:
            events = await run_events(runtime, "s1")
            calls = [(e.name, e.arguments) for e in events if isinstance(e, ToolCallEvent)]
            results = [(e.name, e.content) for e in events if isinstance(e, ToolResultEvent)]
            assert calls == [("weather", '{"city": "Oslo"}')]
            assert results == [("weather", "Sunny in Oslo, 21 C")]
            # the model was offered the server's tools, with the server's schema
            offered = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
            assert offered["weather"]["parameters"]["required"] == ["city"]
            assert len(server_processes()) == 1  # the session's server stays up between runs
            second = await runtime.run("pair", "And now?", session_id="s1")
            assert "Sunny in Oslo, 21 C" in [m.get("content") for m in second.messages]
            assert len(server_processes()) == 1
            await runtime.close_session("s1")
            assert server_processes() == []


async def test_each_session_has_its_own_server_and_a_reload_that_changes_the_agent_closes_it(
    tmp_path: Path,
) -> None:
    replies = [WEATHER_CALL, "Sunny.", WEATHER_CALL, "Sunny.", WEATHER_CALL, "Sunny again."]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        config = team(server.base_url)
        path = write_yaml(tmp_path / "team.yaml", config)
        async with Runtime.from_config(path) as runtime:
            await runtime.run("pair", "Weather?", session_id="a")
            await runtime.run("pair", "Weather?", session_id="b")
            assert len({p.pid for p in server_processes()}) == 2
            write_yaml(tmp_path / "team.yaml", team(server.base_url, "You are terse."))
            await runtime.reload()
            assert server_processes() == []  # the changed agent's toolsets were closed
            again = await runtime.run("pair", "Weather?", session_id="a")
            assert "Sunny in Oslo, 21 C" in [m.get("content") for m in again.messages]  # started afresh
            assert len(server_processes()) == 1
        assert server_processes() == []


def test_an_mcp_tool_entry_is_checked_with_paths_and_did_you_mean() -> None:
    bad: dict[str, Any] = {
        "tools": {
            "a": {"kind": "mcpp", "command": "x"},
            "b": {"kind": "mcp", "comand": "x"},
            "c": {"kind": "mcp", "command": "x", "timeout": 0},
            "d": {"kind": "mcp", "command": "x", "url": "http://127.0.0.1:1/mcp"},
        },
        "agents": {"coder": {"tools": ["a", "bb"]}},
    }
    with pytest.raises(RuntimeConfigError) as info:
        Runtime.from_dict(bad)
    problems = dict(info.value.problems)
    assert problems["tools.a.kind"].startswith("unknown tool kind 'mcpp'. Did you mean 'mcp'?")
    assert problems["tools.b"].endswith("Did you mean 'command'?")
    assert problems["tools.c.timeout"].startswith("Input should be greater than 0")
    assert "both of command and url" in problems["tools.d"]
    bad["tools"] = {"b": {"kind": "mcp", "command": "x"}}
    bad["agents"]["coder"]["tools"] = ["bb"]
    with pytest.raises(RuntimeConfigError) as info:
        Runtime.from_dict(bad)
    assert dict(info.value.problems) == {"agents.coder.tools[0]": "unknown tool 'bb'. Did you mean 'b'?"}
