"""Adapting hooks written for any AutoGen 0.2 release to the arguments parley passes them.

``process_message_before_send`` hooks are called ``hook(sender=, message=, recipient=, silent=)``
as in 0.2.35. Earlier 0.2 releases did not pass ``sender``, and hooks written for them take only
``message``, ``recipient`` and ``silent``; such a hook is wrapped so that ``sender`` is left out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["adapt", "registered"]


def _takes_sender(hook: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: pass everything, as 0.2.35 does
        return True
    return any(p.kind is p.VAR_KEYWORD or (p.name == "sender" and p.kind is not p.POSITIONAL_ONLY) for p in params)


def adapt(hookable_method: str, hook: Callable[..., Any]) -> Callable[..., Any]:
    """``hook`` as registered on ``hookable_method``.

    A before-send hook without a ``sender`` parameter is wrapped so that ``sender`` is left out;
    any other hook is returned as it is.
    """
    if not hookable_method.endswith("process_message_before_send") or _takes_sender(hook):
        return hook

    @functools.wraps(hook)
    def without_sender(*, sender: Any, **kwargs: Any) -> Any:
        return hook(**kwargs)

    return without_sender


def registered(hook: Callable[..., Any], hooks: list[Callable[..., Any]]) -> bool:
    """Whether ``hook`` (or a wrapper of it) is already in ``hooks``."""
    return any(h is hook or getattr(h, "__wrapped__", None) is hook for h in hooks)
