"""OpenAIClient through the real openai SDK against the scripted server: replies, errors, the guard."""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from parley.exceptions import (
    ConfigError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelResponseError,
)
from parley.llm import ModelClient, OpenAIClient, OpenAIWrapper
from parley.llm import openai_client as openai_client_module
from parley.llm.pricing import cost
from parley.llm.types import Message, ToolSpec
from parley.testing import ScriptedModelClient, ScriptedOpenAIServer

from .conftest import FAKE_KEY, SECRET

HI: list[Message] = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi there"}]
Entry = Callable[..., dict[str, Any]]


def assert_no_secret(err: BaseException) -> None:
    shown = str(err) + repr(err) + "".join(traceback.format_exception(err)) + repr(getattr(err, "config", ""))
    assert SECRET not in shown


async def test_text_reply_with_usage_and_cost(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["Hello!"]) as server:
        client = OpenAIClient(entry_for(server, model="gpt-4o-2024-08-06"))
        assert isinstance(client, ModelClient)
        response = await client.create(HI)
    assert response.message == {"role": "assistant", "content": "Hello!"}
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (
        4 + 3,
        2,
        9,
    )
    assert response.model == "gpt-4o-2024-08-06"
    assert response.cost == pytest.approx(cost("gpt-4o", 7, 2))
    assert response.cost == pytest.approx(7 / 1000 * 0.0025 + 2 / 1000 * 0.01)
    assert not response.cached


async def test_tool_calls_and_tools_in_the_request(entry_for: Entry) -> None:
    tools: list[ToolSpec] = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    reply = {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 1}, "id": "call_x"}]}
    with ScriptedOpenAIServer([reply]) as server:
        response = await OpenAIClient(entry_for(server)).create(HI, tools=tools)
        sent = server.requests[0]
    assert response.message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_x", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}],
    }
    assert sent["tools"] == tools


async def test_same_usage_in_process_and_over_http(entry_for: Entry) -> None:
    replies = ["A reply of some length.", {"tool_calls": [{"name": "f", "arguments": {"x": [1, 2, 3]}}]}]
    local = ScriptedModelClient(replies, model="gpt-4o-mini")
    with ScriptedOpenAIServer(replies) as server:
        remote = OpenAIClient(entry_for(server))
        for _ in replies:
            assert (await remote.create(HI)).usage == (await local.create(HI)).usage


async def test_call_params_pass_through_and_agent_keys_do_not(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["a", "b"]) as server:
        entry = entry_for(
            server,
            temperature=0,
            seed=7,
            top_k=5,
            cache_seed=42,
            functions=[],
            tags=["x"],
            price=[1, 2],
            extra_body={"repetition_penalty": 1.1},
            stream_options={"include_usage": True},
        )
        client = OpenAIClient(entry)
        await client.create(HI)
        await client.create(HI, params={"temperature": 0.5, "model": "gpt-4o", "stream": True, "cache": object()})
        first, second = server.requests
    assert first == {
        "model": "gpt-4o-mini",
        "messages": HI,
        "temperature": 0,
        "seed": 7,
        "top_k": 5,
        "repetition_penalty": 1.1,
    }
    assert (second["model"], second["temperature"]) == ("gpt-4o", 0.5)
    assert (second["stream"], second["stream_options"]) == (True, {"include_usage": True})  # streamed this call
    assert "cache" not in second


async def test_price_in_the_entry_overrides_the_table(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["x" * 40]) as server:
        response = await OpenAIClient(entry_for(server, model="my-local-llm", price=[1.0, 2.0])).create(HI)
    assert response.cost == pytest.approx(7 / 1000 * 1.0 + 11 / 1000 * 2.0)


async def test_default_headers_and_organization_are_sent(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["ok"]) as server:
        entry = entry_for(server, default_headers={"X-Team": "blue"}, organization="org-1")
        await OpenAIClient(entry).create(HI)
        headers = server.request_headers[0]
    assert headers["x-team"] == "blue"
    assert headers["openai-organization"] == "org-1"
    assert headers["authorization"] == f"Bearer {FAKE_KEY}"


async def test_api_key_from_the_environment(entry_for: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with ScriptedOpenAIServer(["ok"], api_key="sk-from-env") as server:
        entry = entry_for(server)
        del entry["api_key"]
        assert (await OpenAIClient(entry).create(HI)).message["content"] == "ok"


async def test_a_missing_key_says_how_to_set_one(entry_for: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    entry = entry_for("http://127.0.0.1:9/v1")
    del entry["api_key"]
    with pytest.raises(ModelAuthenticationError, match="set the OPENAI_API_KEY environment variable") as info:
        await OpenAIClient(entry).create(HI)
    assert '"api_key"' in str(info.value)
    assert "config entry:" in str(info.value)


async def test_a_rejected_key_is_an_authentication_error_without_the_key(entry_for: Entry) -> None:
    with (
        ScriptedOpenAIServer([], api_key="sk-the-right-one") as server,
        pytest.raises(ModelAuthenticationError, match="rejected the API key \\(HTTP 401\\)") as info,
    ):
        await OpenAIClient(entry_for(server)).create(HI)
    assert info.value.status_code == 401
    assert "Incorrect API key provided: sk-...6789" in str(info.value)  # the server echoed it; we scrubbed it
    assert_no_secret(info.value)


async def test_an_unreachable_server_names_the_base_url(entry_for: Entry, closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    with pytest.raises(ModelConnectionError, match=f"Cannot reach the model server at {base_url}") as info:
        await OpenAIClient(entry_for(base_url)).create(HI)
    assert info.value.status_code is None
    assert_no_secret(info.value)


async def test_a_timeout_is_a_connection_error(entry_for: Entry) -> None:
    with (
        ScriptedOpenAIServer([{"delay": 30, "content": "late"}]) as server,
        pytest.raises(ModelConnectionError, match=r"sent no complete reply within 0.2 s \(\"timeout\"") as info,
    ):
        await OpenAIClient(entry_for(server, timeout=0.2)).create(HI)
    assert_no_secret(info.value)


async def test_an_unknown_model_is_not_found(entry_for: Entry) -> None:
    with (
        ScriptedOpenAIServer(["never"], models=["gpt-4o-mini"]) as server,
        pytest.raises(ModelNotFoundError, match="does not know model 'gpt-9'") as info,
    ):
        await OpenAIClient(entry_for(server, model="gpt-9")).create(HI)
    assert info.value.status_code == 404
    assert "The model 'gpt-9' does not exist" in str(info.value)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, ModelRateLimitError), (500, ModelError), (400, ModelError), (403, ModelAuthenticationError)],
)
async def test_http_errors_map_to_model_errors(entry_for: Entry, status: int, error_class: type[ModelError]) -> None:
    with (
        ScriptedOpenAIServer([{"error": {"status": status, "message": f"scripted {status}"}}]) as server,
        pytest.raises(error_class, match=f"scripted {status}") as info,
    ):
        await OpenAIClient(entry_for(server)).create(HI)
    assert type(info.value) is error_class
    assert info.value.status_code == status
    assert_no_secret(info.value)


async def test_the_sdk_retries_before_giving_up(entry_for: Entry) -> None:
    retry_now = {"retry-after-ms": "1"}
    script = [{"error": {"status": 429, "message": "busy", "headers": retry_now}}] * 2 + ["finally"]
    with ScriptedOpenAIServer(script) as server:
        response = await OpenAIClient(entry_for(server, max_retries=2)).create(HI)
        assert server.request_count == 3
    assert response.message["content"] == "finally"


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ({"raw_json": {"id": "x", "object": "chat.completion", "choices": []}}, "it has no choices"),
        (
            {"raw_json": {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}},
            "neither content nor tool calls",
        ),
        (
            {"raw_json": {"choices": [{"message": {"role": "assistant", "content": None, "refusal": "No."}}]}},
            "the model refused: 'No.'",
        ),
        ({"raw": '{"id": "chatcmpl-1", "choices": [{"mess'}, "not valid JSON"),
        ({"raw_json": {"choices": [{"index": 0}]}}, "has no message"),
    ],
)
async def test_malformed_replies_are_response_errors(entry_for: Entry, reply: Any, needle: str) -> None:
    with (
        ScriptedOpenAIServer([reply]) as server,
        pytest.raises(ModelResponseError, match=r"malformed|not valid JSON") as info,
    ):
        await OpenAIClient(entry_for(server)).create(HI)
    assert needle in str(info.value)
    assert_no_secret(info.value)


async def test_a_reply_without_usage_counts_zero(entry_for: Entry) -> None:
    body = {"model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}
    with ScriptedOpenAIServer([{"raw_json": body}]) as server:
        response = await OpenAIClient(entry_for(server)).create(HI)
    assert (response.usage.total_tokens, response.cost) == (0, 0.0)


def test_repr_and_config_redact_the_key(entry_for: Entry) -> None:
    client = OpenAIClient(entry_for("http://127.0.0.1:9/v1"))
    assert SECRET not in repr(client)
    assert SECRET not in str(client.config)
    assert "gpt-4o-mini" in repr(client)


def test_bad_entries_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="api_type 'bedrock' is not supported"):
        OpenAIClient({"model": "gpt-4o", "api_type": "bedrock"})
    with pytest.raises(ConfigError, match="Did you mean 'base_url'"):
        OpenAIClient({"model": "gpt-4o", "base_ulr": "http://localhost:1/v1"})
    with pytest.raises(ConfigError, match="OpenAIWrapper"):
        OpenAIClient({"model": "x", "model_client": ScriptedModelClient([])})


async def test_a_base_url_that_is_not_http_is_refused_at_the_first_request() -> None:
    entry = {"model": "gpt-4", "api_key": "some_key", "base_url": "some url"}
    wrapper = OpenAIWrapper(config_list=[entry])  # built, as in AutoGen 0.2 (its logging test does this)
    with pytest.raises(ConfigError, match=r"base_url must be an http:// or https:// URL .* got 'some url'"):
        await wrapper.create([{"role": "user", "content": "hi"}])
    with pytest.raises(ConfigError, match="base_url must be an http:// or https:// URL"):
        await OpenAIClient({"model": "m", "api_key": "k", "base_url": "localhost:8000"}).create([])


async def test_remote_requests_are_blocked_when_the_guard_is_off(
    entry_for: Entry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_client_module, "ALLOW_REMOTE_MODEL_REQUESTS", False)
    for remote in ("https://api.openai.com/v1", "http://10.1.2.3:8000/v1", "http://example.com/v1"):
        with pytest.raises(ModelError, match="remote model requests are blocked in tests") as info:
            await OpenAIClient(entry_for(remote)).create(HI)
        assert_no_secret(info.value)
    entry = entry_for("")
    del entry["base_url"]
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match=r"https://api\.openai\.com/v1 is not a loopback address"):
        await OpenAIClient(entry).create(HI)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
async def test_loopback_hosts_pass_the_guard(
    entry_for: Entry, monkeypatch: pytest.MonkeyPatch, closed_port: int, host: str
) -> None:
    monkeypatch.setattr(openai_client_module, "ALLOW_REMOTE_MODEL_REQUESTS", False)
    with pytest.raises(ModelConnectionError):  # allowed through the guard; nothing listens there
        await OpenAIClient(entry_for(f"http://{host}:{closed_port}/v1")).create(HI)


async def test_one_sdk_client_serves_many_calls_and_aclose_is_safe(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["a", "b", "c"]) as server:
        client = OpenAIClient(entry_for(server))
        replies = [(await client.create(HI)).message["content"] for _ in range(3)]
        await client.aclose()
        await client.aclose()
    assert replies == ["a", "b", "c"]


def test_importing_the_model_layer_does_not_import_openai() -> None:
    code = "import sys, parley.llm, parley.testing; print('openai' in sys.modules, 'http.server' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
