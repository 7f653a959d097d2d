"""The typed events of a run, in the order they happen.

Every event carries ``run_id``, ``session_id``, ``sequence`` (0, 1, 2 ... within the run) and
``timestamp`` (seconds since the epoch). ``type`` names the event in JSON (`RunEvent.to_dict`,
`event_from_dict`), which is how run records store them. The console display, run records and
any UI are built on this one stream.

===========================  =====================================================
``run_started``              `RunStarted`: the target and the task
``message``                  `MessageEvent`: a message sent (sender, recipient, content)
``model_tokens``             `ModelTokensEvent`: a text delta of a streamed model reply
``speaker_selected``         `SpeakerSelectedEvent`: a group chat chose who speaks next
``tool_call``                `ToolCallEvent`: an agent runs a tool
``tool_result``              `ToolResultEvent`: the tool's result text
``code_execution_started``   `CodeExecutionStartedEvent`: an agent starts running code blocks
``code_output``              `CodeOutputEvent`: output of the running code, as it arrives
``code_execution_finished``  `CodeExecutionFinishedEvent`: the blocks ended
``usage``                    `UsageEvent`: one model call's tokens and cost
``run_finished``             `RunFinished`: the `RunResult`; always the last event
===========================  =====================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from parley.runtime.result import RunResult

__all__ = [
    "CodeExecutionFinishedEvent",
    "CodeExecutionStartedEvent",
    "CodeOutputEvent",
    "MessageEvent",
    "ModelTokensEvent",
    "RunEvent",
    "RunFinished",
    "RunStarted",
    "SpeakerSelectedEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "UsageEvent",
    "event_from_dict",
]


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    """What every event carries.

    Attributes:
        run_id: the run's id.
        session_id: the session the run belongs to.
        sequence: the event's number in its run, from 0, without gaps.
        timestamp: when it happened, in seconds since the epoch.
    """

    type: ClassVar[str] = "event"
    # Fields JSON keeps as their value's own to_dict(), each with what rebuilds the value from it.
    _nested: ClassVar[Mapping[str, Callable[[dict[str, Any]], Any]]] = {}
    run_id: str
    session_id: str
    sequence: int
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data: its ``type``, then its fields in order (nested objects as dicts)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in self._nested:
            data[name] = data[name].to_dict()
        return {"type": self.type, **data}


@dataclass(frozen=True, kw_only=True)
class RunStarted(RunEvent):
    """The run started: ``target`` (a team or agent id) was given ``task``."""

    type: ClassVar[str] = "run_started"
    target: str
    task: str


@dataclass(frozen=True, kw_only=True)
class MessageEvent(RunEvent):
    """``sender`` sent a message to ``recipient``; ``content`` is its text ("" for tool calls only).

    Attributes:
        message: the whole message as the sender stored it (role, content, name, tool_calls ...).
    """

    type: ClassVar[str] = "message"
    sender: str
    recipient: str
    content: str
    message: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ModelTokensEvent(RunEvent):
    """A text delta of ``agent``'s streamed model reply (with ``stream: true`` in its llm_options)."""

    type: ClassVar[str] = "model_tokens"
    agent: str
    text: str


@dataclass(frozen=True, kw_only=True)
class SpeakerSelectedEvent(RunEvent):
    """A group chat's ``manager`` chose ``speaker``."""

    type: ClassVar[str] = "speaker_selected"
    manager: str
    speaker: str


@dataclass(frozen=True, kw_only=True)
class ToolCallEvent(RunEvent):
    """``agent`` runs tool ``name`` with ``arguments`` (the model's JSON text) for ``call_id``."""

    type: ClassVar[str] = "tool_call"
    agent: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class ToolResultEvent(RunEvent):
    """The text the model will read as the result of ``call_id``."""

    type: ClassVar[str] = "tool_result"
    agent: str
    call_id: str
    name: str
    content: str


@dataclass(frozen=True, kw_only=True)
class CodeExecutionStartedEvent(RunEvent):
    """``agent`` starts running ``blocks``: ``[[language, code], ...]`` in order."""

    type: ClassVar[str] = "code_execution_started"
    agent: str
    blocks: list[list[str]]


@dataclass(frozen=True, kw_only=True)
class CodeOutputEvent(RunEvent):
    """A piece of output of ``agent``'s running code, as it arrived (before the blocks end)."""

    type: ClassVar[str] = "code_output"
    agent: str
    text: str


@dataclass(frozen=True, kw_only=True)
class CodeExecutionFinishedEvent(RunEvent):
    """``agent``'s blocks ended with ``exit_code``; ``output`` is their output under the budget."""

    type: ClassVar[str] = "code_execution_finished"
    agent: str
    exit_code: int
    output: str


@dataclass(frozen=True, kw_only=True)
class UsageEvent(RunEvent):
    """One model call of ``agent``: tokens, and its cost in US dollars (0 when served from a cache)."""

    type: ClassVar[str] = "usage"
    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    cached: bool


@dataclass(frozen=True, kw_only=True)
class RunFinished(RunEvent):
    """The run ended; ``result`` says how. Always the last event of a run."""

    type: ClassVar[str] = "run_finished"
    _nested: ClassVar[Mapping[str, Callable[[dict[str, Any]], Any]]] = {"result": RunResult.from_dict}
    result: RunResult


_TYPES: dict[str, type[RunEvent]] = {
    cls.type: cls
    for cls in (
        RunStarted, MessageEvent, ModelTokensEvent, SpeakerSelectedEvent, ToolCallEvent, ToolResultEvent,
        CodeExecutionStartedEvent, CodeOutputEvent, CodeExecutionFinishedEvent, UsageEvent, RunFinished,
    )
}  # fmt: skip


def event_from_dict(data: dict[str, Any]) -> RunEvent:
    """Rebuild an event from `RunEvent.to_dict`'s data (as read from a run record).

    Raises:
        ValueError: an unknown ``type``, or fields that do not fit it.
    """
    fields = dict(data)
    kind = fields.pop("type", None)
    cls = _TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}; known: {', '.join(sorted(_TYPES))}")
    for name, rebuild in cls._nested.items():
        fields[name] = rebuild(fields[name])
    try:
        return cls(**fields)
    except TypeError as e:
        raise ValueError(f"a {kind} event with fields that do not fit: {e}") from None
