"""The rounds of a group chat, run by any `ConversableAgent` acting as its manager.

`GroupChatManager` registers `run_group_chat` as its reply; AutoGen 0.2 code may also register
``GroupChatManager.run_chat`` on a plain `ConversableAgent` (with the group chat as ``config``),
which then manages that group. So nothing here needs more of the manager than
`ConversableAgent` offers.

Each round: the message is added to the history and broadcast to every other member, the next
speaker is chosen (`GroupChat.a_select_speaker`), and that speaker's reply becomes the next
message. The chat stops at a termination message, at ``max_round`` messages, when nobody may
speak, or when a speaker has no reply.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, cast

from parley.agentchat import _peers
from parley.agentchat._display import content_str
from parley.agentchat.agent import Agent
from parley.agentchat.chat import SILENT
from parley.agentchat.conversable_agent import ConversableAgent
from parley.agentchat.events import SpeakerSelected, report_sent, sink_now
from parley.agentchat.groupchat import _UNDECIDED, GroupChat
from parley.agentchat.io import IOStream
from parley.llm.types import Message

__all__ = ["clear_agents_history", "run_group_chat"]

_PLAIN_RECEIVERS: dict[type, bool] = {}
_RUNNING: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "parley_running_managers", default=frozenset()
)
"""The ids of the managers whose group chat is running in this context (the chat-in-chat guard)."""


def _stored_copies(message: Message) -> tuple[Message | None, Message | None]:
    """The manager's and a member's stored copies of an already-stored, named message.

    The messages a manager broadcasts come from its own history (so they hold only API keys) and
    carry their speaker's name; for those the copies differ from the original only in ``role``,
    exactly as `ConversableAgent._normalize` would set it. Anything else: ``(None, None)``.
    """
    if "name" not in message or "content" not in message:
        return None, None
    role = message.get("role")
    if role in ("tool", "function"):
        return message, message
    received_role = "assistant" if message.get("tool_calls") or message.get("function_call") else "user"
    return {**message, "role": "assistant"}, {**message, "role": received_role}


def _content(reply: Any) -> Any:
    return reply if isinstance(reply, str) else reply.get("content") if isinstance(reply, dict) else None


def _plain_receiver(agent: Any) -> bool:
    """True when ``agent`` receives with `ConversableAgent.a_receive` (cached per class)."""
    cls = type(agent)
    plain = _PLAIN_RECEIVERS.get(cls)
    if plain is None:
        plain = _PLAIN_RECEIVERS[cls] = (
            issubclass(cls, ConversableAgent) and cls.a_receive is ConversableAgent.a_receive
        )
    return plain


async def _broadcast(manager: ConversableAgent, groupchat: GroupChat, message: Message, speaker: Agent | None) -> None:
    """Give ``message`` to every member but ``speaker``, without asking for replies."""
    for agent in _store_for_members(manager, groupchat, message, speaker):
        await manager.a_send(message, agent, request_reply=False, silent=True)


def _store_for_members(
    manager: ConversableAgent, groupchat: GroupChat, message: Message, speaker: Agent | None
) -> list[Agent]:
    """`_broadcast`'s direct part, a plain call: store ``message`` for the members that allow it.

    Members whose class keeps `ConversableAgent.a_receive` get the stored copies directly
    (decided once per class): the same effect as a silent ``a_send``, at a fraction of the cost.
    Send hooks, or a member that overrides ``a_receive``, take the full ``a_send`` path.

    Returns:
        The members, in order, still to be sent ``message`` with ``a_send`` (usually none).
    """
    hooks = manager._hooks
    if hooks["process_message_before_send"] or hooks["a_process_message_before_send"]:
        return [agent for agent in groupchat.agents if agent is not speaker]
    sent, received = _stored_copies(message)
    fresh = sent is not message  # the copies are new dicts: the first receiver may keep them as they are
    rest: list[Agent] = []
    plain = _PLAIN_RECEIVERS
    kept = manager._oai_messages
    for agent in groupchat.agents:
        if agent is speaker:
            continue
        if not (plain.get(type(agent)) or _plain_receiver(agent)):
            rest.append(agent)
            continue
        if sent is None or received is None:
            sent = manager._normalize(message, "assistant", agent, True)
            received = agent._normalize(sent, "user", manager, False)
            fresh = False
        if fresh:
            kept[agent].append(sent)
            agent._oai_messages[manager].append(received)
            fresh = False
        else:
            kept[agent].append({**sent})
            agent._oai_messages[manager].append({**received})
    return rest


def _nested_in(manager: Agent, sender: Agent | None) -> bool:
    """True when ``sender`` is another manager whose group has ``manager`` as a member."""
    outer = getattr(sender, "groupchat", None)
    return sender is not manager and isinstance(outer, GroupChat) and any(a is manager for a in outer.agents)


async def run_group_chat(
    manager: ConversableAgent,
    messages: list[Message] | None,
    sender: Agent | None,
    groupchat: GroupChat,
    note_speaker: Callable[[Any], None] | None = None,
) -> tuple[bool, str | None]:
    """``manager``'s reply to ``sender``: run ``groupchat`` from ``messages[-1]`` to its end.

    Args:
        manager: the agent running the chat (a `GroupChatManager` or any `ConversableAgent`).
        messages: the manager's conversation with ``sender``; its last message opens the rounds.
        sender: who sent that message; it speaks first.
        groupchat: the group.
        note_speaker: called with each speaker as its turn starts.

    Returns:
        ``(True, None)``, which ends a two-agent chat with the initiator (the manager itself
        included: ``manager.initiate_chat(manager)`` runs the group chat once); when ``sender``
        is another manager whose group has ``manager`` as a member, ``(True, text)`` with this
        chat's last message. A manager asked again while its own chat runs (a member of its own
        group, or two groups nested in each other) answers ``(True, None)`` at once.
    """
    running = _RUNNING.get()
    if not messages or id(manager) in running:  # asked again from inside its own chat: no second run
        return True, None
    token = _RUNNING.set(running | {id(manager)})
    try:
        await _run_rounds(manager, groupchat, messages[-1], sender, note_speaker)
    finally:
        _RUNNING.reset(token)
    if _nested_in(manager, sender):
        return True, content_str(groupchat.messages[-1].get("content")) if groupchat.messages else ""
    return True, None


async def _run_rounds(
    manager: ConversableAgent,
    groupchat: GroupChat,
    message: Message,
    sender: Agent | None,
    note_speaker: Callable[[Any], None] | None,
) -> None:
    silent = bool(manager.silent) or SILENT.get()
    if groupchat.send_introductions and not groupchat.messages:  # a fresh chat: introduce the members
        await _broadcast(manager, groupchat, {"role": "user", "content": groupchat.introductions_msg()}, None)
    speaker: Any = sender
    io = IOStream.get_default()
    # The group's own selection: a plain rotation is decided by a plain call, with no coroutine.
    own_selection = type(groupchat).a_select_speaker is GroupChat.a_select_speaker
    plans: dict[type, tuple[bool, bool]] = {}
    for i in range(groupchat.max_round):
        if note_speaker is not None:
            note_speaker(speaker)
        groupchat.append(message, speaker)
        for member in _store_for_members(manager, groupchat, message, speaker):  # `_broadcast`, no coroutine
            await manager.a_send(message, member, request_reply=False, silent=True)
        if manager._is_termination_msg(message) or i == groupchat.max_round - 1:
            break
        nxt = groupchat._next_in_rotation(speaker) if own_selection else _UNDECIDED
        if nxt is _UNDECIDED:
            nxt = await groupchat.a_select_speaker(speaker, manager)  # type: ignore[arg-type]
        if nxt is None:
            break
        speaker = nxt
        if (sink := sink_now()) is not None:
            sink(SpeakerSelected(manager.name, speaker.name))
        if not silent:
            io.print(f"\nNext speaker: {speaker.name}\n", flush=True)
        plan = plans.get(type(speaker))  # how to call this speaker's class, decided once a chat
        if plan is None:
            plan = plans[type(speaker)] = (
                _peers.own_async(speaker, "a_generate_reply"),
                _peers.own_with_silent(speaker, "a_send"),
            )
        if plan[0]:  # a parley agent: await it directly
            reply = await speaker.a_generate_reply(sender=manager)
        else:
            reply = await _peers.a_generate_reply(speaker, manager)
        if reply is None:
            break
        if groupchat.enable_clear_history and "CLEAR HISTORY" in content_str(_content(reply)).upper():
            reply = _without_clear_command(reply, groupchat)
        if plan[1]:  # a parley agent: await it directly
            await speaker.a_send(reply, manager, False, silent=silent)
        else:
            await _peers.a_send(speaker, reply, manager, False, silent)
        report_sent(speaker, manager)
        history = manager._oai_messages[speaker]  # the reply the speaker just sent is its last entry
        message = history[-1] if history else {"content": ""}


def _without_clear_command(reply: Any, groupchat: GroupChat) -> Any:
    message = {"content": reply} if isinstance(reply, str) else dict(reply)
    message["content"] = clear_agents_history(cast(Message, message), groupchat)
    return message["content"] if isinstance(reply, str) else message


def clear_agents_history(reply: Message, groupchat: GroupChat) -> str:
    """Obey a human's ``clear history [agent] [n]`` in ``reply`` (see `GroupChatManager.clear_agents_history`)."""
    words = content_str(reply.get("content")).split()
    at = max((i for i, w in enumerate(words) if w.upper() == "CLEAR"), default=None)
    if at is None:
        return " ".join(words)
    keep: int | None = None
    target: Any = None
    used = 2
    for word in words[at + 2 : at + 4]:
        bare = word.rstrip(".,;:!?")
        if bare.isdecimal() and len(bare) < 10:
            keep, used = int(bare), used + 1
        elif groupchat.agent_by_name(bare) is not None:
            target, used = groupchat.agent_by_name(bare), used + 1
    if "tool_responses" in reply and not keep:
        keep = 1
    io = IOStream.get_default()
    suffix = f" except last {keep} messages" if keep else ""
    if target is not None:
        io.print(f"Clearing history for {target.name}{suffix}.")
        target.clear_history(nr_messages_to_preserve=keep)
    else:
        io.print(f"Clearing history for all agents{suffix}.")
        groupchat.messages[:] = groupchat.messages[-keep:] if keep else []
        for agent in groupchat.agents:
            if isinstance(agent, ConversableAgent):
                agent.clear_history(nr_messages_to_preserve=keep)
    return " ".join(words[:at] + words[at + used :])
