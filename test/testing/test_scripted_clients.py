"""ScriptedModelClient and FunctionModelClient: in-process ModelClients with no network."""

from __future__ import annotations

from typing import Any

import pytest

from parley.exceptions import ConfigError, ModelNotFoundError, ModelRateLimitError, ModelResponseError
from parley.llm import ModelClient, ModelResponse, Usage
from parley.llm.types import Message, ToolSpec
from parley.testing import FunctionModelClient, ScriptedModelClient

HI: list[Message] = [{"role": "user", "content": "hi there"}]


async def test_replies_come_in_order_with_usage_and_cost() -> None:
    client = ScriptedModelClient(
        ["Hello!", {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 1}}]}],
        model="m",
        cost_per_call=0.5,
    )
    assert isinstance(client, ModelClient)
    first = await client.create(HI)
    second = await client.create([*HI, first.message])
    assert first == ModelResponse(
        message={"role": "assistant", "content": "Hello!"}, usage=Usage(3, 2, 5), cost=0.5, model="m"
    )
    assert second.message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_2_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}],
    }
    assert client.calls == [HI, [*HI, first.message]]


async def test_an_exhausted_script_is_a_model_response_error() -> None:
    client = ScriptedModelClient(["only"])
    await client.create(HI)
    with pytest.raises(ModelResponseError, match="script exhausted after 1 replies; call #2 has no reply"):
        await client.create(HI)


async def test_error_faults_raise_the_matching_model_error() -> None:
    client = ScriptedModelClient([{"error": {"status": 429, "message": "slow down"}}, {"error": {"status": 404}}])
    with pytest.raises(ModelRateLimitError, match="slow down") as info:
        await client.create(HI)
    assert info.value.status_code == 429
    with pytest.raises(ModelNotFoundError):
        await client.create(HI)


async def test_a_delayed_reply_still_arrives() -> None:
    client = ScriptedModelClient([{"delay": 0.01, "content": "late"}])
    assert (await client.create(HI)).message["content"] == "late"


async def test_a_reply_without_content_or_tool_calls_is_malformed() -> None:
    with pytest.raises(ModelResponseError, match="no content and no tool calls"):
        await ScriptedModelClient([{"content": None}]).create(HI)


def test_raw_http_faults_belong_to_the_server() -> None:
    with pytest.raises(ConfigError, match="ScriptedOpenAIServer"):
        ScriptedModelClient(["ok", {"raw": "{"}])
    with pytest.raises(ConfigError, match="FunctionModelClient"):
        ScriptedModelClient(lambda m: "x")  # type: ignore[arg-type]


async def test_a_sync_function_sees_messages_tools_and_params() -> None:
    seen: list[Any] = []
    tools: list[ToolSpec] = [{"type": "function", "function": {"name": "f"}}]

    def fn(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> str:
        seen.append((messages, tools, params))
        return f"{len(messages)} messages"

    client = FunctionModelClient(fn, model="fn")
    assert isinstance(client, ModelClient)
    response = await client.create(HI, tools=tools, params={"temperature": 0})
    assert response.message == {"role": "assistant", "content": "1 messages"}
    assert response.model == "fn"
    assert seen == [(HI, tools, {"temperature": 0})]
    assert client.calls == [HI]


async def test_an_async_function_may_return_a_full_response() -> None:
    full = ModelResponse(message={"role": "assistant", "content": "x"}, usage=Usage(1, 1, 2), cost=1.0, model="z")

    async def fn(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> ModelResponse:
        return full

    assert await FunctionModelClient(fn).create(HI) is full


async def test_a_function_returning_junk_is_a_model_response_error() -> None:
    client = FunctionModelClient(lambda m, t, p: 42)
    with pytest.raises(ModelResponseError, match="fn returned a bad reply"):
        await client.create(HI)


def test_function_client_needs_a_callable() -> None:
    with pytest.raises(ConfigError, match="needs a callable"):
        FunctionModelClient("nope")  # type: ignore[arg-type]
