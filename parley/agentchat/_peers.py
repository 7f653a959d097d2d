"""Talking to any agent: parley's own async methods, or a 0.2-style agent's sync ones.

AutoGen 0.2's ``Agent`` is a Protocol. A user's class that subclasses it and writes only the sync
``send``/``receive``/``generate_reply`` inherits the Protocol's ``a_*`` stubs, whose bodies do
nothing: awaiting them would silently drop every message. So for each method we decide once per
class whether the async form is the class's own (await it) or a stub (run the sync form in a
worker thread, so the event loop never blocks on the user's code).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

__all__ = ["a_generate_reply", "a_receive", "a_send", "implements_async", "own_async", "own_with_silent"]

_PLANS: dict[tuple[type, str], tuple[bool, bool]] = {}


def _definer(cls: type, name: str) -> tuple[int, type | None]:
    for i, klass in enumerate(cls.__mro__):
        if name in klass.__dict__:
            return i, klass
    return len(cls.__mro__), None


def _plan(cls: type, name: str) -> tuple[bool, bool]:
    """``(use the async form, the method used takes silent=)`` for ``cls``; decided once per class.

    The async form is used when the class really implements it: it is not a Protocol's stub,
    and no class nearer than the one defining it overrides the sync form (a 0.2-style subclass
    that overrides only ``receive`` gets its ``receive`` called).
    """
    key = (cls, name)
    plan = _PLANS.get(key)
    if plan is None:
        async_at, async_cls = _definer(cls, name)
        sync_at, _ = _definer(cls, name[2:])
        use_async = (
            async_cls is not None
            and not getattr(async_cls, "_is_protocol", False)
            and inspect.iscoroutinefunction(async_cls.__dict__[name])
            and not sync_at < async_at
        )
        method = getattr(cls, name if use_async else name[2:], None)
        plan = _PLANS[key] = (use_async, _takes_silent(method))
    return plan


def own_async(peer: Any, name: str) -> bool:
    """True when ``peer``'s own async ``name`` is awaited (one dict lookup, once decided); see `own_with_silent`."""
    plan = _PLANS.get((type(peer), name)) or _plan(type(peer), name)
    return plan[0]


def own_with_silent(peer: Any, name: str) -> bool:
    """True when ``peer``'s own async ``name`` is awaited and takes ``silent=`` (one dict lookup, once decided).

    Hot callers test this and await ``getattr(peer, name)(..., silent=silent)`` themselves, saving
    the coroutine of `a_receive`/`a_send` here (one or two a message).
    """
    plan = _PLANS.get((type(peer), name)) or _plan(type(peer), name)
    return plan[0] and plan[1]


def implements_async(cls: type, name: str) -> bool:
    """True when parley should await ``cls``'s ``name`` (``"a_receive"`` ...) rather than run its sync form."""
    return _plan(cls, name)[0]


# Each message goes through two or three of these: they look the plan up inline and await the
# peer's method themselves, with no helper coroutine in between.


async def a_receive(peer: Any, message: Any, sender: Any, request_reply: bool | None, silent: bool) -> None:
    """Deliver ``message`` from ``sender`` to ``peer`` through its async or its sync ``receive``."""
    own, silent_kw = _PLANS.get((type(peer), "a_receive")) or _plan(type(peer), "a_receive")
    if own and silent_kw:
        await peer.a_receive(message, sender, request_reply, silent=silent)
    else:
        await _deliver(peer, "a_receive", message, sender, request_reply, silent)


async def a_send(peer: Any, message: Any, recipient: Any, request_reply: bool | None, silent: bool) -> None:
    """Have ``peer`` send ``message`` to ``recipient`` through its async or its sync ``send``."""
    own, silent_kw = _PLANS.get((type(peer), "a_send")) or _plan(type(peer), "a_send")
    if own and silent_kw:
        await peer.a_send(message, recipient, request_reply, silent=silent)
    else:
        await _deliver(peer, "a_send", message, recipient, request_reply, silent)


async def a_generate_reply(peer: Any, sender: Any) -> Any:
    """``peer``'s reply to its conversation with ``sender``, through its async or sync method."""
    plan = _PLANS.get((type(peer), "a_generate_reply")) or _plan(type(peer), "a_generate_reply")
    if plan[0]:
        return await peer.a_generate_reply(sender=sender)
    return await asyncio.to_thread(peer.generate_reply, sender=sender)


def _takes_silent(method: Any) -> bool:
    if method is None:
        return False
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "silent" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


async def _deliver(peer: Any, name: str, message: Any, other: Any, request_reply: bool | None, silent: bool) -> None:
    own, silent_kw = _plan(type(peer), name)
    kwargs = {"silent": silent} if silent_kw else {}  # 0.2's Protocol has no ``silent``
    if own:
        await getattr(peer, name)(message, other, request_reply, **kwargs)
    else:
        await asyncio.to_thread(getattr(peer, name[2:]), message, other, request_reply, **kwargs)
