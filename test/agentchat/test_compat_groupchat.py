"""AutoGen 0.2's group chat API and exceptions, as a 0.2 script uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parley import ConversableAgent, GroupChat, GroupChatManager
from parley.agentchat import ScriptedIOStream
from parley.agentchat.io import IOStream
from parley.exceptions import (
    AgentNameConflict,
    ConfigError,
    InvalidCarryOverType,
    NoEligibleSpeaker,
    ParleyError,
    SenderRequired,
    UndefinedNextAgent,
)
from parley.llm.types import Message

pytestmark = pytest.mark.timeout(60)


def member(name: str, reply: str = "ok") -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER", default_auto_reply=reply, silent=True)


def test_exceptions_sit_in_parleys_tree() -> None:
    for cls in (AgentNameConflict, InvalidCarryOverType, SenderRequired, UndefinedNextAgent):
        assert issubclass(cls, ConfigError)
    assert issubclass(NoEligibleSpeaker, ParleyError)
    assert str(NoEligibleSpeaker()) == "No eligible speakers."


def test_agent_lookup_nested_agents_and_transitions_dict() -> None:
    a, b, c = member("a"), member("b"), member("c")
    inner = GroupChatManager(GroupChat(agents=[b, c], speaker_selection_method="round_robin"), name="inner")
    outer = GroupChat(
        agents=[a, inner], speaker_selection_method="ROUND_ROBIN",
        allowed_or_disallowed_speaker_transitions={a: [inner], inner: [a]}, speaker_transitions_type="allowed",
    )  # fmt: skip
    assert outer.speaker_selection_method == "round_robin"
    assert outer.agent_by_name("nobody") is None
    assert outer.agent_by_name("c") is None
    assert outer.agent_by_name("c", recursive=True) is c
    assert outer.nested_agents() == [a, inner, b, c]
    assert outer.allowed_speaker_transitions_dict == {a: [inner], inner: [a]}
    twin = member("b")
    clash = GroupChat(agents=[a, inner, twin], speaker_selection_method="round_robin")
    with pytest.raises(AgentNameConflict):
        clash.agent_by_name("b", recursive=True, raise_on_name_conflict=True)
    with pytest.raises(UndefinedNextAgent):
        outer.next_agent(a, [b])
    assert outer.next_agent(a) is inner
    assert "b: " in outer.introductions_msg(agents=[b])
    assert "a: " not in outer.introductions_msg(agents=[b])
    assert outer.random_select_speaker([a]) is a


def test_selection_function_decides_even_when_the_graph_leaves_nobody() -> None:
    a, b = member("a", "from a"), member("b", "from b")
    asked: list[str] = []

    def pick(last: Any, groupchat: GroupChat) -> Any:
        asked.append(last.name)
        if len(groupchat.messages) >= 3:
            raise NoEligibleSpeaker()
        return b if last is a else a

    # the graph lets nobody follow b; the selection function still decides
    group = GroupChat(
        agents=[a, b], max_round=10, speaker_selection_method=pick,
        allowed_or_disallowed_speaker_transitions={a: [b], b: []}, speaker_transitions_type="allowed",
    )  # fmt: skip
    manager = GroupChatManager(group, silent=True)
    a.initiate_chat(manager, message="start", silent=True)
    assert [m["name"] for m in group.messages] == ["a", "b", "a"]
    assert asked == ["a", "b", "a"]
    assert manager.last_speaker is a


def test_next_speaker_is_shown_before_each_turn() -> None:
    a, b = member("a"), member("b")
    group = GroupChat(agents=[a, b], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(group)
    stream = ScriptedIOStream([])
    with IOStream.set_default(stream):
        a.initiate_chat(manager, message="start")
    shown = [line.strip() for line in "".join(stream.output).splitlines() if line.startswith("Next speaker")]
    assert shown == ["Next speaker: b", "Next speaker: a"]


def test_resume_messages_from_string_and_unnamed_messages() -> None:
    a, b = member("a", "a again"), member("b", "b again")
    group = GroupChat(agents=[a, b], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(group, silent=True)
    transcript: list[Message] = [
        {"content": "the task", "role": "user"},  # a ChatResult's first message: no name
        {"content": "b's work", "role": "user", "name": "b"},
    ]
    text = manager.messages_to_string(transcript)
    assert manager.messages_from_string(text) == transcript  # as saved, as in 0.2: resume names the speakers
    last_agent, last_message = manager.resume(messages=text)
    assert last_agent is b
    assert last_message["content"] == "b's work"
    assert [m["content"] for m in a.chat_messages[manager]] == ["the task"]
    import asyncio

    assert asyncio.run(manager.a_resume(messages=json.loads(text)))[0] is b


def test_clear_history_command() -> None:
    a, b = member("a"), member("b")
    group = GroupChat(agents=[a, b], messages=[], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(group, silent=True)
    for i in range(3):
        group.messages.append({"role": "user", "content": f"m{i}", "name": "a"})
        b.chat_messages[manager].append({"role": "user", "content": f"m{i}"})
    text = manager.clear_agents_history({"role": "user", "content": "Please clear history b 1. Then go."}, group)
    assert text == "Please Then go."
    assert [m["content"] for m in b.chat_messages[manager]] == ["m2"]
    assert len(group.messages) == 3
    manager.clear_agents_history({"role": "user", "content": "clear history"}, group)
    assert group.messages == []


def test_carryover_and_sender_required() -> None:
    a, b = member("a"), member("b")
    with pytest.raises(InvalidCarryOverType):
        a.initiate_chat(b, message="hi", carryover=42, max_turns=1, silent=True)
    b.register_reply("a", lambda recipient, messages, sender, config: (True, "for a"))
    with pytest.raises(SenderRequired):
        b.generate_reply([{"role": "user", "content": "x"}], sender=None)
