"""Adapting hooks written for any AutoGen 0.2 release to the arguments parley passes them.

``process_message_before_send`` hooks are called ``hook(sender=, message=, recipient=, silent=)``
as in 0.2.35. Earlier 0.2 releases did not pass ``sender``, and hooks written for them take only
``message``, ``recipient`` and ``silent``; such a hook is wrapped so that ``sender`` is left out.

`before_send` and `before_reply` run an agent's hooks; the agent awaits them only when one of
the lists they read is not empty (a few lookups a message instead of a coroutine and four loops).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from parley.llm.types import Message

__all__ = ["adapt", "before_reply", "before_send", "registered"]


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


async def before_send(
    hooks: dict[str, list[Callable[..., Any]]], sender: Any, message: Any, recipient: Any, silent: bool
) -> Any:
    """``message`` as the ``process_message_before_send`` hooks, then the async ones, leave it."""
    for hook in hooks["process_message_before_send"]:
        message = hook(sender=sender, message=message, recipient=recipient, silent=silent)
    for hook in hooks["a_process_message_before_send"]:
        message = await hook(sender=sender, message=message, recipient=recipient, silent=silent)
    return message


async def before_reply(hooks: dict[str, list[Callable[..., Any]]], messages: list[Message]) -> list[Message]:
    """The messages to reply to, as the hooks leave them.

    The ``process_all_messages_before_reply`` hooks (sync, then async) see the whole list; then,
    when the last message's content is a str, the ``process_last_received_message`` hooks (sync,
    then async) change that text, in a new list whose last message is a copy.
    """
    for hook in hooks["process_all_messages_before_reply"]:
        messages = hook(messages)
    for hook in hooks["a_process_all_messages_before_reply"]:
        messages = await hook(messages)
    last_hooks = hooks["process_last_received_message"], hooks["a_process_last_received_message"]
    if (last_hooks[0] or last_hooks[1]) and messages and isinstance(messages[-1].get("content"), str):
        content = messages[-1]["content"]
        for hook in last_hooks[0]:
            content = hook(content)
        for hook in last_hooks[1]:
            content = await hook(content)
        messages = [*messages[:-1], {**messages[-1], "content": content}]
    return messages
