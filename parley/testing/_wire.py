"""The OpenAI chat-completions wire format, as pure functions from a scripted `Reply` to JSON objects.

Shapes follow OpenAI's public API reference for ``POST /v1/chat/completions``: a
``chat.completion`` object, or, when streaming, a sequence of ``chat.completion.chunk`` objects
sent as server-sent events and ended by ``data: [DONE]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from parley.testing._script import Reply

__all__ = ["completion_body", "error_body", "split_text", "stream_chunks"]

_PIECE = re.compile(r"\s*\S+\s*|\s+")


def split_text(text: str, pieces: int = 0) -> list[str]:
    """Split ``text`` into streaming deltas that join back to it exactly.

    Args:
        text: the text to split.
        pieces: 0 to split at words (each delta is a word with its surrounding spaces); otherwise
            the number of roughly equal character slices wanted (at least one character each).

    Returns:
        The deltas; ``[""]`` for empty text.
    """
    if not text:
        return [""]
    if pieces <= 0:
        return _PIECE.findall(text)
    step = max(1, -(-len(text) // pieces))
    return [text[i : i + step] for i in range(0, len(text), step)]


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _finish_reason(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def completion_body(
    reply: Reply, *, model: str, completion_id: str, created: int, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object answering with ``reply``.

    Args:
        reply: the scripted reply (not a fault).
        model: the model name to report.
        completion_id: the ``id`` field, e.g. ``"chatcmpl-1"``.
        created: the ``created`` field, Unix seconds.
        prompt_tokens: usage to report for the request.
        completion_tokens: usage to report for the reply.
    """
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [dict(c) for c in reply.tool_calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(reply), "logprobs": None}],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def stream_chunks(
    reply: Reply,
    *,
    model: str,
    completion_id: str,
    created: int,
    prompt_tokens: int,
    completion_tokens: int,
    include_usage: bool,
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects that stream ``reply``, in order (without ``[DONE]``).

    The first chunk carries the role; content arrives word by word; each tool call starts with a
    chunk holding its index, id and name, followed by its arguments in three fragments; a chunk
    with an empty delta carries the finish reason. With ``include_usage`` (the request's
    ``stream_options.include_usage``) every chunk has ``"usage": null`` and a last chunk with no
    choices carries the usage, as OpenAI does. Arguments are as for `completion_body`.
    """
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
            **extra,
        }

    yield chunk({"role": "assistant", "content": "" if reply.content is not None else None})
    if reply.content:
        for piece in split_text(reply.content):
            yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call["id"], "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call["function"]["name"], "arguments": ""}}]})
        for piece in split_text(call["function"]["arguments"], pieces=3):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _finish_reason(reply))
    if include_usage:
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(prompt_tokens, completion_tokens),
        }


def error_body(message: str, *, status: int, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error object: ``{"error": {"message", "type", "param", "code"}}``.

    Args:
        message: the human-readable message.
        status: the HTTP status, which picks the ``type`` (``invalid_request_error`` for 4xx,
            ``server_error`` for 5xx, ``rate_limit_error``/``authentication_error`` where they apply).
        code: the machine-readable ``code`` (e.g. ``"model_not_found"``), or None.
    """
    kind = {401: "authentication_error", 429: "rate_limit_error"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
