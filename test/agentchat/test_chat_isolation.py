"""Chats stay separate: results are snapshots, concurrent chats count only their own usage, and
a sync call made from code parley runs on its background loop does not deadlock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from parley import ConversableAgent
from parley.agentchat import ScriptedIOStream
from parley.agentchat.io import IOStream
from parley.llm.types import ModelResponse, Usage


def quiet(name: str, **kw: Any) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", silent=True, **kw)


class Counting:
    """A model client that answers at once and reports ``tokens`` total tokens per call."""

    def __init__(self, reply: str, tokens: int) -> None:
        self.reply, self.tokens = reply, tokens

    async def create(self, messages: Any, *, tools: Any = None, params: Any = None) -> ModelResponse:
        await asyncio.sleep(0)
        usage = Usage(self.tokens, 0, self.tokens)
        return ModelResponse(message={"role": "assistant", "content": self.reply}, usage=usage, model="m")


def test_chat_result_history_is_a_snapshot() -> None:
    a, b = quiet("a"), quiet("b", llm_config=Counting("yo", 1))
    first = a.initiate_chat(b, message="first", max_turns=1)
    second = a.initiate_chat(b, message="second", max_turns=1)
    assert [m["content"] for m in first.chat_history] == ["first", "yo"]
    assert [m["content"] for m in second.chat_history] == ["second", "yo"]
    assert first.chat_history is not second.chat_history


async def test_concurrent_chats_through_one_agent_count_only_their_own_usage() -> None:
    shared = quiet("shared", llm_config=Counting("ok", 10))
    small, big = quiet("small", llm_config=Counting("s", 1)), quiet("big", llm_config=Counting("b", 100))
    r_small, r_big = await asyncio.gather(
        small.a_initiate_chat(shared, message="hi", max_turns=2),
        big.a_initiate_chat(shared, message="hi", max_turns=2),
    )
    # each chat: the shared agent answers twice (10 + 10) and the initiator once
    assert r_small.cost["usage_including_cached_inference"]["m"]["total_tokens"] == 21
    assert r_big.cost["usage_including_cached_inference"]["m"]["total_tokens"] == 120


async def test_human_input_is_recorded_per_chat() -> None:
    io = ScriptedIOStream(["from the human", "exit"])
    human = ConversableAgent("human", human_input_mode="ALWAYS", llm_config=False, silent=True)
    bot = quiet("bot", llm_config=Counting("hello", 1))
    with IOStream.set_default(io):
        result = await human.a_initiate_chat(bot, message="start")
    assert result.human_input == ["from the human", "exit"]


@pytest.mark.timeout(30)
async def test_a_sync_call_from_a_reply_function_inside_a_running_loop_does_not_deadlock() -> None:
    inner_a, inner_b = quiet("c"), quiet("d", llm_config=Counting("inner", 1))

    def nested(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        # a sync API called from code that parley itself runs (on its background loop here)
        return True, "outer saw " + inner_a.initiate_chat(inner_b, message="x", max_turns=1).summary

    outer = quiet("a")
    outer.register_reply("b", nested)
    result = quiet("b").initiate_chat(outer, message="go", max_turns=1)  # sync API, loop running
    assert result.summary == "outer saw inner"
