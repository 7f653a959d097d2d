"""The conversation state of `ConversableAgent`: its messages, auto-reply counters and limits."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from parley.exceptions import NoConversationError

if TYPE_CHECKING:
    from parley.agentchat._replies import ReplyEntry
    from parley.agentchat.agent import Agent
    from parley.llm.types import Message

__all__ = ["ConversationStateMixin"]


class ConversationStateMixin:
    """Messages per conversation, auto-reply counters and limits, and `reset`."""

    _name: str
    _oai_messages: defaultdict[Any, list[Message]]
    _tool_scan: dict[Any, tuple[int, bool]]
    _auto_reply_counter: defaultdict[Any, int]
    _max_auto_reply_dict: defaultdict[Any, int]
    _max_consecutive_auto_reply: int
    _reply_func_list: list[ReplyEntry]
    reply_at_receive: defaultdict[Any, bool]

    @property
    def chat_messages(self) -> dict[Any, list[Message]]:
        """Every conversation, ``{other_agent: [messages]}``, oldest message first."""
        return self._oai_messages

    def chat_messages_for_summary(self, agent: Agent) -> list[Message]:
        """The messages of the conversation with ``agent``."""
        return self._oai_messages[agent]

    def last_message(self, agent: Agent | None = None) -> Message | None:
        """The last message exchanged with ``agent``.

        Args:
            agent: the other agent; may be omitted when there is exactly one conversation.

        Returns:
            The message, or None when there is no conversation yet.

        Raises:
            ValueError: ``agent`` is omitted while there are several conversations.
            NoConversationError: this agent never talked to ``agent`` (a KeyError, as in 0.2).
        """
        if agent is None:
            if not self._oai_messages:
                return None
            if len(self._oai_messages) > 1:
                raise ValueError(f"{self._name} has several conversations; pass the agent to last_message().")
            msgs = next(iter(self._oai_messages.values()))
            return msgs[-1] if msgs else None
        if agent not in self._oai_messages:
            raise NoConversationError(
                f"{self._name} has no conversation with {getattr(agent, 'name', agent)!r}; "
                f"it talked with: {', '.join(repr(getattr(a, 'name', a)) for a in self._oai_messages) or 'nobody'}."
            )
        msgs = self._oai_messages[agent]
        return msgs[-1] if msgs else None

    def clear_history(self, recipient: Agent | None = None, nr_messages_to_preserve: int | None = None) -> None:
        """Forget the conversation with ``recipient`` (all conversations when None).

        Args:
            recipient: the other agent, or None for all.
            nr_messages_to_preserve: keep this many of the newest messages.
        """
        targets = list(self._oai_messages) if recipient is None else [recipient]
        self._tool_scan.clear()
        for t in targets:
            msgs = self._oai_messages[t]
            keep = msgs[-nr_messages_to_preserve:] if nr_messages_to_preserve else []
            msgs[:] = keep

    def reset_consecutive_auto_reply_counter(self, sender: Agent | None = None) -> None:
        """Reset the auto-reply counter for ``sender`` (all senders when None)."""
        if sender is None:
            self._auto_reply_counter.clear()
        else:
            self._auto_reply_counter[sender] = 0

    def stop_reply_at_receive(self, sender: Agent | None = None) -> None:
        """Do not reply automatically when receiving from ``sender`` (all when None)."""
        if sender is None:
            self.reply_at_receive.clear()
        else:
            self.reply_at_receive[sender] = False

    def reset(self) -> None:
        """Forget every conversation, counter and reply-function config."""
        self.clear_history()
        self.reset_consecutive_auto_reply_counter()
        self.stop_reply_at_receive()
        for e in self._reply_func_list:
            if e.reset_config is not None:
                e.reset_config(e.config)
            else:
                e.config = e.init_config

    def max_consecutive_auto_reply(self, sender: Agent | None = None) -> int:
        """The auto-reply limit for ``sender`` (the default limit when None)."""
        return self._max_consecutive_auto_reply if sender is None else self._max_auto_reply_dict[sender]

    def update_max_consecutive_auto_reply(self, value: int, sender: Agent | None = None) -> None:
        """Set the auto-reply limit for ``sender``, or for every sender when None."""
        if sender is None:
            self._max_consecutive_auto_reply = value
            for k in self._max_auto_reply_dict:
                self._max_auto_reply_dict[k] = value
        else:
            self._max_auto_reply_dict[sender] = value
