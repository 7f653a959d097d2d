"""The cache key of a model request, and how a response is stored and read back.

The key is the SHA-256 (hex) of the request in canonical JSON: keys sorted, separators ``,``
and ``:``, no ASCII escaping, UTF-8. The request is

- ``v``: `KEY_VERSION`, so a change of format never reads old entries;
- ``seed``: the cache seed, as a string;
- ``model``: the model asked for (the call's ``model`` over the entry's);
- ``messages`` and ``tools``, as sent;
- ``params``: every body parameter that can change the answer, the config entry's merged under
  the call's (``temperature``, ``max_tokens``, ``response_format`` ...).

Left out: client settings (``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``price`` ...),
agent-level keys (``cache_seed``, ``stream`` ...), and `NOT_IN_KEY`, parameters that do not
change the reply's content. So one answer serves every server and key that asks the same
question of the same model, as in AutoGen 0.2.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from parley.llm.config import split_entry
from parley.llm.types import Message, ModelResponse, ToolSpec, Usage

__all__ = ["KEY_VERSION", "NOT_IN_KEY", "decode_response", "encode_response", "request_key"]

KEY_VERSION = "parley-cache-1"
"""Part of every key; bumped when the key or the stored format changes."""

NOT_IN_KEY = frozenset({"stream", "stream_options", "user", "metadata", "store"})
"""Body parameters that do not change the reply's content: streaming, and bookkeeping for the
provider (end-user id, metadata, storing the completion)."""


def _jsonable(value: Any) -> Any:
    """Stable JSON for a value ``json`` cannot encode, such as a pydantic model in ``response_format``."""
    try:
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return {"__schema__": value.model_json_schema()}
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json")
    except Exception:  # a model that cannot describe itself: fall through to its name
        pass
    if isinstance(value, type):
        return f"<class {value.__module__}.{value.__qualname__}>"
    return repr(value)


def request_key(
    entry: Mapping[str, Any],
    messages: Sequence[Message],
    tools: Sequence[ToolSpec] | None,
    params: Mapping[str, Any] | None,
    seed: int | str,
) -> str:
    """The cache key of one request to one config entry (see the module docstring).

    Args:
        entry: the config entry the request goes to.
        messages: the conversation, as sent.
        tools: the tools, as sent; None or empty for none.
        params: the call's parameters over the entry's; None for none.
        seed: the cache's seed.

    Returns:
        64 hex characters.
    """
    _, body = split_entry(entry)
    model = entry.get("model")
    if params:
        settings, call_body = split_entry(params)
        body.update(call_body)
        model = settings.get("model") or model
    for key in NOT_IN_KEY:
        body.pop(key, None)
    request = {
        "v": KEY_VERSION,
        "seed": str(seed),
        "model": model,
        "messages": list(messages),
        "tools": list(tools) if tools else None,
        "params": body,
    }
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_response(response: ModelResponse) -> str | None:
    """The stored text of a response, or None when it must not be stored.

    Only a well-formed reply is stored: an assistant message (a mapping) with content or tool
    calls, whose message, usage, cost and model are JSON. ``raw`` is never stored.
    """
    message = response.message
    if not isinstance(message, Mapping) or (message.get("content") is None and not message.get("tool_calls")):
        return None
    if not isinstance(response.cost, (int, float)) or not math.isfinite(response.cost):
        return None
    u = response.usage
    data = {
        "message": dict(message),
        "usage": [u.prompt_tokens, u.completion_tokens, u.total_tokens],
        "cost": float(response.cost),
        "model": response.model,
    }
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None


def decode_response(text: str) -> ModelResponse | None:
    """The response stored as ``text``, marked ``cached=True``; None when ``text`` is not one."""
    try:
        data = json.loads(text)
        message = data["message"]
        prompt, completion, total = (int(n) for n in data["usage"])
        cost = float(data["cost"])
        model = str(data["model"])
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(message, dict) or (message.get("content") is None and not message.get("tool_calls")):
        return None
    return ModelResponse(
        message=message,  # type: ignore[arg-type]
        usage=Usage(prompt, completion, total),
        cost=cost,
        model=model,
        cached=True,
    )
