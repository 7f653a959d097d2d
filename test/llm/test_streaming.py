"""Streaming through the real openai SDK over SSE from the scripted server, and chunk rebuilding."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from parley.exceptions import ModelConnectionError, ModelError, ModelResponseError
from parley.llm import OpenAIClient
from parley.llm.streaming import ChunkAccumulator, current_sink, stream_to
from parley.llm.types import Message
from parley.testing import ScriptedOpenAIServer

from .conftest import SECRET

HI: list[Message] = [{"role": "user", "content": "hi there"}]
Entry = Callable[..., dict[str, Any]]
TWO_CALLS = {
    "content": None,
    "tool_calls": [
        {"name": "add", "arguments": {"a": 1, "b": 2}, "id": "call_a"},
        {"name": "lookup", "arguments": {"query": "the capital of Norway"}, "id": "call_b"},
    ],
}


async def test_text_arrives_delta_by_delta_and_matches_the_whole_reply(entry_for: Entry) -> None:
    text = "Streaming sends the reply word by word."
    with ScriptedOpenAIServer([text, text]) as server:
        client = OpenAIClient(entry_for(server))
        whole = await client.create(HI)
        deltas: list[str] = []
        with stream_to(deltas.append):
            streamed = await client.create(HI, params={"stream": True})
        plain, sent = server.requests
    assert deltas == ["Streaming ", "sends ", "the ", "reply ", "word ", "by ", "word."]
    assert streamed.message == whole.message == {"role": "assistant", "content": text}
    assert streamed.usage == whole.usage  # from the final usage chunk
    assert streamed.cost == whole.cost > 0
    assert streamed.model == "gpt-4o-mini"
    assert (sent["stream"], sent["stream_options"]) == (True, {"include_usage": True})
    assert not {"stream", "stream_options"} & set(plain)


async def test_tool_calls_are_rebuilt_from_their_deltas(entry_for: Entry) -> None:
    with ScriptedOpenAIServer([TWO_CALLS, TWO_CALLS]) as server:
        whole = await OpenAIClient(entry_for(server)).create(HI)
        deltas: list[str] = []
        with stream_to(deltas.append):
            streamed = await OpenAIClient(entry_for(server, stream=True)).create(HI)
    assert streamed.message == whole.message
    assert [c["function"]["arguments"] for c in streamed.message["tool_calls"]] == [
        '{"a": 1, "b": 2}',
        '{"query": "the capital of Norway"}',
    ]
    assert deltas == []  # no text, so nothing to show
    assert streamed.usage == whole.usage


async def test_tokens_reach_the_sink_before_the_reply_is_complete(entry_for: Entry) -> None:
    release = threading.Event()
    reply = {"content": "First words, then the rest.", "stream_pause": {"after": 3, "until": release}}
    first_tokens = asyncio.Event()
    seen: list[str] = []

    def sink(text: str) -> None:
        seen.append(text)
        if "".join(seen) == "First words, ":  # everything the server sends before its pause
            first_tokens.set()

    with ScriptedOpenAIServer([reply]) as server:
        client = OpenAIClient(entry_for(server, stream=True))
        with stream_to(sink):
            call = asyncio.create_task(client.create(HI))
        await asyncio.wait_for(first_tokens.wait(), timeout=30)
        # The server holds the rest of the stream until `release` is set: the reply is unfinished.
        assert seen == ["First ", "words, "]
        assert not call.done()
        release.set()
        response = await asyncio.wait_for(call, timeout=30)
    assert "".join(seen) == response.message["content"] == "First words, then the rest."


async def test_each_context_streams_to_its_own_sink(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(lambda body: f"answer to {body['messages'][-1]['content']}") as server:
        client = OpenAIClient(entry_for(server, stream=True))

        async def ask(question: str) -> str:
            pieces: list[str] = []
            with stream_to(pieces.append):
                await client.create([{"role": "user", "content": question}])
            return "".join(pieces)

        results = await asyncio.gather(*(ask(f"q{i}") for i in range(8)))
    assert results == [f"answer to q{i}" for i in range(8)]
    assert current_sink() is None


async def test_no_sink_collects_silently_and_a_stream_without_usage_counts_zero(entry_for: Entry) -> None:
    events = [
        '{"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}',
        '{"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}',
        "[DONE]",
    ]
    with ScriptedOpenAIServer([{"raw_events": events}]) as server:
        response = await OpenAIClient(entry_for(server, stream=True, price=[1.0, 1.0])).create(HI)
    assert response.message["content"] == "Hi"
    assert (response.usage.total_tokens, response.cost, response.model) == (0, 0.0, "m")


@pytest.mark.parametrize(
    ("reply", "error", "needles"),
    [
        (
            {"content": "never finished", "stream_pause": {"after": 2, "seconds": 30}},
            ModelConnectionError,
            ["sent no complete reply within 0.5 s", "The stream broke after 2 chunk(s)"],
        ),
        (
            {"content": "cut off in the middle", "stream_cut": 3},
            ModelConnectionError,
            ["broke mid-reply", "The stream broke after 3 chunk(s)"],
        ),
        (
            {"raw_events": ['{"choices": [{"index": 0, "delta": {"content": "a"}}]}', '{"choices": [{"ind']},
            ModelResponseError,
            ["not valid JSON", "after 1 chunk(s)"],
        ),
        (
            {"raw_events": ['{"choices": [{"index": 0, "delta": {"content": "a"}}]}', "[DONE]"]},
            ModelResponseError,
            ["the stream ended after 1 chunk(s), before the reply was complete"],
        ),
        (
            {"raw_events": ['{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}', "[DONE]"]},
            ModelResponseError,
            ["neither content nor tool calls"],
        ),
        (
            {"raw_events": [f'{{"error": {{"message": "overloaded for sk-test-{SECRET}"}}}}']},
            ModelError,
            ["sent an error mid-stream: overloaded for sk-...6789"],
        ),
        (
            {
                "raw_events": [
                    '{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1"}]}}]}',
                    '{"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}',
                ]
            },
            ModelResponseError,
            ["a streamed tool call has no function name"],
        ),
    ],
    ids=["stall", "cut", "truncated-json", "no-finish", "empty", "error-event", "nameless-call"],
)
async def test_broken_streams_are_clear_errors(
    entry_for: Entry, reply: dict[str, Any], error: type[ModelError], needles: list[str]
) -> None:
    with ScriptedOpenAIServer([reply]) as server, pytest.raises(error) as info:
        await OpenAIClient(entry_for(server, stream=True, timeout=0.5)).create(HI)
    text = str(info.value)
    for needle in needles:
        assert needle in text
    assert server.base_url in text  # names the entry
    assert SECRET not in text + repr(info.value)


def test_accumulator_rebuilds_calls_without_indexes_and_keeps_choice_zero() -> None:
    acc = ChunkAccumulator()
    chunks: list[dict[str, Any]] = [
        {"model": "m", "choices": [{"index": 1, "delta": {"content": "other choice"}}]},
        {"choices": [{"delta": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"x"'}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": ": 1}"}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
        {"choices": [{"delta": {"refusal": "no "}}]},
        {"choices": [{"delta": {"refusal": "way"}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]
    assert [acc.add(c) for c in chunks] == [""] * len(chunks)
    reply = acc.result()
    assert reply.tool_calls == [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert (reply.content, reply.refusal, reply.finish_reason, reply.model) == (None, "no way", "tool_calls", "m")
    assert (reply.usage and reply.usage.total_tokens, reply.chunks) == (7, 7)
