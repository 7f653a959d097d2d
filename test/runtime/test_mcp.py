"""Tools from MCP servers: a real MCP server (written with the official SDK, started by the test)
offers its tools to parley agents, and the real ``openai`` SDK drives the chat against the scripted
server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from parley import AssistantAgent, UserProxyAgent
from parley.exceptions import ConfigError, MCPServerError
from parley.runtime.mcp import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_STARTUP_TIMEOUT,
    MCPServerConfig,
    MCPTool,
    MCPToolset,
    register_mcp_tools,
)
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(120)

SERVER = str(Path(__file__).with_name("mcp_test_server.py"))
START = 90.0  # a generous start-up deadline: two cores are shared by many test processes


def stdio(*mode: str, **options: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [SERVER, *mode], "startup_timeout": START, **options}


def server_processes() -> list[psutil.Process]:
    """This test process's children that run the test server (the SDK starts each in a session of its own)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if SERVER in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(autouse=True)
def _no_server_left() -> Iterator[None]:
    assert server_processes() == []
    yield
    left = server_processes()
    for p in left:
        p.kill()
    assert left == [], "an MCP server process outlived its toolset"


def llm_config(server: ScriptedOpenAIServer) -> dict[str, Any]:
    return {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}]}


def pair(server: ScriptedOpenAIServer) -> tuple[AssistantAgent, UserProxyAgent]:
    assistant = AssistantAgent("assistant", llm_config=llm_config(server))
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=5)
    return assistant, user


# ---- the config ------------------------------------------------------------------------------


def test_config_defaults_and_the_two_transports() -> None:
    config = MCPServerConfig(command="npx", args=["-y", "weather-server"])
    assert (config.kind, config.timeout, config.startup_timeout) == (
        "mcp",
        DEFAULT_CALL_TIMEOUT,
        DEFAULT_STARTUP_TIMEOUT,
    )
    assert (DEFAULT_CALL_TIMEOUT, DEFAULT_STARTUP_TIMEOUT) == (60.0, 30.0)
    assert config.args == ["-y", "weather-server"]
    http = MCPServerConfig.model_validate({"url": "https://mcp.example.com/mcp", "headers_env": {"X-Key": "KEY"}})
    assert http.command is None
    assert http.headers_env == {"X-Key": "KEY"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "has neither of command and url: give either command"),
        ({"command": "x", "url": "http://h/mcp"}, "has both of command and url: give either command"),
        ({"url": "http://h/mcp", "env": {"A": "1"}, "cwd": "/tmp"}, "env, cwd apply to a stdio server"),
        ({"command": "x", "headers_env": {"A": "B"}}, "headers_env applies to an HTTP server"),
        ({"url": "ftp://h/mcp"}, "url must start with http:// or https://"),
        ({"command": "x", "tools": []}, "leave tools out to offer every tool"),
        ({"command": "x", "timeout": 0}, "greater than 0"),
        ({"comand": "x"}, "unknown key 'comand' in an MCP server config.*Did you mean 'command'"),
        ({"command": "x", "header_env": {}}, "Did you mean 'headers_env'"),
    ],
)
def test_config_errors_say_what_was_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MCPServerConfig.model_validate(data)


def test_secrets_come_from_host_variables_named_in_the_config() -> None:
    config = MCPServerConfig(command="x", env={"MODE": "test"}, env_from={"API_KEY": "HOST_KEY"})
    assert config.child_env({"HOST_KEY": "k-1"}) == {"MODE": "test", "API_KEY": "k-1"}
    with pytest.raises(MCPServerError, match=r"'weather': env_from reads host variables that are not set: API_KEY"):
        config.child_env({}, "weather")
    http = MCPServerConfig(url="http://127.0.0.1:1/mcp", headers_env={"Authorization": "AUTH"})
    assert http.http_headers({"AUTH": "Bearer t"}) == {"Authorization": "Bearer t"}


def test_a_missing_sdk_names_the_extra_to_install() -> None:
    code = (
        "import sys, asyncio\n"
        "sys.modules['mcp'] = None  # as if the extra were not installed\n"
        "from parley.runtime.mcp import MCPToolset\n"
        "try:\n"
        "    asyncio.run(MCPToolset('t', {'command': 'x'}).open())\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert (
        out.stdout.strip()
        == "MissingDependencyError 'mcp' is not installed. Install it with: pip install 'pyparley[mcp]'"
    )


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = "import sys, parley.runtime.mcp; print(sorted(m for m in ('mcp', 'httpx2', 'anyio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# ---- a real chat -----------------------------------------------------------------------------


def weather_script(request: dict[str, Any]) -> Any:
    last = request["messages"][-1]
    if last["role"] == "tool":
        return f"The weather service says: {last['content']}. TERMINATE"
    return {"content": None, "tool_calls": [{"id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}}]}


async def test_a_model_calls_an_mcp_tool_and_the_reply_carries_the_servers_answer() -> None:
    with ScriptedOpenAIServer(weather_script) as server:
        assistant, user = pair(server)
        async with MCPToolset("forecast", stdio(tools=["weather", "add"])) as toolset:
            offered = await register_mcp_tools(toolset, caller=assistant, executor=user)
            result = await user.a_initiate_chat(assistant, message="What is the weather in Oslo?", silent=True)
            pids = [p.pid for p in server_processes()]
            assert len(pids) == 1
        requests = server.requests
    assert offered == ["weather", "add"]
    assert requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "The weather in a city today.",
                "parameters": {
                    "properties": {"city": {"title": "City", "type": "string"}},
                    "required": ["city"],
                    "type": "object",
                    "title": "weatherArguments",
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": {
                    "properties": {"a": {"title": "A", "type": "integer"}, "b": {"title": "B", "type": "integer"}},
                    "required": ["a", "b"],
                    "type": "object",
                    "title": "addArguments",
                },
            },
        },
    ]
    assert [m["content"] for m in result.chat_history[2:]] == [
        "Sunny in Oslo, 21 C",
        "The weather service says: Sunny in Oslo, 21 C. TERMINATE",
    ]
    assert requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "Sunny in Oslo, 21 C"}
    assert not psutil.pid_exists(pids[0])  # leaving the block ended the server


def test_a_sync_chat_uses_the_toolset_and_leaving_the_sync_block_ends_the_server() -> None:
    from parley._sync import run_sync

    with ScriptedOpenAIServer(weather_script) as server:
        assistant, user = pair(server)
        with MCPToolset("sync", stdio()) as toolset:
            run_sync(register_mcp_tools(toolset, caller=assistant, executor=user))
            result = user.initiate_chat(assistant, message="Weather?", silent=True)
            [process] = server_processes()
    assert result.chat_history[-1]["content"] == "The weather service says: Sunny in Oslo, 21 C. TERMINATE"
    assert not psutil.pid_exists(process.pid)


async def test_tool_errors_reach_the_model_as_tool_results() -> None:
    calls = [
        {"id": "c1", "name": "fail", "arguments": {"reason": "no data"}},
        {"id": "c2", "name": "add", "arguments": {"a": 1, "b": "two"}},
        {"id": "c3", "name": "add", "arguments": {"a": 1}},
        {"id": "c4", "name": "geo_lookup", "arguments": {"place": "Paris"}},
        {"id": "c5", "name": "add", "arguments": {"a": 2, "b": 3}},
    ]
    with ScriptedOpenAIServer([{"content": None, "tool_calls": calls}, "Noted. TERMINATE"]) as server:
        assistant, user = pair(server)
        async with MCPToolset("demo", stdio()) as toolset:
            offered = await register_mcp_tools(toolset, caller=assistant, executor=user)
            result = await user.a_initiate_chat(assistant, message="Try the tools.", silent=True)
    assert "geo_lookup" in offered  # the server's "geo.lookup": a dot is not allowed in a model's tool name
    responses = [r["content"] for r in result.chat_history[2]["tool_responses"]]
    assert responses == [
        "Error: tool 'fail' on MCP server 'demo' failed: Error executing tool fail: the tool failed on purpose: "
        "no data",
        "Error: bad arguments for 'add': b: 'two' is not of type 'integer'",
        "Error: bad arguments for 'add': (arguments): 'b' is a required property",
        json.dumps({"place": "Paris", "lat": 48.85, "lon": 2.35}, indent=2),
        "5",
    ]


async def test_names_that_clash_are_refused_and_a_prefix_tells_them_apart() -> None:
    with ScriptedOpenAIServer(["unused"]) as server:
        assistant, user = pair(server)
        async with MCPToolset("one", stdio(tools=["weather"])) as one, MCPToolset("two", stdio()) as two:
            await register_mcp_tools(one, caller=assistant, executor=user)
            with pytest.raises(ConfigError, match=r"Tool 'weather' of MCP server 'two' would be offered as 'weather'"):
                await register_mcp_tools(two, caller=assistant, executor=user)
            offered = await register_mcp_tools(two, caller=assistant, executor=user, prefix="two_")
            assert offered[:2] == ["two_weather", "two_add"]
            assert await user.function_map["two_add"](a=40, b=2) == "42"
        with pytest.raises(ConfigError, match="register_mcp_tools needs a caller with an llm_config"):
            await register_mcp_tools(one, caller=user, executor=user)


# ---- deadlines, faults and closing ----------------------------------------------------------


async def test_a_call_that_hangs_is_cancelled_at_its_deadline_and_the_server_still_answers() -> None:
    async with MCPToolset("slow", stdio(timeout=1)) as toolset:
        answer = await asyncio.wait_for(toolset.call_tool("hang"), timeout=60)
        assert answer == (
            "Error: tool 'hang' on MCP server 'slow' gave no answer within 1 s, so the call was cancelled. "
            "Ask for less in one call, or try another way."
        )
        assert await toolset.call_tool("add", {"a": 1, "b": 2}) == "3"
        [process] = server_processes()
    assert not psutil.pid_exists(process.pid)


async def test_a_server_that_says_nothing_fails_at_the_startup_deadline_and_is_ended() -> None:
    toolset = MCPToolset("mute", stdio("silent", startup_timeout=2))
    with pytest.raises(
        MCPServerError, match=r"MCP server 'mute' \(started with .*silent'\) did not finish its handshake"
    ):
        await asyncio.wait_for(toolset.open(), timeout=60)
    assert server_processes() == []
    answer = await toolset.call_tool("weather", {"city": "Oslo"})  # the model reads the same error
    assert answer.startswith("Error: MCP server 'mute'")
    assert "within 2 s (startup_timeout)" in answer
    await toolset.aclose()


async def test_cancelling_an_open_ends_the_server_it_was_starting() -> None:
    toolset = MCPToolset("abandoned", stdio("silent"))
    opening = asyncio.ensure_future(toolset.open())
    for _ in range(600):  # until the server process exists, at most 60 s
        if server_processes():
            break
        await asyncio.sleep(0.1)
    assert len(server_processes()) == 1
    opening.cancel()  # as a run's budget or a caller's cancellation does
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert server_processes() == []
    await toolset.aclose()


async def test_a_server_that_exits_at_start_is_reported_with_its_stderr() -> None:
    async with MCPToolset("broken", stdio("crash")) as toolset:
        with pytest.raises(MCPServerError) as caught:
            await toolset.open()
    assert caught.value.server == "broken"
    assert "closed the connection before the handshake finished" in str(caught.value)
    assert str(caught.value).endswith("Its stderr ended with:\ntest server: cannot start, the configuration is missing")


async def test_a_missing_command_or_allow_listed_tool_fails_to_open() -> None:
    async with MCPToolset("nope", {"command": "/nonexistent/mcp-server"}) as toolset:
        with pytest.raises(MCPServerError, match=r"there is no program '/nonexistent/mcp-server'"):
            await toolset.open()
    async with MCPToolset("typo", stdio(tools=["wether"])) as toolset:
        with pytest.raises(ConfigError, match=r"MCP server 'typo' has no tool 'wether'.*Did you mean 'weather'\?"):
            await toolset.open()
        assert server_processes() == []  # the server started, was listed, and was ended


async def test_a_server_that_dies_is_started_again_for_the_next_call() -> None:
    async with MCPToolset("phoenix", stdio()) as toolset:
        first = int((await toolset.call_tool("where")).split()[1])
        os.kill(first, signal.SIGKILL)
        answer = await toolset.call_tool("where")
        assert answer.startswith("Error: MCP server 'phoenix' closed the connection while 'where' ran")
        assert "it is started again for the next call" in answer
        second = int((await toolset.call_tool("where")).split()[1])
        assert second != first
    assert not psutil.pid_exists(second)


async def test_the_server_gets_env_cwd_and_named_host_variables_but_no_other_host_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_TEST_HOST_SECRET", "s3cret")
    monkeypatch.setenv("PARLEY_TEST_HOST_KEY", "k-123")
    options = {"env": {"MODE": "test"}, "env_from": {"API_KEY": "PARLEY_TEST_HOST_KEY"}, "cwd": str(tmp_path)}
    async with MCPToolset("envs", stdio(**options)) as toolset:
        seen = [
            await toolset.call_tool("env_value", {"name": n}) for n in ("MODE", "API_KEY", "PARLEY_TEST_HOST_SECRET")
        ]
        where = await toolset.call_tool("where")
    assert seen == ["test", "k-123", "<unset>"]
    assert where.split()[0] == str(tmp_path)


async def test_a_closed_toolset_stays_closed_and_close_is_idempotent() -> None:
    toolset = MCPToolset("done", stdio())
    tools = await toolset.list_tools()
    assert [t.name for t in tools] == ["weather", "add", "fail", "hang", "env_value", "where", "geo.lookup"]
    assert tools[0] == MCPTool(
        "weather",
        "The weather in a city today.",
        {
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "type": "object",
            "title": "weatherArguments",
        },
    )
    await toolset.aclose()
    await toolset.aclose()
    assert toolset.closed
    assert server_processes() == []
    assert await toolset.call_tool("weather", {"city": "Oslo"}) == (
        "Error: MCP toolset 'done' is closed; make a new MCPToolset."
    )
    with pytest.raises(MCPServerError, match="is closed"):
        await toolset.open()


async def test_cancelling_a_caller_mid_call_still_lets_close_end_the_server() -> None:
    toolset = MCPToolset("cancel", stdio())
    await toolset.open()
    call = asyncio.ensure_future(toolset.call_tool("hang"))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await toolset.call_tool("add", {"a": 2, "b": 2}) == "4"
    closing = asyncio.ensure_future(toolset.aclose())
    await asyncio.sleep(0)
    closing.cancel()  # a session closed while its task is cancelled still ends its server
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert server_processes() == []


# ---- streamable HTTP -------------------------------------------------------------------------


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    env = {**os.environ, "TEST_TOKEN": "token-42"}
    process = await asyncio.create_subprocess_exec(sys.executable, SERVER, "http", stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=START)
        assert line.startswith(b"PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        process.kill()
        await process.wait()


async def test_a_streamable_http_server_with_a_header_from_the_environment(
    http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"url": http_server, "headers_env": {"X-Test-Token": "PARLEY_TEST_MCP_TOKEN"}, "startup_timeout": START}
    monkeypatch.delenv("PARLEY_TEST_MCP_TOKEN", raising=False)
    async with MCPToolset("web", config) as toolset:
        with pytest.raises(MCPServerError, match=r"headers_env reads host variables that are not set: X-Test-Token"):
            await toolset.open()
    monkeypatch.setenv("PARLEY_TEST_MCP_TOKEN", "wrong")
    async with MCPToolset("web", config) as toolset:
        with pytest.raises(MCPServerError, match=r"MCP server 'web' \(at http://127\.0\.0\.1:\d+/mcp\) refused the"):
            await toolset.open()
    monkeypatch.setenv("PARLEY_TEST_MCP_TOKEN", "token-42")
    async with MCPToolset("web", config) as toolset:
        assert await toolset.call_tool("weather", {"city": "Lima"}) == "Sunny in Lima, 21 C"
        assert await toolset.call_tool("add", {"a": 20, "b": 22}) == "42"
