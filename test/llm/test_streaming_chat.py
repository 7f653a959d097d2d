"""Streaming in a chat: tokens reach the IOStream while the reply is still arriving."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.exceptions import ModelConnectionError
from parley.testing import ScriptedModelClient, ScriptedOpenAIServer

from .conftest import FAKE_KEY

RULE = "-" * 80


def agents(server: ScriptedOpenAIServer, **llm: Any) -> tuple[AssistantAgent, UserProxyAgent]:
    entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": FAKE_KEY, "max_retries": 0}
    assistant = AssistantAgent("assistant", llm_config={"config_list": [entry], "stream": True, **llm})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    return assistant, user


class WatchedIO(ScriptedIOStream):
    """A ScriptedIOStream that sets `seen` once ``needle`` has been printed (prints run on the loop)."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.seen = asyncio.Event()

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        super().print(*objects, sep=sep, end=end, flush=flush)
        if self.needle in self.text:
            self.seen.set()


def contains_run(items: list[str], run: list[str]) -> bool:
    return any(items[i : i + len(run)] == run for i in range(len(items)))


@pytest.mark.timeout(60)
async def test_tokens_reach_the_iostream_before_the_message_is_complete() -> None:
    release = threading.Event()
    reply = {"content": "Streaming into the console. TERMINATE", "stream_pause": {"after": 3, "until": release}}
    with ScriptedOpenAIServer([reply]) as server:
        assistant, user = agents(server)
        io = WatchedIO("into ")
        with IOStream.set_default(io):
            chat = asyncio.create_task(user.a_initiate_chat(assistant, message="Say something."))
            await asyncio.wait_for(io.seen.wait(), timeout=30)
            # The server holds the rest of the reply until `release` is set.
            assert io.output[1:] == ["Streaming ", "into "]
            assert not chat.done()
            release.set()
            result = await asyncio.wait_for(chat, timeout=30)
        request = server.requests[0]
    assert io.output == [
        f"user (to assistant):\n\nSay something.\n\n{RULE}\n",
        *["Streaming ", "into ", "the ", "console. ", "TERMINATE"],
        "\n",  # the streamed line is ended
        f"assistant (to user):\n\nStreaming into the console. TERMINATE\n\n{RULE}\n",
    ]
    assert result.chat_history[-1]["content"] == "Streaming into the console. TERMINATE"
    assert request["stream"] is True
    assert result.cost["usage_excluding_cached_inference"]["gpt-4o-mini"]["total_tokens"] > 0


async def test_a_silent_chat_streams_but_prints_nothing() -> None:
    with ScriptedOpenAIServer(["Quiet stream. TERMINATE"]) as server:
        assistant, user = agents(server)
        io = ScriptedIOStream()
        with IOStream.set_default(io):
            result = await user.a_initiate_chat(assistant, message="Hi", silent=True)
        assert server.requests[0]["stream"] is True
    assert io.output == []
    assert result.summary == "Quiet stream."


async def test_streamed_tool_calls_run_in_the_chat() -> None:
    script = [
        {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_1"}]},
        "The sum is 5. TERMINATE",
    ]
    with ScriptedOpenAIServer(script) as server:
        assistant, user = agents(server)

        @user.register_for_execution()
        @assistant.register_for_llm(description="Add two numbers.")
        def add(a: int, b: int) -> int:
            return a + b

        io = ScriptedIOStream()
        with IOStream.set_default(io):
            result = await user.a_initiate_chat(assistant, message="What is 2 + 3?")
    tool_message = result.chat_history[2]
    assert tool_message["tool_responses"][0]["content"] == "5"
    assert result.chat_history[-1]["content"] == "The sum is 5. TERMINATE"
    assert contains_run(io.output, ["The ", "sum ", "is ", "5. ", "TERMINATE", "\n"])  # streamed token by token


async def test_a_stream_that_breaks_ends_the_chat_with_one_clear_error_and_the_line_is_ended() -> None:
    with ScriptedOpenAIServer([{"content": "This reply is cut short", "stream_cut": 3}]) as server:
        assistant, user = agents(server)
        io = ScriptedIOStream()
        with IOStream.set_default(io), pytest.raises(ModelConnectionError, match="broke mid-reply") as info:
            await user.a_initiate_chat(assistant, message="Hi")
    assert io.output[-3:] == ["This ", "reply ", "\n"]
    assert server.base_url in str(info.value)


async def test_the_in_process_double_streams_the_same_transcript_as_the_server() -> None:
    text = "Same pieces either way. TERMINATE"
    outputs = []
    with ScriptedOpenAIServer([text]) as server:
        for llm_config in (
            {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": FAKE_KEY}]},
            {"config_list": [{"model_client": ScriptedModelClient([text], model="gpt-4o-mini")}]},
        ):
            assistant = AssistantAgent("assistant", llm_config={**llm_config, "stream": True})
            user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
            io = ScriptedIOStream()
            with IOStream.set_default(io):
                await user.a_initiate_chat(assistant, message="Hi")
            outputs.append(io.output)
    assert outputs[0] == outputs[1]
    assert contains_run(outputs[0], ["Same ", "pieces ", "either ", "way. ", "TERMINATE", "\n"])
