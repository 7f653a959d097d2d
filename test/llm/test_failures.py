"""Injected failures in chats: 429s, 500s, timeouts, trickles, truncated JSON, missing fields, filter_func, rate limits.

Every chat either completes through the SDK's retries or through fallback to the next entry,
or ends with one clear error that names the entries with their keys redacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.exceptions import ConfigError, ModelError, ModelResponseError
from parley.llm import ModelResponse, OpenAIWrapper
from parley.llm.streaming import stream_to
from parley.llm.types import Message
from parley.testing import ScriptedOpenAIServer

from .conftest import FAKE_KEY, SECRET

Entry = Callable[..., dict[str, Any]]
HI: list[Message] = [{"role": "user", "content": "hi"}]
NOW = {"retry-after-ms": "1"}  # the SDK honours it, so retries in these tests do not wait
DONE = "Done. TERMINATE"


def chat(config_list: list[dict[str, Any]], **llm: Any) -> Any:
    assistant = AssistantAgent("assistant", llm_config={"config_list": config_list, **llm})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    return user.initiate_chat(assistant, message="Do the task.", silent=True)


@pytest.mark.parametrize(
    "fault",
    [
        {"error": {"status": 429, "message": "Rate limit reached", "headers": NOW}},
        {"error": {"status": 500, "message": "Internal error", "headers": NOW}},
        {"error": {"status": 503, "message": "Overloaded", "headers": NOW}},
    ],
    ids=["429", "500", "503"],
)
def test_transient_http_errors_are_retried_by_the_sdk(entry_for: Entry, fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault, fault, DONE]) as server:
        result = chat([entry_for(server, max_retries=2)])
        assert server.request_count == 3
    assert result.chat_history[-1]["content"] == DONE


@pytest.mark.timeout(60)
def test_a_timeout_is_retried(entry_for: Entry) -> None:
    with ScriptedOpenAIServer([{"delay": 30, "content": "too late"}, DONE]) as server:
        result = chat([entry_for(server, timeout=0.5, max_retries=1)])
        assert server.request_count == 2
    assert result.chat_history[-1]["content"] == DONE


@pytest.mark.parametrize(
    "fault",
    [
        {"error": {"status": 429, "message": "Rate limit reached"}},
        {"error": {"status": 500, "message": "Internal error"}},
        {"delay": 30, "content": "too late"},
        {"content": "x" * 400, "trickle": {"every": 0.2}},
        {"raw": '{"id": "chatcmpl-1", "choices": [{"message": {"content": "trunc'},
        {"raw_json": {"id": "x", "object": "chat.completion", "model": "gpt-4o-mini"}},
        {"raw_json": {"choices": [{"index": 0, "finish_reason": "stop"}]}},
        {"raw_json": {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}},
        {"raw_json": {"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}}]}},
    ],
    ids=[
        "429",
        "500",
        "timeout",
        "trickle",
        "truncated-json",
        "no-choices",
        "no-message",
        "no-content",
        "nameless-call",
    ],
)
@pytest.mark.timeout(60)
def test_a_failing_entry_falls_back_to_the_next(entry_for: Entry, fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault]) as broken, ScriptedOpenAIServer([DONE]) as backup:
        result = chat([entry_for(broken, timeout=0.5), entry_for(backup, model="gpt-4o")])
        assert (broken.request_count, backup.request_count) == (1, 1)
    assert result.chat_history[-1]["content"] == DONE
    assert list(result.cost["usage_excluding_cached_inference"]) == ["total_cost", "gpt-4o"]


@pytest.mark.timeout(60)
def test_when_every_entry_fails_the_chat_ends_with_one_clear_error(entry_for: Entry) -> None:
    faults = [
        {"error": {"status": 429, "message": f"Rate limit reached for {FAKE_KEY}"}},
        {"raw": '{"choices": [{"mess'},
        {"delay": 30, "content": "too late"},
    ]
    servers = [ScriptedOpenAIServer([f]).start() for f in faults]
    try:
        with pytest.raises(ModelError) as info:
            chat([entry_for(s, model=f"model-{i}", timeout=0.5) for i, s in enumerate(servers)])
    finally:
        for s in servers:
            s.close()
    text = str(info.value)
    assert text.startswith("All 3 config entries failed:")
    assert "[0] ModelRateLimitError" in text
    assert "[1] ModelResponseError" in text
    assert "not valid JSON" in text
    assert "[2] ModelConnectionError" in text
    assert "sent no complete reply within 0.5 s" in text
    for s in servers:
        assert s.base_url in text
    assert SECRET not in text + repr(info.value)


async def test_a_stream_that_breaks_falls_back_and_the_next_entry_streams(entry_for: Entry) -> None:
    with (
        ScriptedOpenAIServer([{"content": "partial words then nothing", "stream_cut": 3}]) as broken,
        ScriptedOpenAIServer(["Whole reply."]) as backup,
    ):
        wrapper = OpenAIWrapper(config_list=[entry_for(broken), entry_for(backup)], stream=True)
        assert wrapper.streams
        shown: list[str] = []
        with stream_to(shown.append):
            response = await wrapper.create(HI)
    assert response.message["content"] == "Whole reply."
    assert shown == ["partial ", "words ", "Whole ", "reply."]  # what was shown before the break stays shown


async def test_filter_func_rejects_a_reply_and_the_next_entry_answers(entry_for: Entry) -> None:
    seen: list[tuple[Any, str]] = []

    def must_be_json(context: Any, response: ModelResponse) -> bool:
        text = str(response.message.get("content"))
        seen.append((context, text))
        return text.startswith("{")

    with ScriptedOpenAIServer(["not json"]) as first, ScriptedOpenAIServer(['{"ok": true}']) as second:
        wrapper = OpenAIWrapper(config_list=[entry_for(first), entry_for(second)], filter_func=must_be_json)
        response = await wrapper.create(HI, params={"context": {"task": "json"}})
    assert response.message["content"] == '{"ok": true}'
    assert seen == [({"task": "json"}, "not json"), ({"task": "json"}, '{"ok": true}')]
    usage = wrapper.usage_summary.models("actual")["gpt-4o-mini"]
    assert usage.prompt_tokens == 2 * response.usage.prompt_tokens  # the rejected reply was paid for too


async def test_when_filter_func_rejects_every_reply_the_error_says_so(entry_for: Entry) -> None:
    async def never(context: Any, response: ModelResponse) -> bool:
        return False

    with ScriptedOpenAIServer(["a"]) as first, ScriptedOpenAIServer(["b"]) as second:
        wrapper = OpenAIWrapper(config_list=[entry_for(first), entry_for(second)])
        with pytest.raises(ModelResponseError) as info:
            await wrapper.create(HI, params={"filter_func": never})
    assert "[0] ModelResponseError: filter_func rejected the reply of config_list[0]" in str(info.value)
    assert "[1] ModelResponseError: filter_func rejected the reply of config_list[1]" in str(info.value)


def test_filter_func_in_llm_config_works_in_a_chat(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["I refuse."]) as first, ScriptedOpenAIServer([DONE]) as second:
        result = chat(
            [entry_for(first), entry_for(second)],
            filter_func=lambda context, response: "TERMINATE" in str(response.message.get("content")),
        )
    assert result.chat_history[-1]["content"] == DONE


def test_a_bad_filter_func_is_a_config_error(entry_for: Entry) -> None:
    with pytest.raises(ConfigError, match="filter_func of config_list\\[0\\] must be a callable"):
        OpenAIWrapper(config_list=[entry_for("http://127.0.0.1:9/v1")], filter_func="json")


async def test_api_rate_limit_spaces_requests_across_agents_sharing_an_entry(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(lambda body: "ok") as server:
        entry = entry_for(server, api_rate_limit=20)  # one request every 50 ms
        first, second = OpenAIWrapper(config_list=[entry]), OpenAIWrapper(config_list=[dict(entry)])
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(w.create(HI) for w in (first, second, first, second, first)))
        elapsed = loop.time() - started
        assert server.request_count == 5
        assert "api_rate_limit" not in server.requests[0]
    assert elapsed >= 4 * 0.05 - 0.01  # a lower bound: five requests need four intervals between them
