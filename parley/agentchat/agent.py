"""The agent Protocols: anything with these members can take part in a parley chat.

They are runtime-checkable so users can ask ``isinstance(x, Agent)``; parley itself never does
that on a hot path (such a check costs 11-14 µs on Python 3.11), only once at registration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from parley.llm.types import Message

__all__ = ["Agent", "LLMAgent"]


@runtime_checkable
class Agent(Protocol):
    """An agent that can send, receive and reply to messages (AutoGen 0.2's ``Agent``)."""

    @property
    def name(self) -> str:
        """The agent's name, unique within a chat."""
        ...

    @property
    def description(self) -> str:
        """What the agent does, as other agents (a group chat's selector) are told."""
        ...

    def send(self, message: str | Message, recipient: Agent, request_reply: bool | None = None) -> None:
        """Send ``message`` to ``recipient``."""
        ...

    async def a_send(self, message: str | Message, recipient: Agent, request_reply: bool | None = None) -> None:
        """Async form of `send`."""
        ...

    def receive(self, message: str | Message, sender: Agent, request_reply: bool | None = None) -> None:
        """Receive ``message`` from ``sender``; reply when asked to."""
        ...

    async def a_receive(self, message: str | Message, sender: Agent, request_reply: bool | None = None) -> None:
        """Async form of `receive`."""
        ...

    def generate_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, **kwargs: Any
    ) -> str | Message | None:
        """Return a reply to ``messages`` (default: the conversation with ``sender``), or None."""
        ...

    async def a_generate_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, **kwargs: Any
    ) -> str | Message | None:
        """Async form of `generate_reply`."""
        ...


@runtime_checkable
class LLMAgent(Agent, Protocol):
    """An `Agent` driven by a language model, with a system message that capabilities extend."""

    @property
    def system_message(self) -> str:
        """The system message sent first in every model call."""
        ...

    def update_system_message(self, system_message: str) -> None:
        """Replace the system message."""
        ...
