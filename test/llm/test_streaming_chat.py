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
            assert io.output[1:] == ["assistant (to user):\n\n", "Streaming ", "into "]  # the header first
            assert not chat.done()
            release.set()
            result = await asyncio.wait_for(chat, timeout=30)
        request = server.requests[0]
    assert io.output == [
        f"user (to assistant):\n\nSay something.\n\n{RULE}\n",
        "assistant (to user):\n\n",
        *["Streaming ", "into ", "the ", "console. ", "TERMINATE"],
        "\n",  # the streamed line is ended
        f"\n{RULE}\n",  # and the message is closed, not printed again
    ]
    # Read as a whole, the console shows what a reply that did not stream shows.
    assert io.text == (
        f"user (to assistant):\n\nSay something.\n\n{RULE}\n"
        f"assistant (to user):\n\nStreaming into the console. TERMINATE\n\n{RULE}\n"
    )
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


def printed_once(text: str, needle: str) -> bool:
    return text.count(needle) == 1


async def test_a_streamed_reply_with_tool_calls_shows_its_text_once_then_its_calls() -> None:
    script = [
        {"content": "Let me add them.", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_1"}]},
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
            await user.a_initiate_chat(assistant, message="What is 2 + 3?")
    calls = "\n".join(
        [
            "***** Suggested tool call (call_1): add *****",
            "Arguments:",
            '{\n  "a": 2,\n  "b": 3\n}',
            "*" * 40,
        ]
    )
    assert contains_run(io.output, ["assistant (to user):\n\n", "Let ", "me ", "add ", "them.", "\n"])
    assert f"assistant (to user):\n\nLet me add them.\n{calls}\n\n{RULE}\n" in io.text  # whole, as if not streamed
    assert printed_once(io.text, "Let me add them.")
    assert printed_once(io.text, "assistant (to user):\n\nThe sum is 5. TERMINATE\n\n" + RULE)
    assert io.text.count("assistant (to user):") == 2  # one header per message


async def test_in_a_group_chat_each_streamed_reply_comes_under_its_speakers_header() -> None:
    from parley import GroupChat, GroupChatManager

    with ScriptedOpenAIServer(["Draft one.", "Looks fine. TERMINATE"]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": FAKE_KEY, "max_retries": 0}
        llm = {"config_list": [entry], "stream": True}
        writer = AssistantAgent("writer", llm_config=llm)
        critic = AssistantAgent("critic", llm_config=llm)
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        group = GroupChat([user, writer, critic], messages=[], max_round=3, speaker_selection_method="round_robin")
        manager = GroupChatManager(group, llm_config=False)
        io = ScriptedIOStream()
        with IOStream.set_default(io):
            await user.a_initiate_chat(manager, message="Write a line.")
    assert io.text == (
        f"user (to chat_manager):\n\nWrite a line.\n\n{RULE}\n"
        "\nNext speaker: writer\n\n"
        f"writer (to chat_manager):\n\nDraft one.\n\n{RULE}\n"
        "\nNext speaker: critic\n\n"
        f"critic (to chat_manager):\n\nLooks fine. TERMINATE\n\n{RULE}\n"
    )
    assert contains_run(io.output, ["writer (to chat_manager):\n\n", "Draft ", "one.", "\n", f"\n{RULE}\n"])


async def test_a_reply_changed_on_its_way_is_printed_as_it_was_sent() -> None:
    with ScriptedOpenAIServer(["Secret plan. TERMINATE"]) as server:
        assistant, user = agents(server)

        def redact(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
            return message.replace("Secret", "[redacted]") if isinstance(message, str) else message

        assistant.register_hook("process_message_before_send", redact)
        io = ScriptedIOStream()
        with IOStream.set_default(io):
            await user.a_initiate_chat(assistant, message="Plan?")
    # What streamed stays on the console; what the user received is printed whole after it.
    assert io.text.endswith(
        f"assistant (to user):\n\nSecret plan. TERMINATE\n"
        f"assistant (to user):\n\n[redacted] plan. TERMINATE\n\n{RULE}\n"
    )


async def test_tokens_for_a_silent_receiver_are_not_shown() -> None:
    with ScriptedOpenAIServer(["Hush. TERMINATE"]) as server:
        assistant, user = agents(server)
        user.silent = True
        io = ScriptedIOStream()
        with IOStream.set_default(io):
            result = await user.a_initiate_chat(assistant, message="Hi")
    assert "Hush" not in io.text
    assert result.chat_history[-1]["content"] == "Hush. TERMINATE"
