"""Chats of chats: sequential carryover, a DAG of concurrent chats, and nested chats as a reply."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from parley import ConversableAgent
from parley.agentchat import a_initiate_chats
from parley.exceptions import ConfigError
from parley.testing import FunctionModelClient, ScriptedModelClient


def quiet(name: str, **kw: Any) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", silent=True, **kw)


async def test_dag_runs_independent_chats_concurrently_and_orders_dependents() -> None:
    events: list[str] = []
    b_started = asyncio.Event()

    async def model_a(messages: Any, tools: Any, params: Any) -> str:
        events.append("A waits for B")
        await b_started.wait()  # a sequential runner would hang here: the test's timeout fails it
        events.append("A resumes")
        return "A done"

    async def model_b(messages: Any, tools: Any, params: Any) -> str:
        events.append("B starts")
        b_started.set()
        return "B done"

    def model_c(messages: Any, tools: Any, params: Any) -> str:
        events.append("C starts")
        return f"C saw: {messages[-1]['content']}"

    boss = quiet("boss")
    a, b, c = (quiet(n, llm_config=FunctionModelClient(f)) for n, f in (("a", model_a), ("b", model_b), ("c", model_c)))
    results = await a_initiate_chats(
        [
            {"chat_id": "A", "sender": boss, "recipient": a, "message": "task A", "max_turns": 1},
            {"chat_id": "B", "sender": boss, "recipient": b, "message": "task B", "max_turns": 1},
            {"chat_id": "C", "sender": boss, "recipient": c, "message": "task C", "max_turns": 1,
             "prerequisites": ["A", "B"]},
        ]
    )  # fmt: skip
    assert list(results) == ["A", "B", "C"]
    assert events == ["A waits for B", "B starts", "A resumes", "C starts"]
    assert results["C"].summary == "C saw: task C\nContext: \nA done\nB done"
    assert results["A"].chat_id == "A"


async def test_dag_validation() -> None:
    boss, w = quiet("boss"), quiet("w", llm_config=ScriptedModelClient([]))
    with pytest.raises(ConfigError, match="unknown prerequisites"):
        await a_initiate_chats([{"chat_id": 1, "sender": boss, "recipient": w, "prerequisites": [9]}])
    with pytest.raises(ConfigError, match="cycle: 1 -> 2 -> 1"):
        await a_initiate_chats(
            [
                {"chat_id": 1, "sender": boss, "recipient": w, "prerequisites": [2]},
                {"chat_id": 2, "sender": boss, "recipient": w, "prerequisites": [1]},
            ]
        )
    with pytest.raises(ConfigError, match="unique"):
        await a_initiate_chats([{"chat_id": 1, "sender": boss, "recipient": w}] * 2)


async def test_a_failing_prerequisite_fails_the_run_without_hanging() -> None:
    boss = quiet("boss")
    bad = quiet("bad", llm_config=ScriptedModelClient([]))  # exhausted at once: a ModelError
    good = quiet("good", llm_config=ScriptedModelClient(["ok"]))
    with pytest.raises(Exception, match="script exhausted"):
        await a_initiate_chats(
            [
                {"chat_id": "x", "sender": boss, "recipient": bad, "message": "go", "max_turns": 1},
                {"chat_id": "y", "sender": boss, "recipient": good, "message": "go", "max_turns": 1,
                 "prerequisites": ["x"]},
            ]
        )  # fmt: skip


def test_agent_initiate_chats_in_order_with_carryover() -> None:
    boss = quiet("boss")
    w1 = quiet("w1", llm_config=FunctionModelClient(lambda m, t, p: "facts: 42"))
    w2 = quiet("w2", llm_config=FunctionModelClient(lambda m, t, p: f"report on [{m[-1]['content']}]"))
    results = boss.initiate_chats(
        [
            {"recipient": w1, "message": "research", "max_turns": 1},
            {"recipient": w2, "message": "write", "max_turns": 1},
        ]
    )
    assert [r.summary for r in results] == ["facts: 42", "report on [write\nContext: \nfacts: 42]"]


def test_nested_chats_reply_with_the_last_summary() -> None:
    writer = quiet("writer", llm_config=FunctionModelClient(lambda m, t, p: f"draft of: {m[-1]['content']}"))
    critic = quiet("critic", llm_config=FunctionModelClient(lambda m, t, p: f"critique of [{m[-1]['content']}]"))
    lead = quiet("lead")
    lead.register_nested_chats(
        [
            {"recipient": writer, "max_turns": 1, "summary_method": "last_msg"},
            {"recipient": critic, "max_turns": 1, "message": lambda rcp, msgs, snd, cfg: "review the draft"},
        ],
        trigger=lambda sender: sender is not None and sender.name == "user",
    )
    user = quiet("user")
    result = user.initiate_chat(lead, message="an essay on tides", max_turns=1)
    assert result.chat_history[-1]["content"] == (
        "critique of [review the draft\nContext: \ndraft of: an essay on tides]"
    )
    # not triggered for other senders: the default auto reply answers instead
    stranger = quiet("stranger")
    assert stranger.initiate_chat(lead, message="hi", max_turns=1).chat_history[-1]["content"] == ""
    with pytest.raises(ConfigError, match="list of dicts"):
        lead.register_nested_chats("not a queue", trigger="user")  # type: ignore[arg-type]


def test_nested_chat_async_message_and_custom_reply_function_config() -> None:
    echo = quiet("echo", llm_config=FunctionModelClient(lambda m, t, p: f"echo: {m[-1]['content']}"))

    async def make_message(recipient: Any, messages: Any, sender: Any, config: Any) -> str:
        await asyncio.sleep(0)
        return f"{len(config)} chat(s) for {sender.name}"

    lead = quiet("lead")
    lead.register_nested_chats([{"recipient": echo, "max_turns": 1, "message": make_message}], trigger="user")
    assert quiet("user").initiate_chat(lead, message="go", max_turns=1).summary == "echo: 1 chat(s) for user"

    seen: list[Any] = []

    def custom(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        seen.append(config)
        return True, "custom reply"

    queue = [{"recipient": echo, "max_turns": 1}]
    other = quiet("other")
    other.register_nested_chats(queue, trigger="user", reply_func_from_nested_chats=custom)
    assert quiet("user").initiate_chat(other, message="go", max_turns=1).summary == "custom reply"
    assert seen == [queue]  # AutoGen 0.2 passes the chat queue itself as config
