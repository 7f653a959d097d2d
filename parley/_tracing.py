"""OpenTelemetry spans for chats, agent turns, model calls, tool calls and code execution.

parley takes its tracer from the OpenTelemetry API's global tracer provider, as instrumented
libraries do (the ``otel`` extra installs ``opentelemetry-api``). When the application has set
a provider (``opentelemetry.trace.set_tracer_provider(...)``), spans are recorded with no further
switch. When it has set none, or the API is not installed, or the application never imported
``opentelemetry.trace``, each hook costs one dictionary lookup: parley never imports
OpenTelemetry itself.

Spans, parent first (the names and attributes follow the OpenTelemetry GenAI semantic
conventions where they define one):

- ``parley.chat {sender} -> {recipient}``: one two-agent chat (``initiate_chat``), with
  ``parley.chat.sender`` and ``parley.chat.recipient``.
- ``invoke_agent {name}``: one agent turn (``generate_reply``), with ``gen_ai.operation.name``
  ``"invoke_agent"`` and ``gen_ai.agent.name``.
- ``chat {model}``: one model request to one config entry, with ``gen_ai.operation.name``
  ``"chat"``, ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.response.model``,
  ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, ``server.address`` and
  ``server.port`` (when the entry names a ``base_url``), and ``error.type`` when it failed.
- ``execute_tool {name}``: one tool call, with ``gen_ai.operation.name`` ``"execute_tool"``,
  ``gen_ai.tool.name``, ``gen_ai.tool.call.id`` and ``gen_ai.tool.type`` ``"function"``.
- ``execute_code {executor}``: one executor call, with ``parley.code.executor`` (its class name),
  ``parley.code.language`` (the blocks' languages, comma-separated), ``parley.code.blocks``,
  ``parley.code.exit_code``, ``parley.code.timed_out`` and ``parley.code.duration_ms``.

No message content, tool arguments or code output is recorded unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true``: then model spans get
``gen_ai.input.messages`` and ``gen_ai.output.messages``, tool spans
``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``, and code spans
``parley.code.output`` (all JSON or text).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from typing_extensions import ParamSpec

from parley._logging import describe_entry, get_logger

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "capture_content",
    "end_turn_span",
    "traced_chat",
    "traced_code",
    "traced_model_call",
    "traced_tool",
    "turn_span",
]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_llm_log = get_logger("parley.llm")
_chat_log = get_logger("parley.agentchat")
_code_log = get_logger("parley.coding")

_R = TypeVar("_R")
_P = ParamSpec("_P")
_Async = Callable[_P, Coroutine[Any, Any, _R]]
_cached: tuple[object, Any] | None = None  # (provider, tracer)


def _tracer() -> Any:
    """The tracer from the global provider, or None when no provider is set (the fast path)."""
    global _cached
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # the application never imported OpenTelemetry: it cannot have set a provider
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    if _cached is None or _cached[0] is not provider:
        from parley import __version__

        _cached = (provider, provider.get_tracer("parley", __version__))
    return _cached[1]


def capture_content() -> bool:
    """Whether spans may record message content (`CAPTURE_CONTENT_ENV` is ``true`` or ``1``)."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("true", "1")


@contextmanager
def _span(tracer: Any, name: str, attributes: Mapping[str, Any]) -> Iterator[Any]:
    """A current span that records an escaping exception as ``error.type`` and an error status."""
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span(name, attributes=dict(attributes), record_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))
            raise


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _name(agent: Any) -> str:
    return str(getattr(agent, "name", None) or type(agent).__name__)


# -- chats and turns -------------------------------------------------------------------------------


def traced_chat(fn: _Async[_P, _R]) -> _Async[_P, _R]:
    """Decorate ``run_two_agent_chat(sender, recipient, ...)``: a ``parley.chat`` span around it."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        sender, recipient = args[0], args[1]
        _chat_log.debug("chat %s -> %s: started", _name(sender), _name(recipient))
        tracer = _tracer()
        if tracer is None:
            result = await fn(*args, **kwargs)
        else:
            attributes = {"parley.chat.sender": _name(sender), "parley.chat.recipient": _name(recipient)}
            with _span(tracer, f"parley.chat {_name(sender)} -> {_name(recipient)}", attributes):
                result = await fn(*args, **kwargs)
        _chat_log.debug("chat %s -> %s: ended", _name(sender), _name(recipient))
        return result

    return wrapper


def turn_span(agent: Any) -> AbstractContextManager[Any] | None:
    """The entered ``invoke_agent`` span of one turn of ``agent`` (``a_generate_reply``), or None.

    None, at the cost of one dictionary lookup, when nothing is traced. The turn runs in the
    caller's own coroutine (a decorator's wrapper coroutine costs, once per message, about what
    the whole reply pipeline does), which closes the span with `end_turn_span`.
    """
    if "opentelemetry.trace" not in sys.modules:  # `_tracer`'s first test, without its call
        return None
    tracer = _tracer()
    if tracer is None:
        return None
    name = _name(agent)
    span = _span(tracer, f"invoke_agent {name}", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name})
    span.__enter__()
    return span


def end_turn_span(span: AbstractContextManager[Any], error: BaseException | None) -> None:
    """Close a span that `turn_span` entered; ``error`` is the exception that ends the turn, if any."""
    if error is None:
        span.__exit__(None, None, None)
    else:
        span.__exit__(type(error), error, error.__traceback__)


# -- model calls ------------------------------------------------------------------------------------


def _model_attributes(entry: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    model = str((params or {}).get("model") or entry.get("model") or "")
    custom = entry.get("model_client")
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        # a ModelClient of the user's: its class names the provider; else the OpenAI wire protocol
        "gen_ai.provider.name": type(custom).__name__ if custom is not None else str(entry.get("api_type") or "openai"),
        "gen_ai.request.model": model,
    }
    base_url = entry.get("base_url")
    if isinstance(base_url, str) and base_url:
        parts = urlsplit(base_url)
        if parts.hostname:
            attributes["server.address"] = parts.hostname
        if parts.port:
            attributes["server.port"] = parts.port
    merged = {**entry, **(params or {})}
    for key, attribute in (("temperature", "gen_ai.request.temperature"), ("max_tokens", "gen_ai.request.max_tokens")):
        value = merged.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    return attributes


def traced_model_call(
    client: Any,
    entry: Mapping[str, Any],
    messages: Sequence[Any],
    tools: Sequence[Any] | None,
    params: Mapping[str, Any] | None,
) -> Awaitable[Any]:
    """``client.create(messages, tools=tools, params=params)``, to await: logged and in a ``chat`` span.

    With no tracer and the ``parley.llm`` logger below INFO (nothing would be recorded) this is
    the client's own awaitable, with no wrapper around it.

    Args:
        client: a `parley.llm.ModelClient`.
        entry: its config entry (only redacted parts of it are logged or traced).
        messages: the request's messages (traced only when content capture is on).
        tools: the request's tools, or None.
        params: the call's parameters, or None.

    Returns:
        The client's `parley.llm.types.ModelResponse`.

    Raises:
        Exception: whatever ``client.create`` raises, unchanged (logged at INFO first).
    """
    if not _llm_log.isEnabledFor(logging.INFO) and ("opentelemetry.trace" not in sys.modules or _tracer() is None):
        return client.create(messages, tools=tools, params=params)  # type: ignore[no-any-return]
    return _traced_model_call(client, entry, messages, tools, params)


async def _traced_model_call(
    client: Any,
    entry: Mapping[str, Any],
    messages: Sequence[Any],
    tools: Sequence[Any] | None,
    params: Mapping[str, Any] | None,
) -> Any:
    debug = _llm_log.isEnabledFor(logging.DEBUG)  # describing the entry costs more than the call itself
    if debug:
        n_tools = len(tools or ())
        _llm_log.debug("model request: %s, %d message(s), %d tool(s)", describe_entry(entry), len(messages), n_tools)
    tracer = _tracer()
    try:
        if tracer is None:
            response = await client.create(messages, tools=tools, params=params)
        else:
            attributes = _model_attributes(entry, params)
            with _span(tracer, f"chat {attributes['gen_ai.request.model']}".rstrip(), attributes) as span:
                if capture_content():
                    span.set_attribute("gen_ai.input.messages", _json(list(messages)))
                response = await client.create(messages, tools=tools, params=params)
                _record_response(span, response)
    except Exception as exc:
        _llm_log.info("model request failed: %s: %s: %s", describe_entry(entry), type(exc).__name__, exc)
        raise
    if debug:
        usage = getattr(response, "usage", None)
        _llm_log.debug(
            "model reply: %s, %s input and %s output tokens",
            describe_entry(entry),
            getattr(usage, "prompt_tokens", "?"),
            getattr(usage, "completion_tokens", "?"),
        )
    return response


def _record_response(span: Any, response: Any) -> None:
    usage = getattr(response, "usage", None)
    if getattr(response, "model", ""):
        span.set_attribute("gen_ai.response.model", str(response.model))
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", int(usage.prompt_tokens))
        span.set_attribute("gen_ai.usage.output_tokens", int(usage.completion_tokens))
    message = getattr(response, "message", None) or {}
    reason = "tool_calls" if message.get("tool_calls") else "stop"
    span.set_attribute("gen_ai.response.finish_reasons", (reason,))
    if capture_content():
        span.set_attribute("gen_ai.output.messages", _json([message]))


# -- tools and code -------------------------------------------------------------------------------


def traced_tool(fn: _Async[_P, str]) -> _Async[_P, str]:
    """Decorate ``_one(call, functions)``, which runs one tool call: an ``execute_tool`` span."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> str:
        call: Mapping[str, Any] = args[0]  # type: ignore[assignment]
        name = str((call.get("function") or {}).get("name", ""))
        _chat_log.debug("tool call %s (id %s)", name, call.get("id", ""))
        tracer = _tracer()
        if tracer is None:
            return await fn(*args, **kwargs)
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": str(call.get("id", "")),
            "gen_ai.tool.type": "function",
        }
        with _span(tracer, f"execute_tool {name}", attributes) as span:
            if capture_content():
                span.set_attribute("gen_ai.tool.call.arguments", str((call.get("function") or {}).get("arguments")))
            result = await fn(*args, **kwargs)
            if result.startswith("Error: "):  # a tool's failure is a result for the model, not an exception
                span.set_attribute("error.type", "tool_error")
            if capture_content():
                span.set_attribute("gen_ai.tool.call.result", result)
            return result

    return wrapper


def traced_code(fn: _Async[_P, _R]) -> _Async[_P, _R]:
    """Decorate ``CodeExecution.run(blocks)``: an ``execute_code`` span, and a log line per call."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        blocks: Sequence[Any] = args[1]  # type: ignore[assignment]
        executor = type(getattr(args[0], "executor", None)).__name__
        languages = ",".join(dict.fromkeys(str(getattr(b, "language", "") or "?") for b in blocks))
        tracer = _tracer()
        start = time.perf_counter()
        if tracer is None:
            result = await fn(*args, **kwargs)
        else:
            attributes = {
                "parley.code.executor": executor,
                "parley.code.language": languages,
                "parley.code.blocks": len(blocks),
            }
            with _span(tracer, f"execute_code {executor}", attributes) as span:
                result = await fn(*args, **kwargs)
                span.set_attribute("parley.code.exit_code", int(getattr(result, "exit_code", -1)))
                span.set_attribute("parley.code.timed_out", bool(getattr(result, "timed_out", False)))
                span.set_attribute("parley.code.duration_ms", (time.perf_counter() - start) * 1000)
                if capture_content():
                    span.set_attribute("parley.code.output", str(getattr(result, "output", "")))
        _code_log.debug(
            "%s ran %d block(s) (%s): exit code %s in %.1f ms",
            executor,
            len(blocks),
            languages,
            getattr(result, "exit_code", "?"),
            (time.perf_counter() - start) * 1000,
        )
        return result

    return wrapper
