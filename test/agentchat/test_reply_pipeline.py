"""The reply pipeline: order, triggers, hooks, termination and human input, through public behaviour."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from parley import AssistantAgent, ConversableAgent, UserProxyAgent
from parley.agentchat import LLMAgent, ScriptedIOStream
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError, InvalidMessageError, ModelResponseError
from parley.llm.types import Message, ToolCall
from parley.testing import FunctionModelClient, ScriptedModelClient


def quiet(name: str, **kw: Any) -> ConversableAgent:
    kw.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(name, silent=True, **kw)


def test_termination_comes_before_tools_code_and_llm(tmp_path: Any) -> None:
    llm = ScriptedModelClient(["should not be asked"])
    agent = quiet(
        "a",
        llm_config=llm,
        function_map={"f": lambda: "ran"},
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
    )
    other = quiet("b")
    reply = agent.generate_reply([{"role": "user", "content": "print(1)\nTERMINATE", "name": "b"}], other)
    assert reply is None
    assert llm.calls == []


def test_tool_calls_come_before_code_execution_and_llm(tmp_path: Any) -> None:
    llm = ScriptedModelClient(["llm"])
    agent = quiet(
        "a",
        llm_config=llm,
        function_map={"f": lambda: "tool ran"},
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
    )
    msg: Message = {
        "role": "assistant",
        "content": "```python\nprint('code ran')\n```",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    reply = agent.generate_reply([msg], quiet("b"))
    assert isinstance(reply, dict)
    assert reply["tool_responses"] == [{"tool_call_id": "c1", "role": "tool", "content": "tool ran"}]
    assert llm.calls == []


def test_code_execution_comes_before_llm(tmp_path: Any) -> None:
    llm = ScriptedModelClient(["llm"])
    agent = quiet(
        "a", llm_config=llm, code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}}
    )
    reply = agent.generate_reply([{"role": "user", "content": "```python\nprint(6*7)\n```"}], quiet("b"))
    assert reply == "exitcode: 0 (execution succeeded)\nCode output: 42\n"
    assert llm.calls == []


def test_llm_answers_when_nothing_else_does() -> None:
    agent = quiet("a", llm_config=ScriptedModelClient(["hello there"]))
    assert agent.generate_reply([{"role": "user", "content": "hi"}], quiet("b")) == "hello there"


def test_default_auto_reply_when_no_function_answers() -> None:
    agent = quiet("a", default_auto_reply="nothing to do")
    assert agent.generate_reply([{"role": "user", "content": "hi"}], quiet("b")) == "nothing to do"


@pytest.mark.parametrize(
    ("trigger", "matches_b", "matches_c"),
    [
        ("b", True, False),
        (ConversableAgent, True, True),
        (UserProxyAgent, False, True),
        (LLMAgent, True, True),
        (lambda s: s is not None and s.name.startswith("c"), False, True),
        (["b", "c"], True, True),
        (None, False, False),
    ],
)
def test_register_reply_triggers(trigger: Any, matches_b: bool, matches_c: bool) -> None:
    agent = quiet("a", default_auto_reply="default")
    agent.register_reply(trigger, lambda recipient, messages=None, sender=None, config=None: (True, "custom"))
    b = quiet("b")
    c = UserProxyAgent("c", human_input_mode="NEVER", code_execution_config=False, silent=True)
    msgs: list[Message] = [{"role": "user", "content": "hi"}]
    assert agent.generate_reply(msgs, b) == ("custom" if matches_b else "default")
    assert agent.generate_reply(msgs, c) == ("custom" if matches_c else "default")


def test_register_reply_with_agent_instance_and_position_and_config() -> None:
    agent = quiet("a")
    b, c = quiet("b"), quiet("c")
    seen: list[Any] = []

    async def async_reply(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        seen.append(config)
        return True, f"async for {sender.name}"

    agent.register_reply(b, async_reply, config={"k": 1})
    agent.register_reply(b, lambda r, messages=None, sender=None, config=None: (False, None), position=1)
    assert agent.generate_reply([{"role": "user", "content": "x"}], b) == "async for b"
    assert agent.generate_reply([{"role": "user", "content": "x"}], c) == ""
    assert seen == [{"k": 1}]


def test_register_reply_rejects_bad_input() -> None:
    agent = quiet("a")
    with pytest.raises(ConfigError, match="position"):
        agent.register_reply("b", lambda *a, **k: (True, "x"), position=99)
    with pytest.raises(ConfigError, match="callable"):
        agent.register_reply("b", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="reply trigger"):
        agent.register_reply(42, lambda *a, **k: (True, "x"))


def test_hooks_transform_messages() -> None:
    seen: list[Any] = []

    def model(messages: Any, tools: Any, params: Any) -> str:
        seen.append(messages)
        return "ok"

    llm = FunctionModelClient(model)
    agent = quiet("a", llm_config=llm, system_message="sys")
    agent.register_hook("process_last_received_message", lambda content: content.upper())
    agent.register_hook("process_all_messages_before_reply", lambda msgs: [*msgs, {"role": "user", "content": "extra"}])
    agent.register_hook(
        "process_message_before_send", lambda sender, message, recipient, silent: f"[{recipient.name}] {message}"
    )
    b = quiet("b")
    b.initiate_chat(agent, message="hello", max_turns=1, silent=True)
    assert [m["content"] for m in seen[0]] == ["sys", "hello", "EXTRA"]
    assert b.chat_messages[agent][-1]["content"] == "[b] ok"
    with pytest.raises(ConfigError, match="Did you mean 'process_last_received_message'"):
        agent.register_hook("process_last_received_msg", lambda c: c)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("TERMINATE", True), ("Done.\n\nTERMINATE  ", True), ("PLEASE_DONT_TERMINATE", False), ("XTERMINATE", False),
     ("TERMINATE now", False), (None, False)],
)  # fmt: skip
def test_default_termination_message(text: str | None, expected: bool) -> None:
    assert quiet("a").is_termination_msg({"content": text}) is expected


def test_unknown_human_input_mode_suggests() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'NEVER'"):
        ConversableAgent("a", human_input_mode="never")  # type: ignore[arg-type]


def test_never_mode_stops_at_max_consecutive_auto_reply() -> None:
    a = quiet("a", llm_config=FunctionModelClient(lambda m, t, p: "from a"), max_consecutive_auto_reply=2)
    b = quiet("b", llm_config=FunctionModelClient(lambda m, t, p: "from b"), max_consecutive_auto_reply=10)
    result = a.initiate_chat(b, message="start", silent=True)
    contents = [m["content"] for m in result.chat_history]
    assert contents == ["start", "from b", "from a", "from b", "from a", "from b"]


def test_per_sender_max_auto_reply() -> None:
    a = quiet("a", llm_config=FunctionModelClient(lambda m, t, p: "from a"))
    b = quiet("b", llm_config=FunctionModelClient(lambda m, t, p: "from b"))
    a.update_max_consecutive_auto_reply(1, b)
    b.update_max_consecutive_auto_reply(1)
    assert a.max_consecutive_auto_reply(b) == 1
    result = a.initiate_chat(b, message="start", silent=True)
    assert [m["content"] for m in result.chat_history] == ["start", "from b", "from a"]


def test_always_mode_asks_every_time_and_exit_ends() -> None:
    io = ScriptedIOStream(["", "please add tests", "exit"])
    human = ConversableAgent("human", human_input_mode="ALWAYS", llm_config=False, default_auto_reply="(auto) go on")
    bot = quiet("bot", llm_config=ScriptedModelClient(["draft 1", "draft 2", "draft 3"]))
    with IOStream.set_default(io):
        result = human.initiate_chat(bot, message="write code")
    contents = [m["content"] for m in result.chat_history]
    assert contents == ["write code", "draft 1", "(auto) go on", "draft 2", "please add tests", "draft 3"]
    assert result.human_input == ["", "please add tests", "exit"]
    assert len(io.prompts) == 3
    assert "Replying as human" in io.prompts[0]
    assert "bot (to human):\n\ndraft 1\n" in io.text  # the silent bot prints nothing of its own
    assert "NO HUMAN INPUT RECEIVED" in io.text


def test_terminate_mode_asks_only_at_termination() -> None:
    io = ScriptedIOStream(["one more thing", ""])
    human = ConversableAgent("human", human_input_mode="TERMINATE", llm_config=False, default_auto_reply="go on")
    bot = quiet("bot", llm_config=ScriptedModelClient(["working", "done TERMINATE", "really done TERMINATE"]))
    with IOStream.set_default(io):
        result = human.initiate_chat(bot, message="task", silent=True)
    contents = [m["content"] for m in result.chat_history]
    assert contents == ["task", "working", "go on", "done TERMINATE", "one more thing", "really done TERMINATE"]
    assert result.human_input == ["one more thing", ""]


def test_human_reply_answers_every_pending_tool_call() -> None:
    io = ScriptedIOStream(["no, stop"])
    human = ConversableAgent("human", human_input_mode="ALWAYS", llm_config=False)
    calls: list[ToolCall] = [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "t2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    with IOStream.set_default(io):
        reply = human.generate_reply([{"role": "assistant", "content": None, "tool_calls": calls}], quiet("bot"))
    assert isinstance(reply, dict)
    assert [r["tool_call_id"] for r in reply["tool_responses"]] == ["t1", "t2"]


def test_malformed_model_reply_gives_clear_error() -> None:
    agent = quiet("a", llm_config=FunctionModelClient(lambda m, t, p: {"content": None}))
    with pytest.raises(ModelResponseError):
        agent.generate_reply([{"role": "user", "content": "hi"}], quiet("b"))


def test_invalid_message_is_refused_with_clear_error() -> None:
    a, b = quiet("a"), quiet("b")
    with pytest.raises(InvalidMessageError, match="content"):
        a.send({"role": "user"}, b)
    with pytest.raises(InvalidMessageError, match="str or a dict"):
        a.send(42, b)  # type: ignore[arg-type]  # deliberately wrong


def test_state_helpers() -> None:
    a = quiet("a", llm_config=ScriptedModelClient(["r1", "r2"]))
    b = quiet("b")
    assert a.last_message() is None
    b.initiate_chat(a, message="m1", max_turns=1, silent=True)
    assert a.last_message(b) == {"content": "r1", "role": "assistant", "name": "a"}
    assert a.last_message() == a.last_message(b)
    b.initiate_chat(a, message="m2", max_turns=1, clear_history=False, silent=True)
    assert [m["content"] for m in a.chat_messages[b]] == ["m1", "r1", "m2", "r2"]
    a.clear_history(b, nr_messages_to_preserve=1)
    assert [m["content"] for m in a.chat_messages[b]] == ["r2"]
    a.reset()
    assert a.chat_messages[b] == []
    with pytest.raises(KeyError, match="no conversation"):
        a.last_message(quiet("stranger"))


def test_assistant_and_user_proxy_defaults() -> None:
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient([]))
    proxy = UserProxyAgent("proxy")
    assert assistant.human_input_mode == "NEVER"
    assert "TERMINATE" in assistant.system_message
    assert assistant.code_executor is None
    assert proxy.human_input_mode == "ALWAYS"
    assert proxy.client is None
    assert type(proxy.code_executor).__name__ == "LocalCommandLineCodeExecutor"
    assert isinstance(assistant, LLMAgent)


async def test_sync_api_inside_running_loop() -> None:
    a = quiet("a", llm_config=ScriptedModelClient(["pong"]))
    b = quiet("b")
    result = b.initiate_chat(a, message="ping", max_turns=1, silent=True)  # sync call, loop running
    assert result.summary == "pong"
    await asyncio.sleep(0)


class OwnToolReplies(ConversableAgent):
    """Overrides the async built-in: it answers every message, tool calls or not."""

    async def a_generate_tool_calls_reply(self, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        return True, "own async tool reply"


class OwnSyncFunctionReplies(ConversableAgent):
    """A 0.2-style subclass: overrides the sync built-in only."""

    def generate_function_call_reply(self, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        return True, "own sync function reply"


def _instance_override() -> ConversableAgent:
    agent = quiet("a", llm_config=ScriptedModelClient(["llm"]))

    async def mine(messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        return True, "own instance tool reply"

    agent.a_generate_tool_calls_reply = mine  # type: ignore[method-assign]
    return agent


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: OwnToolReplies("a", human_input_mode="NEVER", llm_config=ScriptedModelClient(["llm"])),
            "own async tool reply",
        ),
        (
            lambda: OwnSyncFunctionReplies("a", human_input_mode="NEVER", llm_config=ScriptedModelClient(["llm"])),
            "own sync function reply",
        ),
        (_instance_override, "own instance tool reply"),
        (lambda: quiet("a", llm_config=ScriptedModelClient(["llm"])), "llm"),
    ],
)
def test_an_overridden_builtin_reply_is_asked_even_when_the_message_has_no_calls(make: Any, expected: str) -> None:
    # The pipeline skips a built-in tool or function-call reply whose answer is plainly "no" for a
    # message without calls; an override of it, on the class or the instance, is asked all the same.
    agent = make()
    assert agent.generate_reply([{"role": "user", "content": "hi", "name": "b"}], quiet("b")) == expected
