"""Custom model clients named in a config entry by ``model_client_cls``, as in AutoGen 0.2.

A config entry ``{"model_client_cls": "MyClient", ...}`` names a class that is registered
later, on the agent or the wrapper that holds the entry::

    assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model_client_cls": "MyClient"}]})
    assistant.register_model_client(MyClient, temperature_bias=0.1)

Registering instantiates ``MyClient(entry, **kwargs)`` for every entry naming it. Until then the
entry holds a placeholder, and the first model call raises a `ConfigError` that says what to
register. Two kinds of class can be registered:

- a parley `ModelClient` (``async def create(messages, *, tools=None, params=None)``), used as is;
- an AutoGen 0.2 ``ModelClient``: a sync ``create(params)`` whose ``params`` dict holds
  ``messages`` (and ``model``, ``tools`` and the entry's other call parameters), returning a
  response with ``choices[].message``; ``message_retrieval(response)`` (a list of strings or of
  messages with ``content`` and ``tool_calls``); ``cost(response)`` in US dollars; and a static
  ``get_usage(response)`` returning ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
  ``cost`` and ``model``. `LegacyModelClient` adapts it: its ``create`` runs in a worker thread
  so the event loop never blocks, and ``response.cost`` is set before ``get_usage`` is called,
  as AutoGen 0.2 does.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from parley._sync import IN_USE, call_in_place
from parley.exceptions import ConfigError, ModelError, ModelResponseError, redact_config
from parley.llm._errors import error_class_for_status
from parley.llm.client import ModelClient
from parley.llm.config import AGENT_KEYS, CLIENT_KEYS
from parley.llm.types import NO_USAGE, Message, ModelResponse, ToolCall, ToolSpec, Usage

__all__ = [
    "LEGACY_METHODS",
    "LegacyModelClient",
    "UnregisteredModelClient",
    "make_model_client",
    "register",
    "unregistered_error",
]

LEGACY_METHODS = ("create", "message_retrieval", "cost", "get_usage")
"""The methods of an AutoGen 0.2 ``ModelClient``."""

# Client settings that AutoGen 0.2 keeps out of ``create(params)``; everything else is sent.
_NOT_IN_PARAMS = (CLIENT_KEYS - {"model"}) | AGENT_KEYS


class UnregisteredModelClient:
    """Stands in for an entry whose ``model_client_cls`` has not been registered yet.

    Attributes:
        name: the class name the entry gives.
        index: the entry's position in the config list.
    """

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"UnregisteredModelClient({self.name!r})"

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Always fails: the class must be registered first.

        Raises:
            ConfigError: always, saying what to register (see `unregistered_error`).
        """
        raise unregistered_error([self])


def unregistered_error(placeholders: Sequence[UnregisteredModelClient]) -> ConfigError:
    """The error for config entries whose ``model_client_cls`` nobody registered."""
    where = ", ".join(f"config_list[{p.index}] names {p.name!r}" for p in placeholders)
    first = placeholders[0].name
    return ConfigError(
        f"Custom model client not registered: {where}. Register the class before the first model call with "
        f"agent.register_model_client({first}) on the agent whose llm_config holds the entry (or "
        f"OpenAIWrapper.register_model_client({first})), or remove the entry.",
        key="model_client_cls",
    )


def make_model_client(cls: Any, entry: Mapping[str, Any], **kwargs: Any) -> ModelClient:
    """Instantiate a registered class for one entry, as ``cls(entry, **kwargs)``.

    Args:
        cls: a class implementing parley's async `ModelClient` or AutoGen 0.2's ``ModelClient``.
        entry: the config entry naming it (a copy is passed).
        **kwargs: passed to the constructor.

    Returns:
        The instance if it is a parley `ModelClient` (its ``create`` is a coroutine function),
        else the instance wrapped in a `LegacyModelClient`.

    Raises:
        ConfigError: ``cls`` is not a class, or has neither protocol's methods (the message lists
            what is missing).
    """
    if not isinstance(cls, type):
        raise ConfigError(
            f"register_model_client takes the class itself, got {cls!r}; pass MyClient, not MyClient().",
            key="model_client_cls",
        )
    missing = [m for m in LEGACY_METHODS if not callable(getattr(cls, m, None))]
    is_async = inspect.iscoroutinefunction(getattr(cls, "create", None))
    if missing and not is_async:
        raise ConfigError(
            f"{cls.__name__} is not a model client: it lacks {', '.join(missing)}. Implement parley's "
            "'async def create(messages, *, tools=None, params=None)', or AutoGen 0.2's create(params), "
            "message_retrieval(response), cost(response) and the static get_usage(response).",
            key="model_client_cls",
        )
    instance = cls(dict(entry), **kwargs)
    if is_async:
        return instance  # type: ignore[no-any-return]
    return LegacyModelClient(instance, entry)


class LegacyModelClient:
    """A parley `ModelClient` over an AutoGen 0.2-style client (sync ``create(params)``).

    Args:
        client: the AutoGen 0.2-style client instance.
        entry: its config entry: call parameters in it (``model``, ``temperature`` ...) are put
            in ``params``; client settings (``api_key``, ``base_url`` ...) are not.
    """

    def __init__(self, client: Any, entry: Mapping[str, Any]) -> None:
        self.client = client
        self._entry = dict(entry)
        self._base = {k: v for k, v in entry.items() if k not in _NOT_IN_PARAMS}
        self.model = str(entry.get("model") or type(client).__name__)

    def __repr__(self) -> str:
        return f"LegacyModelClient({type(self.client).__name__}, {redact_config(self._entry)!r})"

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Call the wrapped client's ``create(params)`` and convert its response.

        The blocking call goes as `parley._sync.call_blocking` makes it: in place under a sync chat
        that has the loop to itself, in a worker thread wherever other coroutines share it.

        Raises:
            ModelError: the wrapped client raised a `ModelError`, or an ``openai.APIError`` (turned
                into the `ModelError` subclass for its HTTP status, so fallback works).
            ModelResponseError: ``message_retrieval`` returned no message, a message with neither
                content nor tool calls, or ``cost``/``get_usage`` returned the wrong type.
            Exception: any other error of the wrapped client propagates unchanged.
        """
        # The caller's list itself, as AutoGen 0.2 passes it: an agent's request is a fresh list
        # (the history is never handed out), and `OpenAIWrapper.respond` gives each entry its own.
        request: dict[str, Any] = (
            {**self._base, **params, "messages": messages if type(messages) is list else list(messages)}
            if params
            else {**self._base, "messages": messages if type(messages) is list else list(messages)}
        )
        if tools:
            request["tools"] = list(tools)
        client = self.client
        try:  # `call_blocking`, spelled out: no coroutine for it in the common in-place case
            response = call_in_place(client.create, request)
            if response is IN_USE:
                response = await asyncio.to_thread(client.create, request)
        except ModelError:
            raise
        except Exception as exc:
            error = self._translate(exc)
            if error is None:
                raise
            raise error from None
        # The response's conversion, written out here (one call less on every model call): plain
        # type checks before the conversions and ABC checks (an int count or a float cost is not
        # converted again; counts are converted only when one is set), no context managers.
        retrieved = client.message_retrieval(response)
        if not retrieved:
            raise self._bad("returned no message from message_retrieval")
        item = retrieved[0]
        message: Message = {"role": "assistant", "content": item} if type(item) is str else self._message(item)
        cost = client.cost(response)
        if type(cost) is not float:
            try:
                cost = float(cost)
            except (TypeError, ValueError):
                raise self._bad("cost() did not return a number") from None
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager on every call
            response.cost = cost  # AutoGen 0.2 sets this before get_usage, which often reads it
        except (AttributeError, TypeError):
            pass
        usage = client.get_usage(response) or {}
        if type(usage) is not dict and not isinstance(usage, Mapping):
            raise self._bad(f"get_usage() returned {type(usage).__name__}, not a dict")
        get = usage.get
        prompt = get("prompt_tokens")
        completion = get("completion_tokens")
        total = get("total_tokens")
        if prompt or completion or total:  # counts to convert (int() of an int is the int itself)
            prompt = int(prompt) if prompt else 0
            completion = int(completion) if completion else 0
            total = int(total) if total else prompt + completion
            counts = Usage(prompt, completion, total) if prompt or completion or total else NO_USAGE
        else:
            counts = NO_USAGE
        model = str(get("model") or getattr(response, "model", None) or self.model)
        return ModelResponse(message, counts, cost, model, False, response)

    def _bad(self, what: str) -> ModelResponseError:
        return ModelResponseError(f"{type(self.client).__name__} {what}.", config=self._entry)

    def _translate(self, exc: Exception) -> ModelError | None:
        openai = sys.modules.get("openai")  # only if the client itself imported it
        if openai is None or not isinstance(exc, openai.APIError):
            return None
        status = getattr(exc, "status_code", None)
        text = str(exc)
        key = self._entry.get("api_key")
        if key:
            text = text.replace(str(key), str(redact_config({"api_key": key})["api_key"]))
        cls = error_class_for_status(status) if isinstance(status, int) else ModelError
        return cls(f"{type(self.client).__name__} failed: {text}", config=self._entry, status_code=status)

    def _message(self, item: Any) -> Message:
        if isinstance(item, str):
            return {"role": "assistant", "content": item}
        content = _field(item, "content")
        calls = [_tool_call(c, i) for i, c in enumerate(_field(item, "tool_calls") or ())]
        if any(c is None for c in calls):
            raise self._bad("returned a tool call without a function name")
        if content is None and not calls:
            raise self._bad("returned a message with neither content nor tool calls")
        message: Message = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [c for c in calls if c is not None]
        return message


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _tool_call(call: Any, index: int) -> ToolCall | None:
    fn = _field(call, "function")
    name = _field(fn, "name") if fn is not None else None
    if not name:
        return None
    arguments = _field(fn, "arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    call_id = _field(call, "id") or f"call_{index}"
    return {"id": str(call_id), "type": "function", "function": {"name": str(name), "arguments": arguments}}


def register(entries: Sequence[Mapping[str, Any]], clients: list[Any], cls: Any, **kwargs: Any) -> None:
    """Instantiate ``cls`` for every entry whose ``model_client_cls`` is its name, in ``clients``.

    Registering a class again replaces its earlier instances (so new ``kwargs`` take effect).

    Raises:
        ConfigError: ``cls`` is not a usable class (see `make_model_client`), or no entry names
            it (with the names the entries do give, and a "did you mean").
    """
    name = getattr(cls, "__name__", None) if isinstance(cls, type) else None
    if name is None:
        make_model_client(cls, {})  # raises the "pass the class" error
    hits = [i for i, e in enumerate(entries) if e.get("model_client_cls") == name]
    if not hits:
        named = sorted({str(e["model_client_cls"]) for e in entries if e.get("model_client_cls")})
        listed = f"they name {', '.join(repr(n) for n in named)}" if named else "none names a model_client_cls"
        raise ConfigError(
            f'Cannot register model client class {name!r}: no config entry has "model_client_cls": '
            f'{name!r} ({listed}). Add an entry such as {{"model_client_cls": {name!r}, "model": "..."}} '
            "to the config_list.",
            key="model_client_cls",
            suggestions=difflib.get_close_matches(str(name), named, n=1),
        )
    for i in hits:
        clients[i] = make_model_client(cls, entries[i], **kwargs)
