"""`GroupChatManager`: an agent that runs a `GroupChat` round by round.

Each round: the message is added to the history and broadcast to every other member, the next
speaker is chosen (`GroupChat.a_select_speaker`), and that speaker's reply becomes the next
message. The chat stops at a termination message, at ``max_round`` messages, when nobody may
speak, or when a speaker has no reply (the rounds are in `parley.agentchat._group_rounds`). A
manager can itself be a member of another group chat: asked by an outer manager, it runs its own
chat and answers with that chat's last message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from parley._sync import run_sync
from parley.agentchat._group_rounds import clear_agents_history, run_group_chat
from parley.agentchat._replies import REPLY_SHELL_ATTR
from parley.agentchat.agent import Agent
from parley.agentchat.conversable_agent import ConversableAgent
from parley.agentchat.groupchat import GroupChat
from parley.exceptions import ConfigError
from parley.llm.types import Message

__all__ = ["GroupChatManager"]


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
        ConfigError: ``groupchat`` is not a GroupChat. (An ``"auto"`` group whose manager has
            no model because ``llm_config`` was left out, not set to False, is refused at the
            first ``"auto"`` selection; see `GroupChat.a_select_speaker`.)
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
        # AutoGen 0.2. Leaving llm_config out is more often a mistake: the first "auto" selection
        # refuses it (0.2 builds such a manager too, so building it is not refused).
        self._auto_model_missing = kwargs.get("llm_config") is not False and self.client is None
        self._groupchat = groupchat
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
            for agent in self._groupchat.agents:
                self.clear_history(agent)
                if agent is not self and isinstance(agent, ConversableAgent):
                    agent.clear_history(self)

    async def a_run_chat(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | None]:
        """The manager's reply: run the group chat to its end (see `parley.agentchat._group_rounds`).

        ``self`` may be any `ConversableAgent`: AutoGen 0.2 code registers
        ``GroupChatManager.run_chat`` on a plain agent, with the group chat as ``config``.

        Returns:
            ``(True, None)``, which ends a two-agent chat with the initiator (the manager
            itself included: ``manager.initiate_chat(manager)`` runs the group chat once); when
            ``sender`` is another manager whose group has this manager as a member,
            ``(True, text)`` with this chat's last message. A manager asked again while its own
            chat runs (a member of its own group, or two groups nested in each other) answers
            ``(True, None)`` at once instead of starting a second run.

        Raises:
            ConfigError: no group chat: ``config`` is not a GroupChat and ``self`` is no manager.
        """
        groupchat = config if isinstance(config, GroupChat) else getattr(self, "_groupchat", None)
        if not isinstance(groupchat, GroupChat):
            raise ConfigError(
                "run_chat needs a GroupChat: register it with register_reply(..., config=groupchat).", key="config"
            )
        note = self._note_speaker if isinstance(self, GroupChatManager) else None
        return await run_group_chat(self, messages, sender, groupchat, note)

    def _note_speaker(self, speaker: Any) -> None:
        self._last_speaker = speaker

    def clear_agents_history(self, reply: Message, groupchat: GroupChat) -> str:
        """Obey a human's ``clear history [agent] [n]`` in ``reply`` (``enable_clear_history``), as 0.2 does.

        ``clear history`` forgets every member's history and the group's; with an agent's name,
        only that agent's; with a number, keeps that many of the newest messages. A reply with
        tool responses keeps at least the message with the calls.

        Returns:
            The reply's text without the command.
        """
        return clear_agents_history(reply, groupchat)

    def run_chat(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | None]:
        """Sync shell over `a_run_chat`; registering it registers `a_run_chat` (on any agent)."""
        return run_sync(GroupChatManager.a_run_chat(self, messages, sender, config))

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
        """The transcript that `messages_to_string` saved, as it was saved (`resume` checks the names).

        Raises:
            ConfigError: the text is not JSON for a list of messages.
        """
        return self._parse_transcript(message_string)

    def _speaker_of(self, message: Message) -> Any:
        """The member who said ``message``; the manager for its own name, the admin's, or no name."""
        name = message.get("name")
        if name is None or name in (self.name, self._groupchat.admin_name):
            return self
        return self._groupchat._member(name)

    @staticmethod
    def _parse_transcript(messages: str | Sequence[Message]) -> list[Message]:
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError as e:
                raise ConfigError(f"The transcript is not valid JSON: {e.msg} at position {e.pos}.") from None
        if not isinstance(messages, list) or not messages:
            raise ConfigError("A transcript is a non-empty list of messages (or that list as JSON).", key="messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise ConfigError(f"Message {i} of the transcript is not a dict.", key="messages")
        return messages

    def _load_transcript(self, messages: str | Sequence[Message]) -> list[Message]:
        out: list[Message] = []
        for i, m in enumerate(self._parse_transcript(messages)):
            if "name" not in m:  # a ChatResult's history: unnamed messages are the manager's, as in 0.2
                m = {**m, "name": self.name}
            if not isinstance(m.get("name"), str):
                raise ConfigError(f"Message {i} of the transcript has a 'name' that is not a str.", key="messages")
            self._speaker_of(m)
            out.append(m)
        return out

    def messages_to_string(self, messages: Sequence[Message] | None = None) -> str:
        """The transcript as JSON, for saving and `resume`.

        Args:
            messages: the messages to save; default: the group chat's history.
        """
        return json.dumps(list(self._groupchat.messages if messages is None else messages))


setattr(GroupChatManager.run_chat, REPLY_SHELL_ATTR, GroupChatManager.a_run_chat)
