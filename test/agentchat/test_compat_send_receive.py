"""AutoGen 0.2's send/receive: a follow-up ``send`` continues a chat, and 0.2-style custom agents take part."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, ConversableAgent, GroupChat, GroupChatManager, UserProxyAgent
from parley.agentchat import Agent
from parley.testing import ScriptedModelClient

pytestmark = pytest.mark.timeout(60)


def test_send_after_initiate_chat_continues_the_conversation(tmp_path: Path) -> None:
    model = ScriptedModelClient(
        ["```python\nprint(6 * 7)\n```", "42. TERMINATE", "```python\nprint('again')\n```", "Done. TERMINATE"]
    )
    assistant = AssistantAgent("assistant", llm_config=model, silent=True)
    user = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
        is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
        silent=True,
    )
    result = user.initiate_chat(assistant, message="compute", silent=True)
    assert len(result.chat_history) == 4
    user.send(recipient=assistant, message="Do it again", silent=True)
    contents = [m["content"] for m in user.chat_messages[assistant]]
    assert len(contents) == 8  # the notebook's follow-up: 4 more messages, code run included
    assert contents[4:] == [
        "Do it again",
        "```python\nprint('again')\n```",
        "exitcode: 0 (execution succeeded)\nCode output: again\n",
        "Done. TERMINATE",
    ]


def test_request_reply_true_false_and_none() -> None:
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER", default_auto_reply="from a", silent=True)
    b = ConversableAgent(
        "b", llm_config=False, human_input_mode="NEVER", default_auto_reply="from b", max_consecutive_auto_reply=1,
        silent=True,
    )  # fmt: skip
    a.send("no reply wanted", b, request_reply=False)
    assert [m["content"] for m in b.chat_messages[a]] == ["no reply wanted"]
    a.send("default: reply_at_receive is off before any chat", b)
    assert len(b.chat_messages[a]) == 2
    a.send("reply now", b, request_reply=True)
    # b replies; a does not answer back (a's reply_at_receive for b is off outside a chat)
    assert [m["content"] for m in a.chat_messages[b]][-2:] == ["reply now", "from b"]
    b.receive("direct", a, request_reply=True)  # b's auto-reply limit (1) is used up: no reply
    assert a.chat_messages[b][-1]["content"] == "from b"
    a.initiate_chat(b, message="chat", max_turns=1, silent=True)
    b.reset_consecutive_auto_reply_counter()
    a.send("after the chat, None means reply", b)
    # b replies, and now a answers back too (both sides' reply_at_receive hold after a chat)
    assert [m["content"] for m in a.chat_messages[b]][-3:] == ["after the chat, None means reply", "from b", "from a"]


def test_replies_go_back_and_forth_until_one_side_stops() -> None:
    a = ConversableAgent(
        "a", llm_config=False, human_input_mode="NEVER", default_auto_reply="ping", max_consecutive_auto_reply=2,
        silent=True,
    )  # fmt: skip
    b = ConversableAgent(
        "b", llm_config=False, human_input_mode="NEVER", default_auto_reply="pong", max_consecutive_auto_reply=5,
        silent=True,
    )  # fmt: skip
    a.initiate_chat(b, message="start", max_turns=1, silent=True)
    assert a.reply_at_receive[b]
    assert b.reply_at_receive[a]
    a.send("again", b)
    # b: pong, a: ping, b: pong, a: ping (a's limit of 2), b: pong, then a stops
    assert [m["content"] for m in a.chat_messages[b]][2:] == ["again", "pong", "ping", "pong", "ping", "pong"]


class EchoAgent(Agent):
    """A 0.2-style custom agent: only the sync methods are written; the a_* ones are the Protocol's stubs."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.received: list[Any] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return "echoes"

    def send(self, message: Any, recipient: Any, request_reply: bool | None = None) -> None:
        recipient.receive(message, self, request_reply)

    def receive(self, message: Any, sender: Any, request_reply: bool | None = None) -> None:
        self.received.append(message)
        if request_reply:
            self.send(self.generate_reply(sender=sender), sender, False)

    def generate_reply(self, messages: Any = None, sender: Any = None, **kwargs: Any) -> Any:
        last = self.received[-1]
        text = last if isinstance(last, str) else last.get("content")
        return f"echo: {text}"


def test_sync_custom_agent_as_recipient() -> None:
    echo = EchoAgent("echo")  # type: ignore[abstract]  # 0.2-style: the a_* methods are the stubs
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER", default_auto_reply="next", silent=True)
    result = a.initiate_chat(echo, message="hello", max_turns=2, silent=True)
    assert [m["content"] for m in result.chat_history] == ["hello", "echo: hello", "next", "echo: next"]
    assert echo.received == ["hello", "next"]
    a.send("direct", echo, request_reply=True)
    assert a.chat_messages[echo][-1]["content"] == "echo: direct"


def test_sync_custom_agent_in_a_group_chat() -> None:
    echo = EchoAgent("echo")  # type: ignore[abstract]  # 0.2-style: the a_* methods are the stubs
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER", default_auto_reply="more", silent=True)
    group = GroupChat(agents=[a, echo], messages=[], max_round=4, speaker_selection_method="round_robin")
    manager = GroupChatManager(group, silent=True)
    a.initiate_chat(manager, message="start", silent=True)
    assert [(m.get("name"), m["content"]) for m in group.messages] == [
        ("a", "start"),
        ("echo", "echo: start"),
        ("a", "more"),
        ("echo", "echo: more"),
    ]


class LoudReceiver(ConversableAgent):
    """A 0.2-style subclass that overrides only the sync ``receive``."""

    seen: list[str]

    def receive(self, message: Any, sender: Any, request_reply: bool | None = None, silent: bool = False) -> None:
        self.seen.append(message if isinstance(message, str) else str(message.get("content")))
        super().receive(message, sender, request_reply, silent)


def test_subclass_overriding_sync_receive_is_called() -> None:
    loud = LoudReceiver("loud", llm_config=False, human_input_mode="NEVER", default_auto_reply="ok", silent=True)
    loud.seen = []
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER", silent=True)
    a.initiate_chat(loud, message="hi", max_turns=1, silent=True)
    assert loud.seen == ["hi"]
