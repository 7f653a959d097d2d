"""`Completion`: a model reply in the chat-completion shape, as AutoGen 0.2's ``OpenAIWrapper.create`` returns it.

AutoGen 0.2 code reads ``response.choices[0].message.content``, ``response.usage.total_tokens``
and ``response.cost``, and passes the object to ``extract_text_or_completion_object``. A
`Completion` answers all of these from parley's `ModelResponse`, whichever client produced it
(the OpenAI adapter, a custom client, a streamed or a cached reply), and keeps that response as
``response`` for code that wants parley's own view. It does not import the ``openai`` SDK.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.llm.types import Message, ModelResponse

__all__ = [
    "Completion",
    "CompletionChoice",
    "CompletionFunction",
    "CompletionMessage",
    "CompletionToolCall",
    "CompletionUsage",
    "extract_text_or_completion_object",
    "to_completion",
]


@dataclass(frozen=True)
class CompletionFunction:
    """The function half of a tool call: ``name`` and ``arguments`` (a JSON string)."""

    name: str
    arguments: str


@dataclass(frozen=True)
class CompletionToolCall:
    """One tool call, read as ``call.id``, ``call.type`` and ``call.function.name``/``.arguments``."""

    id: str
    function: CompletionFunction
    type: str = "function"


@dataclass(frozen=True)
class CompletionMessage:
    """The assistant message of a choice, with attributes as the openai SDK names them.

    Attributes:
        content: the text (None when the message only calls tools).
        role: always ``"assistant"``.
        tool_calls: the tool calls, or None.
        function_call: AutoGen 0.2's legacy function call (a `CompletionFunction`), or None.
    """

    content: Any
    role: str = "assistant"
    tool_calls: list[CompletionToolCall] | None = None
    function_call: CompletionFunction | None = None

    def model_dump(self) -> dict[str, Any]:
        """The message as a plain dict in the OpenAI wire shape (``None`` fields included)."""
        return {
            "content": self.content,
            "role": self.role,
            "function_call": dataclasses.asdict(self.function_call) if self.function_call else None,
            "tool_calls": [dataclasses.asdict(c) for c in self.tool_calls] if self.tool_calls else None,
        }


@dataclass(frozen=True)
class CompletionChoice:
    """One choice: ``index``, ``message`` and ``finish_reason`` (``"stop"`` or ``"tool_calls"``)."""

    index: int
    message: CompletionMessage
    finish_reason: str = "stop"


@dataclass(frozen=True)
class CompletionUsage:
    """Token counts: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """A reply in the chat-completion shape, with AutoGen 0.2's extra attributes.

    Attributes:
        id: an id for the reply (``"chatcmpl-parley-..."`` unless the server gave one).
        model: the model that answered.
        choices: the reply as one choice.
        usage: token counts.
        cost: the call's cost in US dollars (0.0 when the price is unknown).
        created: Unix time (seconds) the object was made.
        object: always ``"chat.completion"``.
        cached: True when the reply came from a cache.
        config_id: the index of the config entry that answered, when known.
        pass_filter: True: a reply ``filter_func`` rejected is never returned.
        response: parley's own `ModelResponse` for this reply.

    ``==`` compares the model, choices, usage and cost: a cached reply equals the one stored.
    """

    id: str = field(compare=False)
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    cost: float = 0.0
    created: int = field(default=0, compare=False)
    object: str = "chat.completion"
    cached: bool = field(default=False, compare=False)
    config_id: int | None = field(default=None, compare=False)
    pass_filter: bool = field(default=True, compare=False)
    response: ModelResponse | None = field(default=None, compare=False, repr=False)

    def model_dump(self) -> dict[str, Any]:
        """The completion as a plain dict in the OpenAI wire shape, plus ``cost``."""
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": c.index, "message": c.message.model_dump(), "finish_reason": c.finish_reason}
                for c in self.choices
            ],
            "usage": dataclasses.asdict(self.usage),
            "cost": self.cost,
        }


def _function(value: Any) -> CompletionFunction:
    return CompletionFunction(name=str(value.get("name", "")), arguments=str(value.get("arguments", "")))


def _message(message: Message) -> CompletionMessage:
    calls = [
        CompletionToolCall(id=c.get("id", ""), function=_function(c["function"]), type=c.get("type", "function"))
        for c in message.get("tool_calls") or ()
    ]
    legacy = message.get("function_call")
    return CompletionMessage(
        content=message.get("content"),
        tool_calls=calls or None,
        function_call=_function(legacy) if isinstance(legacy, dict) else None,
    )


def to_completion(response: ModelResponse, *, config_id: int | None = None) -> Completion:
    """The `Completion` for one `ModelResponse`.

    Args:
        response: the reply, from any client or the cache.
        config_id: the index of the config entry that answered, if known.

    Returns:
        A completion whose one choice holds the reply's message; its ``id`` is the server's
        when the raw reply has one.
    """
    message = _message(response.message)
    finish = "tool_calls" if message.tool_calls else ("function_call" if message.function_call else "stop")
    raw_id = getattr(response.raw, "id", None)
    usage = response.usage
    return Completion(
        id=raw_id if isinstance(raw_id, str) and raw_id else f"chatcmpl-parley-{id(response):x}",
        model=response.model,
        choices=[CompletionChoice(index=0, message=message, finish_reason=finish)],
        usage=CompletionUsage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
        cost=response.cost,
        created=int(time.time()),
        cached=response.cached,
        config_id=config_id,
        response=response,
    )


def extract_text_or_completion_object(response: Completion) -> Sequence[str | CompletionMessage | None]:
    """The text of each choice, or the whole message where it calls tools or a function (AutoGen 0.2).

    Args:
        response: what ``OpenAIWrapper.create`` returned.

    Returns:
        One item per choice: its content string (None when it has none), or its
        `CompletionMessage` when it has ``tool_calls`` or a ``function_call``.

    Raises:
        TypeError: ``response`` is not a `Completion`.
    """
    if not isinstance(response, Completion):
        raise TypeError(
            "extract_text_or_completion_object takes what OpenAIWrapper.create returned, "
            f"got {type(response).__name__}."
        )
    return [
        c.message if c.message.tool_calls or c.message.function_call else c.message.content for c in response.choices
    ]
