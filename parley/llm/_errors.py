"""Which `parley.exceptions.ModelError` subclass an HTTP status from a model server maps to."""

from __future__ import annotations

from parley.exceptions import (
    ModelAuthenticationError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
)

__all__ = ["error_class_for_status"]

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
