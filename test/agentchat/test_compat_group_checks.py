"""When a group chat checks its members, and a plain agent managing a group, as in AutoGen 0.2."""

from __future__ import annotations

import json

import pytest

from parley import Agent, ConversableAgent, GroupChat, GroupChatManager
from parley.exceptions import AgentNameConflict, ConfigError
from parley.llm.types import Message

pytestmark = pytest.mark.timeout(30)


def member(name: str, reply: str = "ok") -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER", default_auto_reply=reply, silent=True)


def test_an_empty_group_saves_and_loads_transcripts_but_cannot_run() -> None:
    saved: list[Message] = [{"content": "Start.", "role": "assistant", "name": "Chairperson"}]
    group = GroupChat(agents=[], messages=list(saved))
    manager = GroupChatManager(group)  # "auto" with no model is fine: an empty group never selects
    assert json.loads(manager.messages_to_string()) == saved
    assert manager.messages_from_string(manager.messages_to_string()) == saved
    starter = member("starter")
    with pytest.raises(ConfigError, match="no agents to choose a speaker from"):
        starter.initiate_chat(manager, message="Go.", silent=True)


def test_repeated_names_are_refused_only_when_a_speaker_is_chosen() -> None:
    first, twin, other = member("team"), member("team"), member("other")
    group = GroupChat(agents=[other, first, twin], speaker_selection_method="round_robin")
    assert group.agent_by_name("team") is first
    with pytest.raises(AgentNameConflict):
        group.agent_by_name("team", raise_on_name_conflict=True)
    with pytest.raises(AgentNameConflict, match="repeated: team"):
        other.initiate_chat(GroupChatManager(group, llm_config=False), message="Go.", silent=True)
    with pytest.raises(AgentNameConflict):  # a transition graph is kept by name: refused at once
        GroupChat(
            agents=[other, first, twin], allowed_or_disallowed_speaker_transitions={other: [first]},
            speaker_transitions_type="allowed",
        )  # fmt: skip


def test_a_plain_agent_can_manage_a_group_with_run_chat() -> None:
    alice, bob = member("alice", "alice here."), member("bob", "bob here.")
    group = GroupChat(agents=[alice, bob], max_round=3, speaker_selection_method="round_robin")
    deputy = ConversableAgent("deputy", llm_config=False, silent=True)
    deputy.register_reply(Agent, GroupChatManager.run_chat, config=group, reset_config=GroupChat.reset)
    alice.initiate_chat(deputy, message="hello", silent=True)
    assert [(m["name"], m["content"]) for m in group.messages] == [
        ("alice", "hello"),
        ("bob", "bob here."),
        ("alice", "alice here."),
    ]
    assert [m["content"] for m in bob.chat_messages[deputy]] == ["hello", "bob here.", "alice here."]
    deputy.reset()
    assert group.messages == []


def test_a_function_call_nobody_can_run_goes_to_a_member_with_functions_as_in_0_2() -> None:
    alice = member("alice", "alice here.")
    bob = ConversableAgent(
        "bob", llm_config=False, human_input_mode="NEVER", default_auto_reply="bob here.", silent=True,
        function_map={"test_func": lambda x: x},
    )  # fmt: skip
    group = GroupChat(agents=[alice, bob], max_round=3)
    manager = GroupChatManager(group, llm_config=False)
    call: Message = {"content": None, "function_call": {"name": "test_func", "arguments": '{"x": 1}'}}
    bob.initiate_chat(manager, message=call, silent=True)
    assert [(m.get("role"), m["name"], m["content"]) for m in group.messages[1:]] == [
        ("function", "test_func", "1"),  # the function's name stays on its answer
        ("user", "alice", "alice here."),
    ]
    group.reset()
    unknown: Message = {"content": None, "function_call": {"name": "func", "arguments": "{}"}}
    bob.initiate_chat(manager, message=unknown, silent=True)
    assert str(group.messages[1]["content"]).startswith("Error: Function func not found.")
