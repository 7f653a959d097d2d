"""In-process model clients for tests: answers from a list, or from a function. No network.

Both implement `parley.llm.ModelClient`, take replies in the same shapes as the scripted HTTP
server (see `parley.testing._script`) and report the same approximate token usage
(``len(text) // 4 + 1`` tokens per message), so a test gives the same transcript whichever
double it uses.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from parley.exceptions import ConfigError, ModelResponseError
from parley.llm._errors import error_class_for_status
from parley.llm.streaming import current_sink
from parley.llm.types import Message, ModelResponse, ToolSpec, Usage
from parley.testing._script import Reply, Script, ScriptExhaustedError, parse_reply, usage_for
from parley.testing._wire import split_text

__all__ = ["FunctionModelClient", "ModelFunction", "ScriptedModelClient"]

ModelFunction = Callable[[list[Message], list[ToolSpec] | None, dict[str, Any]], Any | Awaitable[Any]]
"""``fn(messages, tools, params)``, sync or async, returning a reply (str / dict) or a `ModelResponse`."""


async def _respond(
    reply: Reply, messages: Sequence[Message], *, model: str, cost: float, stream: bool = False
) -> ModelResponse:
    """Turn a parsed reply into a `ModelResponse`, honouring ``delay`` and ``error`` faults.

    With ``stream`` the text goes to the token sink (`parley.llm.streaming`) in the same pieces
    the scripted server streams it in.
    """
    config = {"model": model}
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.error is not None:
        status, text, _ = reply.error
        raise error_class_for_status(status)(f"Scripted error {status}: {text}", config=config, status_code=status)
    if reply.content is None and not reply.tool_calls:
        raise ModelResponseError("The reply has no content and no tool calls.", config=config)
    message: Message = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [dict(call) for call in reply.tool_calls]  # type: ignore[misc]
    sink = current_sink() if stream else None
    if sink is not None and reply.content:
        for piece in split_text(reply.content):
            sink(piece)
    prompt, completion = usage_for(messages, reply)
    return ModelResponse(message=message, usage=Usage(prompt, completion, prompt + completion), cost=cost, model=model)


class ScriptedModelClient:
    """Answers each call with the next reply from a list.

    Args:
        replies: the replies, in order: a str (assistant text), ``{"content": ..., "tool_calls":
            [...]}``, ``{"error": {"status": ..., "message": ...}}`` (raised as the matching
            `parley.exceptions.ModelError` subclass), each optionally with ``"delay": seconds``.
        model: the model name reported in each response.
        cost_per_call: the cost, in US dollars, reported for each call.

    Raises:
        ConfigError: a reply is malformed, or is a ``raw``/``raw_json``/``raw_events`` fault,
            which only means something on the wire (use `ScriptedOpenAIServer`). The wire
            faults ``stream_pause``, ``stream_cut``, ``keep_alive`` and ``trickle`` are accepted
            and have no effect here.

    Attributes:
        calls: the messages each call received, oldest call first.
    """

    def __init__(self, replies: Sequence[Any], *, model: str = "scripted", cost_per_call: float = 0.0) -> None:
        if callable(replies):
            raise ConfigError("ScriptedModelClient takes a list of replies; for a function use FunctionModelClient.")
        self._script = Script(replies)
        for index, reply in enumerate(replies):
            parsed = parse_reply(reply, index)
            if parsed.raw is not None or parsed.raw_json is not None or parsed.raw_events is not None:
                raise ConfigError(
                    f"Scripted reply #{index + 1} is a raw HTTP body, meaningful only on the wire; "
                    "use parley.testing.ScriptedOpenAIServer for it."
                )
        self._count = len(replies)
        self.model = model
        self.cost_per_call = cost_per_call
        self.calls: list[list[Message]] = []

    def __repr__(self) -> str:
        return f"ScriptedModelClient(model={self.model!r}, used={self._script.used}/{self._count})"

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Answer with the next scripted reply.

        Args:
            messages: the conversation; recorded in `calls`.
            tools: ignored: the script alone decides the reply.
            params: only ``stream`` is read: when true, the text goes to the token sink in pieces.

        Returns:
            The reply with approximate usage and ``cost_per_call``.

        Raises:
            ModelResponseError: the script is exhausted, or the reply has neither content nor tool calls.
            ModelError: the reply is a scripted ``error`` (the subclass follows the status).
        """
        self.calls.append(list(messages))
        try:
            reply = self._script.next({"messages": list(messages)})
        except ScriptExhaustedError:
            raise ModelResponseError(
                f"ScriptedModelClient: script exhausted after {self._count} replies; "
                f"call #{len(self.calls)} has no reply. Add replies to the script.",
                config={"model": self.model},
            ) from None
        stream = bool(params and params.get("stream"))
        return await _respond(reply, messages, model=self.model, cost=self.cost_per_call, stream=stream)


class FunctionModelClient:
    """Answers each call by calling a function.

    Args:
        fn: ``fn(messages, tools, params)``, sync or async. It returns a reply in the scripted
            shapes (str, ``{"content", "tool_calls"}``, an ``error`` or ``delay`` fault) or a full
            `ModelResponse`, returned as is. Exceptions it raises propagate unchanged.
        model: the model name reported in each response built from a reply.

    Attributes:
        calls: the messages each call received, oldest call first.
    """

    def __init__(self, fn: ModelFunction, *, model: str = "function") -> None:
        if not callable(fn):
            raise ConfigError(f"FunctionModelClient needs a callable fn(messages, tools, params), got {fn!r}.")
        self._fn = fn
        self.model = model
        self.calls: list[list[Message]] = []

    def __repr__(self) -> str:
        return f"FunctionModelClient({getattr(self._fn, '__qualname__', self._fn)!r}, model={self.model!r})"

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Call ``fn`` and return its answer.

        Args:
            messages: the conversation; recorded in `calls` and passed to ``fn`` as a list.
            tools: passed to ``fn`` as a list, or None.
            params: passed to ``fn`` as a dict (empty when None); when ``stream`` is true, the
                text of a reply (not of a `ModelResponse`) goes to the token sink in pieces.

        Returns:
            ``fn``'s `ModelResponse`, or one built from its reply with approximate usage and cost 0.

        Raises:
            ModelResponseError: ``fn`` returned something that is not a reply, or a reply with
                neither content nor tool calls.
            ModelError: ``fn`` returned an ``error`` fault.
        """
        history = list(messages)
        self.calls.append(history)
        result = self._fn(history, list(tools) if tools is not None else None, dict(params or {}))
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ModelResponse):
            return result
        try:
            reply = parse_reply(result, len(self.calls) - 1)
        except ConfigError as exc:
            raise ModelResponseError(
                f"FunctionModelClient: fn returned a bad reply. {exc}", config={"model": self.model}
            ) from None
        return await _respond(reply, messages, model=self.model, cost=0.0, stream=bool(params and params.get("stream")))
