"""Message and response shapes shared by model clients and agents (the OpenAI chat shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

__all__ = [
    "FunctionCall",
    "ImagePart",
    "Message",
    "ModelResponse",
    "TextPart",
    "ToolCall",
    "ToolSpec",
    "Usage",
]


class FunctionCall(TypedDict):
    """The function half of a tool call: its name and its JSON-encoded arguments."""

    name: str
    arguments: str


class ToolCall(TypedDict):
    """One tool call in an assistant message."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class TextPart(TypedDict):
    """A text content part."""

    type: Literal["text"]
    text: str


class _ImageURL(TypedDict):
    url: str
    detail: NotRequired[Literal["auto", "low", "high"]]


class ImagePart(TypedDict):
    """An image content part; ``image_url.url`` is an ``https:`` or ``data:image/...;base64`` URL."""

    type: Literal["image_url"]
    image_url: _ImageURL


class Message(TypedDict, total=False):
    """A chat message in the OpenAI shape.

    Keys: ``role`` ("system", "user", "assistant" or "tool"), ``content`` (a string, a list of
    content parts, or None when the message only carries tool calls), ``name`` (the speaking
    agent), ``tool_calls``, ``tool_call_id`` (on a tool response), and parley's
    ``tool_responses`` (several tool responses carried in one agent message, as AutoGen 0.2 does),
    and AutoGen 0.2's legacy ``function_call`` (an assistant's call through the deprecated
    functions API; its answer is a message with ``role="function"`` and the function's ``name``),
    and 0.2's ``context`` (any dict a sender attaches: stored with the message, never sent to the
    model).
    """

    role: str
    content: str | list[TextPart | ImagePart] | None
    name: str
    tool_calls: list[ToolCall]
    tool_call_id: str
    tool_responses: list[Message]
    function_call: FunctionCall
    context: dict[str, Any]


class ToolSpec(TypedDict):
    """A tool as the OpenAI tools API describes it: ``{"type": "function", "function": {...}}``."""

    type: Literal["function"]
    function: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call.

    Attributes:
        prompt_tokens: tokens in the request.
        completion_tokens: tokens in the reply.
        total_tokens: their sum, as the server reported it.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


NO_USAGE = Usage()
"""Zero usage: the default of `ModelResponse.usage` (frozen, so one instance is shared)."""


@dataclass(frozen=True)
class ModelResponse:
    """What a `ModelClient` returns for one call.

    Attributes:
        message: the assistant message (role "assistant", content and/or tool_calls).
        usage: token counts.
        cost: the call's cost in US dollars (0.0 when the price is unknown).
        model: the model that answered, as the server named it.
        cached: True when the reply came from a cache: it counts in total usage, not actual usage.
        raw: the client's raw response object, for callers that need more (may be None).
        parsed: with a pydantic model class as ``response_format``, the reply's content parsed
            into an instance of it (see `parley.llm.structured`); else None.
    """

    message: Message
    usage: Usage = NO_USAGE  # a shared frozen value: cheaper than a factory on every response
    cost: float = 0.0
    model: str = ""
    cached: bool = False
    raw: Any = None
    parsed: Any = None

    def __init__(
        self,
        message: Message,
        usage: Usage = NO_USAGE,
        cost: float = 0.0,
        model: str = "",
        cached: bool = False,
        raw: Any = None,
        parsed: Any = None,
    ) -> None:
        # The generated frozen __init__ makes one object.__setattr__ call per field; one response
        # is made per model call, so fill the instance dict at once (half the cost).
        self.__dict__.update(
            message=message, usage=usage, cost=cost, model=model, cached=cached, raw=raw, parsed=parsed
        )
