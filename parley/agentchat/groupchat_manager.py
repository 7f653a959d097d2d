"""`GroupChatManager`: an agent that runs a `GroupChat` round by round.

Each round: the message is added to the history and broadcast to every other member, the next
speaker is chosen (`GroupChat.a_select_speaker`), and that speaker's reply becomes the next
message. The chat stops at a termination message, at ``max_round`` messages, when nobody may
speak, or when a speaker has no reply. A manager can itself be a member of another group chat:
asked by an outer manager, it runs its own chat and answers with that chat's last message.
"""

from __future__ import annotations

import contextvars
import json
import sys
from collections.abc import Sequence
from typing import Any, cast

from parley._sync import run_sync
from parley.agentchat import _peers
from parley.agentchat._display import content_str
from parley.agentchat.agent import Agent
from parley.agentchat.chat import SILENT
from parley.agentchat.conversable_agent import ConversableAgent
from parley.agentchat.events import SpeakerSelected, current_event_sink, report_sent
from parley.agentchat.groupchat import GroupChat
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.llm.types import Message

__all__ = ["GroupChatManager"]

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


class GroupChatManager(ConversableAgent):
    """Runs a group chat; start one with ``member.initiate_chat(manager, message=...)``.

    Args:
        groupchat: the group chat to run.
        name: default ``"chat_manager"``.
        max_consecutive_auto_reply: default: no limit.
        human_input_mode: default ``"NEVER"``.
        system_message: default ``"Group chat manager."``.
        silent: print nothing when True.
        **kwargs: any other `ConversableAgent` argument; ``llm_config`` is the model for
            ``"auto"`` speaker selection. ``llm_config=False`` (no model, on purpose) makes
            ``"auto"`` take turns in order, as AutoGen 0.2 does.

    Raises:
        ConfigError: ``groupchat`` is not a GroupChat, or ``"auto"`` selection has no model and
            ``llm_config`` was left out (not set to False).
    """

    def __init__(
        self,
        groupchat: GroupChat,
        name: str = "chat_manager",
        max_consecutive_auto_reply: int | None = sys.maxsize,
        human_input_mode: Any = "NEVER",
        system_message: str | None = "Group chat manager.",
        silent: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(groupchat, GroupChat):
            raise ConfigError(f"GroupChatManager needs a GroupChat, got {type(groupchat).__name__}.", key="groupchat")
        super().__init__(
            name=name,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            system_message=system_message,
            silent=silent,
            **kwargs,
        )
        # ``llm_config=False`` says "no model" on purpose: "auto" then takes turns in order, as in
        # AutoGen 0.2. Leaving llm_config out is more often a mistake, so it is refused here.
        if (
            groupchat.speaker_selection_method == "auto"
            and kwargs.get("llm_config") is not False
            and self.client is None
            and groupchat.select_speaker_auto_llm_config is None
        ):
            raise ConfigError(
                "speaker_selection_method='auto' needs a model: give the GroupChatManager an llm_config, or set "
                "GroupChat(select_speaker_auto_llm_config=...), or choose 'round_robin'.",
                key="llm_config",
            )
        self._groupchat = groupchat
        self._introduced = False
        self._last_speaker: Any = None
        self.register_reply(Agent, GroupChatManager.a_run_chat, config=groupchat, reset_config=GroupChat.reset)

    @property
    def groupchat(self) -> GroupChat:
        """The group chat this manager runs."""
        return self._groupchat

    @property
    def last_speaker(self) -> Any:
        """The member who spoke last in this manager's chat (None before any chat)."""
        return self._last_speaker

    def _prepare_chat(self, recipient: Agent, clear_history: bool, reply_at_receive: bool = True) -> None:
        super()._prepare_chat(recipient, clear_history, reply_at_receive)
        for agent in self._groupchat.agents:
            if agent is not self and isinstance(agent, ConversableAgent):
                agent.reset_consecutive_auto_reply_counter(self)
        if clear_history:
            self._groupchat.reset()
            self._introduced = False
            for agent in self._groupchat.agents:
                self.clear_history(agent)
                if agent is not self and isinstance(agent, ConversableAgent):
                    agent.clear_history(self)

    async def _broadcast(self, message: Message, speaker: Agent | None) -> None:
        """Give ``message`` to every member but ``speaker``, without asking for replies.

        Members whose class keeps `ConversableAgent.a_receive` get the stored copies directly
        (decided once per class): the same effect as a silent ``a_send``, at a fraction of the cost.
        Send hooks, or a member that overrides ``a_receive``, take the full ``a_send`` path.
        """
        fast = not (self._hooks["process_message_before_send"] or self._hooks["a_process_message_before_send"])
        sent, received = _stored_copies(message) if fast else (None, None)
        for agent in self._groupchat.agents:
            if agent is speaker:
                continue
            if fast and _plain_receiver(agent):
                if sent is None or received is None:
                    sent = self._normalize(message, "assistant", agent, True)
                    received = agent._normalize(sent, "user", self, False)
                self._oai_messages[agent].append({**sent})
                agent._oai_messages[self].append({**received})
            else:
                await self.a_send(message, agent, request_reply=False, silent=True)

    async def a_run_chat(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | None]:
        """The manager's reply: run the group chat to its end (see the module docstring).

        Returns:
            ``(True, None)``, which ends a two-agent chat with the initiator (the manager
            itself included: ``manager.initiate_chat(manager)`` runs the group chat once); when
            ``sender`` is another GroupChatManager whose group has this manager as a member,
            ``(True, text)`` with this chat's last message. A manager asked again while its own
            chat runs (a member of its own group, or two groups nested in each other) answers
            ``(True, None)`` at once instead of starting a second run.
        """
        groupchat: GroupChat = config if isinstance(config, GroupChat) else self._groupchat
        running = _RUNNING.get()
        if not messages or id(self) in running:  # asked again from inside its own chat: no second run
            return True, None
        token = _RUNNING.set(running | {id(self)})
        try:
            await self._run_rounds(groupchat, messages[-1], sender)
        finally:
            _RUNNING.reset(token)
        if self._nested_in(sender):
            return True, content_str(groupchat.messages[-1].get("content")) if groupchat.messages else ""
        return True, None

    def _nested_in(self, sender: Agent | None) -> bool:
        """True when ``sender`` is another manager whose group has this manager as a member."""
        return (
            isinstance(sender, GroupChatManager)
            and sender is not self
            and any(a is self for a in sender.groupchat.agents)
        )

    async def _run_rounds(self, groupchat: GroupChat, message: Message, sender: Agent | None) -> None:
        silent = bool(self.silent) or SILENT.get()
        if groupchat.send_introductions and not self._introduced:
            self._introduced = True
            await self._broadcast({"role": "user", "content": groupchat.introductions_msg()}, None)
        speaker: Any = sender
        io = IOStream.get_default()
        for i in range(groupchat.max_round):
            self._last_speaker = speaker
            groupchat.append(message, speaker)
            await self._broadcast(message, speaker)
            if self._is_termination_msg(message) or i == groupchat.max_round - 1:
                break
            nxt = await groupchat.a_select_speaker(speaker, self)
            if nxt is None:
                break
            speaker = nxt
            if (sink := current_event_sink()) is not None:
                sink(SpeakerSelected(self.name, speaker.name))
            if not silent:
                io.print(f"\nNext speaker: {speaker.name}\n", flush=True)
            reply = await _peers.a_generate_reply(speaker, self)
            if reply is None:
                break
            if groupchat.enable_clear_history and "CLEAR HISTORY" in content_str(_content(reply)).upper():
                reply = self._without_clear_command(reply, groupchat)
            await _peers.a_send(speaker, reply, self, False, silent)
            report_sent(speaker, self)
            history = self._oai_messages[speaker]  # the reply the speaker just sent is its last entry
            message = history[-1] if history else {"content": ""}

    def _without_clear_command(self, reply: Any, groupchat: GroupChat) -> Any:
        message = {"content": reply} if isinstance(reply, str) else dict(reply)
        message["content"] = self.clear_agents_history(cast(Message, message), groupchat)
        return message["content"] if isinstance(reply, str) else message

    def clear_agents_history(self, reply: Message, groupchat: GroupChat) -> str:
        """Obey a human's ``clear history [agent] [n]`` in ``reply`` (``enable_clear_history``), as 0.2 does.

        ``clear history`` forgets every member's history and the group's; with an agent's name,
        only that agent's; with a number, keeps that many of the newest messages. A reply with
        tool responses keeps at least the message with the calls.

        Returns:
            The reply's text without the command.
        """
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

    def run_chat(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | None]:
        """Sync shell over `a_run_chat`."""
        return run_sync(self.a_run_chat(messages, sender, config))

    def resume(
        self, messages: str | Sequence[Message], remove_termination_string: str | None = None, silent: bool = False
    ) -> tuple[Any, Message]:
        """Load a saved transcript so the chat can go on from where it stopped.

        Continue it with ``agent.initiate_chat(manager, message=message, clear_history=False)``
        using the returned agent and message.

        Args:
            messages: the transcript: a list of messages each with the speaker's ``name`` (as in
                ``groupchat.messages``), or the same list as JSON.
            remove_termination_string: removed from the last message, so that it does not end the
                resumed chat at once.
            silent: accepted for AutoGen 0.2 compatibility.

        Returns:
            ``(last_speaker, last_message)``.

        Raises:
            ConfigError: bad JSON, an empty transcript, or a message whose ``name`` is not a member
                (a message without a name is the manager's, as in 0.2).
        """
        loaded = self._load_transcript(messages)
        groupchat = self._groupchat
        groupchat.reset()
        for agent in groupchat.agents:
            if isinstance(agent, ConversableAgent):
                agent.clear_history(self)
        for msg in loaded[:-1]:
            speaker = self._speaker_of(msg)
            groupchat.messages.append(dict(msg))  # type: ignore[arg-type]
            if speaker is not self:
                self.chat_messages[speaker].append({**msg, "role": "user"})
            for agent in groupchat.agents:
                if isinstance(agent, ConversableAgent):
                    role = "assistant" if agent is speaker else "user"
                    agent.chat_messages[self].append({**msg, "role": "tool" if msg.get("role") == "tool" else role})
        last: Message = {**loaded[-1]}
        content = last.get("content")
        if remove_termination_string and isinstance(content, str):
            last["content"] = content.replace(remove_termination_string, "").rstrip()
        self._last_speaker = self._speaker_of(last)
        return self._last_speaker, last

    async def a_resume(
        self, messages: str | Sequence[Message], remove_termination_string: str | None = None, silent: bool = False
    ) -> tuple[Any, Message]:
        """Async form of `resume` (which does no I/O); for AutoGen 0.2's ``a_resume``."""
        return self.resume(messages, remove_termination_string, silent)

    def messages_from_string(self, message_string: str) -> list[Message]:
        """The transcript that `messages_to_string` saved.

        Raises:
            ConfigError: the text is not JSON for a list of messages.
        """
        return self._load_transcript(message_string)

    def _speaker_of(self, message: Message) -> Any:
        """The member who said ``message``; the manager for its own name, the admin's, or no name."""
        name = message.get("name")
        if name is None or name in (self.name, self._groupchat.admin_name):
            return self
        return self._groupchat._member(name)

    def _load_transcript(self, messages: str | Sequence[Message]) -> list[Message]:
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError as e:
                raise ConfigError(f"The transcript is not valid JSON: {e.msg} at position {e.pos}.") from None
        if not isinstance(messages, list) or not messages:
            raise ConfigError("resume needs a non-empty list of messages (or that list as JSON).", key="messages")
        out: list[Message] = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise ConfigError(f"Message {i} of the transcript is not a dict.", key="messages")
            if "name" not in m:  # a ChatResult's history: unnamed messages are the manager's, as in 0.2
                m = {**m, "name": self.name}
            if not isinstance(m.get("name"), str):
                raise ConfigError(f"Message {i} of the transcript has a 'name' that is not a str.", key="messages")
            self._speaker_of(cast(Message, m))
            out.append(cast(Message, m))
        return out

    def messages_to_string(self, messages: Sequence[Message]) -> str:
        """The transcript as JSON, for saving and `resume`."""
        return json.dumps(list(messages))
