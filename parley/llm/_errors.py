"""Model-server errors without the SDK: which `ModelError` a status maps to, and its message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parley.exceptions import (
    ModelAuthenticationError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    redact_url,
)

__all__ = ["error_class_for_status", "server_message", "status_error"]

_BY_STATUS: dict[int, type[ModelError]] = {
    401: ModelAuthenticationError,
    403: ModelAuthenticationError,
    404: ModelNotFoundError,
    429: ModelRateLimitError,
}


def error_class_for_status(status: int) -> type[ModelError]:
    """The error class for an HTTP error status.

    Args:
        status: the HTTP status the server answered with.

    Returns:
        `ModelAuthenticationError` for 401 and 403, `ModelNotFoundError` for 404,
        `ModelRateLimitError` for 429, and `ModelError` for any other status.
    """
    return _BY_STATUS.get(status, ModelError)


def status_error(status: int, detail: str, base_url: str, model: str, entry: Mapping[str, Any]) -> ModelError:
    """The error for an HTTP error status from a model server, worded for the user.

    Args:
        status: the HTTP status.
        detail: the server's own message, already scrubbed of keys.
        base_url: the server.
        model: the model that was asked for.
        entry: the config entry (redacted by `ModelError`).
    """
    base_url = redact_url(base_url)
    cls = error_class_for_status(status)
    if status in (401, 403):
        text = f"The model server at {base_url} rejected the API key (HTTP {status}): {detail}"
    elif status == 404:
        text = (
            f"The model server at {base_url} does not know model {model!r} (HTTP 404): {detail} "
            "Check the model name, and that base_url is the API root (often ending in /v1)."
        )
    elif status == 429:
        text = f"The model server at {base_url} is rate limiting (HTTP 429), still after retries: {detail}"
    else:
        text = f"The model server at {base_url} answered HTTP {status}: {detail}"
    return cls(text, config=entry, status_code=status)


def server_message(exc: Any) -> str:
    """The server's own error message from an SDK error (its ``body``), without the SDK's framing."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", exc))
