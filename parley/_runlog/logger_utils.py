"""Helpers for the runtime loggers: timestamps, and objects turned into JSON-ready values."""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Mapping
from typing import Any

__all__ = ["SECRET_KEYS", "get_current_ts", "to_dict"]

SECRET_KEYS: tuple[str, ...] = (
    "self",
    "__class__",
    "api_key",
    "organization",
    "base_url",
    "azure_endpoint",
    "azure_ad_token",
    "azure_ad_token_provider",
)
"""Keys left out of logged constructor arguments: credentials, and where they are sent (as AutoGen 0.2)."""

_MAX_DEPTH = 32


def get_current_ts() -> str:
    """The current UTC time as ``YYYY-MM-DD HH:MM:SS.ffffff`` (the loggers' timestamp format)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _label(obj: Any) -> str:
    cls = type(obj)
    name = getattr(obj, "name", None)
    return f"<{cls.__module__}.{cls.__qualname__}" + (f" name={name!r}>" if isinstance(name, str) else ">")


def to_dict(
    obj: Any, exclude: tuple[str, ...] = (), no_recursive: tuple[type, ...] | type = (), _depth: int = 0
) -> Any:
    """``obj`` as JSON-ready values: mappings, lists, an object's attributes, recursively.

    Args:
        obj: what to convert.
        exclude: keys (of mappings and objects, at any depth) to leave out.
        no_recursive: classes whose instances are not walked but named:
            ``<module.Class name='...'>`` (agents, so a log never copies a whole chat).

    Returns:
        Numbers, strings, bools and None as they are; a function as its source (or its repr
        when the source cannot be read); mappings as dicts with str keys; lists and tuples
        as lists; other objects as the dict of their attributes, or themselves. Deeper than
        32 levels (a cycle), an object's ``str``.
    """
    if obj is None or isinstance(obj, (int, float, str, bool)):
        return obj
    if _depth > _MAX_DEPTH:
        return str(obj)
    if no_recursive and isinstance(obj, no_recursive):
        return _label(obj)
    if callable(obj) and not isinstance(obj, type) and (inspect.isfunction(obj) or inspect.ismethod(obj)):
        try:
            return inspect.getsource(obj).strip()
        except (OSError, TypeError):
            return repr(obj)
    if isinstance(obj, Mapping):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        return [to_dict(v, exclude, no_recursive, _depth + 1) for v in obj]
    elif hasattr(obj, "__dict__"):
        items = vars(obj).items()
    else:
        return obj
    return {str(k): to_dict(v, exclude, no_recursive, _depth + 1) for k, v in items if k not in exclude}
