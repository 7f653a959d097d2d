"""Running a target (a team or a single agent) once in a session: the chats it starts.

- ``two_agent``: the first member sends the task to the second;
- ``group_chat``: the first member sends the task to the group's manager;
- ``sequence``: the chats in order, each carrying over the earlier summaries;
- an agent id: a silent ``user`` sends the task, and the agent answers once.

The first run of a target in a session starts its conversation; later runs continue it, so a
follow-up task sees the earlier messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.agentchat._display import content_str
from parley.runtime._build import build_agent, target_agents, unknown_target
from parley.runtime.session import Session

__all__ = ["Outcome", "run_target"]


@dataclass
class Outcome:
    """What a target's chats produced in one run."""

    final_output: str = ""
    terminated: bool = False


@dataclass
class _Built:
    kind: str
    agents: list[Any]
    manager: Any = None
    runs: int = 0


async def _build(session: Session, target: str) -> _Built:
    built = session.teams.get(target)
    if built is not None:
        return built  # type: ignore[no-any-return]
    config = session.config
    team = config.teams.get(target)
    if team is None:
        if target not in config.agents:
            raise unknown_target(config, target)
        from parley.agentchat.conversable_agent import ConversableAgent

        user = ConversableAgent(
            "user", system_message="", llm_config=False, human_input_mode="NEVER", max_consecutive_auto_reply=0
        )
        built = _Built("agent", [user, *await target_agents(session, [target])])
    elif team.kind == "sequence":
        ids = list(dict.fromkeys([*team.members, *(a for c in team.chats for a in (c.sender, c.recipient))]))
        built = _Built("sequence", await target_agents(session, ids))
    else:
        agents = await target_agents(session, team.members)
        built = _Built(team.kind, agents)
        if team.kind == "group_chat":
            from parley.agentchat.groupchat import GroupChat
            from parley.agentchat.groupchat_manager import GroupChatManager
            from parley.runtime._build import llm_config

            by_id = dict(zip(team.members, agents, strict=True))
            transitions = None
            if team.transitions is not None:
                transitions = {by_id[k]: [by_id[v] for v in vs] for k, vs in team.transitions.items()}
            groupchat = GroupChat(
                agents=agents, max_round=team.max_round, speaker_selection_method=team.speaker_selection,
                allowed_or_disallowed_speaker_transitions=transitions,
                speaker_transitions_type=team.transitions_type if transitions is not None else None,
            )  # fmt: skip
            model = llm_config(config, team.model, {}) if team.model else False
            built.manager = GroupChatManager(groupchat, name=f"{target}_manager", llm_config=model, silent=True)
    session.teams[target] = built
    return built


def _ends_with_termination(message: dict[str, Any] | None, agents: list[Any]) -> bool:
    if not message:
        return False
    return any(getattr(a, "is_termination_msg", None) is not None and a.is_termination_msg(message) for a in agents)


async def run_target(session: Session, target: str, task: str) -> Outcome:
    """Run ``target``'s chats on ``task`` in ``session``; see the module docstring.

    Raises:
        ConfigError: ``target`` is neither a team nor an agent (with a "did you mean"), or an
            agent cannot be built. Errors of the chats propagate.
    """
    built = await _build(session, target)
    first = built.runs == 0
    built.runs += 1
    if built.kind == "sequence":
        return await _run_sequence(session, target, task, built, first)
    sender, recipient = built.agents[0], built.manager or built.agents[1]
    history = sender.chat_messages[recipient]
    start = 0 if first else len(history)
    max_turns = session.config.teams[target].max_turns if built.kind == "two_agent" else None
    if built.kind == "agent":
        max_turns = 1
    result = await sender.a_initiate_chat(
        recipient, message=task, clear_history=first, silent=True, max_turns=max_turns
    )
    if built.manager is not None:
        messages = built.manager.groupchat.messages[start:]
    else:
        messages = sender.chat_messages[recipient][start:]
    last = messages[-1] if messages else None
    return Outcome(result.summary, _ends_with_termination(last, [*built.agents, recipient]))


async def _run_sequence(session: Session, target: str, task: str, built: _Built, first: bool) -> Outcome:
    from parley.agentchat.chat import run_chats_in_order

    team = session.config.teams[target]
    queue = []
    starts = []
    for chat in team.chats:
        sender, recipient = build_agent(session, chat.sender), build_agent(session, chat.recipient)
        starts.append(0 if first else len(sender.chat_messages[recipient]))
        queue.append({
            "sender": sender, "recipient": recipient, "message": chat.message or task,
            "max_turns": chat.max_turns, "summary_method": chat.summary_method, "clear_history": first, "silent": True,
        })  # fmt: skip
    results = await run_chats_in_order(queue)
    last_chat = queue[-1]
    history = last_chat["sender"].chat_messages[last_chat["recipient"]]
    last = history[-1] if len(history) > starts[-1] else None
    final = results[-1].summary if results else ""
    return Outcome(final, _ends_with_termination(last, built.agents))


def message_text(message: dict[str, Any]) -> str:
    """A message's text ("" for tool calls only)."""
    return content_str(message.get("content"))
