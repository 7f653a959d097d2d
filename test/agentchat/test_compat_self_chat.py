"""Chats where a group chat manager meets itself: they end, as in AutoGen 0.2, and never spin."""

from __future__ import annotations

import pytest

from parley import ConversableAgent, GroupChat, GroupChatManager

pytestmark = pytest.mark.timeout(30)


def member(name: str, reply: str) -> ConversableAgent:
    return ConversableAgent(
        name, description=f"The {name} agent.", llm_config=False, human_input_mode="NEVER",
        default_auto_reply=reply, max_consecutive_auto_reply=10, silent=True,
    )  # fmt: skip


def manager(
    agents: list[ConversableAgent | GroupChatManager], name: str = "chat_manager", **kwargs: object
) -> GroupChatManager:
    chat = GroupChat(agents=agents, speaker_selection_method="round_robin", max_round=10, **kwargs)  # type: ignore[arg-type]
    return GroupChatManager(chat, name=name, llm_config=False, silent=True)


def test_a_manager_chatting_with_itself_runs_its_group_once() -> None:
    alice, bob = member("alice", "alice here. TERMINATE"), member("bob", "bob here.")
    mgr = manager([alice, bob], send_introductions=True)
    result = mgr.initiate_chat(mgr, message="Start.", silent=True)
    assert [m["content"] for m in result.chat_history] == ["Start.", "Start."]  # sent and received, one list
    assert [(m.get("name"), m["content"]) for m in mgr.groupchat.messages] == [
        ("chat_manager", "Start."),
        ("alice", "alice here. TERMINATE"),
    ]
    intro, start, reply = alice.chat_messages[mgr]
    assert "The alice agent." in str(intro["content"])
    assert "The bob agent." in str(intro["content"])
    assert (start["content"], reply["content"]) == ("Start.", "alice here. TERMINATE")
    assert [m["content"] for m in bob.chat_messages[mgr]][1:] == ["Start.", "alice here. TERMINATE"]


def test_a_manager_in_its_own_group_does_not_start_a_second_run() -> None:
    alice = member("alice", "alice here.")
    chat = GroupChat(agents=[alice], speaker_selection_method="round_robin", max_round=10)
    mgr = GroupChatManager(chat, llm_config=False, silent=True)
    chat.agents.append(mgr)  # its turn comes after alice's: it has nothing more to say
    bob = member("bob", "unused")
    bob.initiate_chat(mgr, message="Go.", silent=True)
    assert [(m.get("name"), m["content"]) for m in chat.messages] == [("bob", "Go."), ("alice", "alice here.")]


def test_two_managers_in_a_two_agent_chat_stop_after_one_group_run() -> None:
    a, b = member("a", "from a."), member("b", "from b.")
    first, second = manager([a], name="first"), manager([b], name="second")
    first.initiate_chat(second, message="Hello.", silent=True, max_turns=None)
    assert [m["content"] for m in second.groupchat.messages] == ["Hello."] + ["from b."] * 9
    assert first.groupchat.messages == []  # second is not a member of first's group: it answers nothing


def test_groups_nested_in_each_other_end() -> None:
    a, b = member("a", "from a."), member("b", "from b.")
    outer = manager([a], name="outer")
    inner = manager([b, outer], name="inner")
    outer.groupchat.agents.append(inner)
    a.initiate_chat(outer, message="Go.", silent=True)
    assert [(m.get("name"), m["content"]) for m in outer.groupchat.messages] == [("a", "Go.")] + [
        ("inner", "from b."),
        ("a", "from a."),
    ] * 4 + [("inner", "from b.")]
    # each time inner runs, b speaks, then outer's turn in inner's group answers nothing
    assert [m.get("name") for m in inner.groupchat.messages] == ["outer", "b"] * 5
