"""Chat events: what happens in a chat, handed to a sink as it happens.

Chats and agents call the sink of the running context at their edges: a message sent, a speaker
selected, tool calls and their results, a code execution starting and finishing (with its output
as it arrives, through `parley.coding.live_output`), model tokens as they stream, and the usage
of each model call. The sink is a context variable set with `send_events_to`; concurrent chats
each report to their own. With no sink set, each edge costs one context-variable read.

This is the mechanism below `parley.runtime`'s typed run events; the runtime numbers, stamps
and forwards what it receives here. Events are plain frozen dataclasses.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from parley.llm.types import Message

__all__ = [
    "ChatEvent",
    "ChatEventSink",
    "CodeExecutionFinished",
    "CodeExecutionStarted",
    "CodeOutput",
    "MessageSent",
    "ModelTokens",
    "ModelUsage",
    "SpeakerSelected",
    "ToolCalled",
    "ToolResult",
    "current_event_sink",
    "report_sent",
    "send_events_to",
]


@dataclass(frozen=True, slots=True)
class MessageSent:
    """``sender`` sent ``message`` (as the sender stored it) to ``recipient``."""

    sender: str
    recipient: str
    message: Message


@dataclass(frozen=True, slots=True)
class SpeakerSelected:
    """A group chat's manager chose ``speaker`` to speak next."""

    manager: str
    speaker: str


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """``agent`` runs tool ``name`` for call ``call_id``; ``arguments`` is the model's JSON text."""

    agent: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The text of tool call ``call_id``'s result, as the model will read it."""

    agent: str
    call_id: str
    name: str
    content: str


@dataclass(frozen=True, slots=True)
class CodeExecutionStarted:
    """``agent`` starts running ``blocks`` (their languages and code, in order)."""

    agent: str
    blocks: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CodeOutput:
    """A piece of output of ``agent``'s running code, as it arrived."""

    agent: str
    text: str


@dataclass(frozen=True, slots=True)
class CodeExecutionFinished:
    """``agent``'s blocks ended with ``exit_code`` and ``output`` (after the output budget)."""

    agent: str
    exit_code: int
    output: str


@dataclass(frozen=True, slots=True)
class ModelTokens:
    """A text delta of ``agent``'s streamed model reply."""

    agent: str
    text: str


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """One model call of ``agent``: tokens and cost (US dollars); ``cached`` replies cost nothing new."""

    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    cached: bool


ChatEvent = (
    MessageSent
    | SpeakerSelected
    | ToolCalled
    | ToolResult
    | CodeExecutionStarted
    | CodeOutput
    | CodeExecutionFinished
    | ModelTokens
    | ModelUsage
)
"""Any chat event."""

ChatEventSink = Callable[[ChatEvent], Any]
"""Called with each chat event, in order, on the event loop's thread; it must not block."""

_sink: contextvars.ContextVar[ChatEventSink | None] = contextvars.ContextVar("parley_chat_events", default=None)


@contextmanager
def send_events_to(sink: ChatEventSink | None) -> Iterator[None]:
    """Send the events of chats run inside the ``with`` block to ``sink``.

    Args:
        sink: called with each event; None stops reporting. An exception it raises propagates
            into the chat (a sink may stop a chat that way, e.g. by cancelling its task first).

    Only this context (this task and the tasks it starts) is affected.
    """
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def current_event_sink() -> ChatEventSink | None:
    """The sink set by the innermost `send_events_to` of this context, or None."""
    return _sink.get()


sink_now: Callable[[], ChatEventSink | None] = _sink.get
"""`current_event_sink` without a Python frame (``ContextVar.get`` itself), for the per-message paths."""


def report_sent(sender: Any, recipient: Any) -> None:
    """Report the message ``sender`` just sent to ``recipient`` (the last one it stored), if a sink is set."""
    sink = _sink.get()
    if sink is None:
        return
    stored = getattr(sender, "chat_messages", {}).get(recipient) or ()
    message: Message = stored[-1] if stored else {"content": None}
    sink(MessageSent(getattr(sender, "name", "?"), getattr(recipient, "name", "?"), message))
