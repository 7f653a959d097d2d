"""Reply-function registration: triggers are compiled to predicates once, at registration.

AutoGen 0.2 re-checks every trigger, often ``isinstance(sender, Agent)`` against a runtime
Protocol (11-14 µs each), on every message. Here a trigger becomes a plain predicate when it is
registered; Protocol classes are checked once per sender *type* and the answer is cached.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from parley.agentchat.agent import Agent
from parley.exceptions import ConfigError, SenderRequired

__all__ = ["DECLINED", "REPLY_SHELL_ATTR", "ReplyEntry", "Trigger", "compile_trigger", "reply_key"]

REPLY_SHELL_ATTR = "__parley_async_reply__"
DECLINED: tuple[bool, Any] = (False, None)
"""A reply function's answer when it does not reply: the pipeline goes on to the next one."""
"""Set on 0.2's sync reply methods (and their async forms): the async method's name, which they
share, or the async function itself when it must not be looked up on the agent (a method of
another class, such as ``GroupChatManager.run_chat`` registered on a plain agent)."""


def reply_key(func: Any) -> Any:
    """What identifies a reply function: a sync shell and its async form share the async name."""
    return getattr(func, REPLY_SHELL_ATTR, None) or func


def _awaiting(async_name: str) -> Callable[..., Any]:
    async def run(agent: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        return await getattr(agent, async_name)(messages=messages, sender=sender, config=config)

    return run


Trigger = Any  # type | str | Agent | Callable[[Agent | None], bool] | list[...] | None
Predicate = Callable[[Any], bool]
ReplyFunc = Callable[..., Any]


def _always(_: Any) -> bool:
    return True


def _is_none(sender: Any) -> bool:
    return sender is None


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _protocol_predicate(proto: type) -> Predicate:
    cache: dict[type, bool] = {}

    def matches(sender: Any) -> bool:
        if sender is None:
            return False
        t = type(sender)
        hit = cache.get(t)
        if hit is None:
            hit = cache[t] = isinstance(sender, proto)
        return hit

    return matches


def compile_trigger(trigger: Trigger) -> tuple[Predicate, bool]:
    """Turn a ``register_reply`` trigger into a predicate on the sender.

    Args:
        trigger: None (matches no sender: a reply generated without one); a class (senders that
            are instances of it); a str (senders with that name); an agent instance (that agent);
            a callable ``f(sender) -> bool``; or a list of any of these (matches when one does).

    Returns:
        ``(predicate, matches_any_agent)``; the flag lets callers skip the call entirely.

    Raises:
        ConfigError: the trigger is none of the above.
    """
    if trigger is None:
        return _is_none, False
    if isinstance(trigger, str):

        def named(sender: Any) -> bool:
            if sender is None:
                raise SenderRequired(
                    f"A reply function is registered for the agent named {trigger!r}, so generating a reply needs "
                    "the sender: pass sender=... to generate_reply."
                )
            return bool(sender.name == trigger)

        return named, False
    if isinstance(trigger, type):
        if trigger is Agent:  # every sender is an agent: no per-message check at all
            return (lambda s: s is not None), False
        if _is_protocol(trigger):
            return _protocol_predicate(trigger), False
        return (lambda s: isinstance(s, trigger)), False
    if isinstance(trigger, (list, tuple)):
        parts = [compile_trigger(t)[0] for t in trigger]
        any_agent = any(t is Agent for t in trigger)
        if any_agent and any(t is None for t in trigger):
            return _always, True
        return (lambda s: any(p(s) for p in parts)), False
    if isinstance(trigger, Agent):
        return (lambda s: s is trigger), False
    if callable(trigger):
        return trigger, False
    raise ConfigError(
        f"Cannot use {trigger!r} as a reply trigger. Use a class, an agent name (str), an agent, "
        "a callable taking the sender, None, or a list of these.",
        key="trigger",
    )


@dataclass
class ReplyEntry:
    """One registered reply function and when it applies."""

    trigger: Trigger
    matches: Predicate
    func: ReplyFunc
    is_async: bool
    config: Any = None
    init_config: Any = None
    reset_config: Callable[[Any], None] | None = None
    any_sender: bool = False
    run: Any = None
    key: Any = None
    method: str | None = None
    """For a sync shell of an agent's own async reply method: that method's name, which the
    pipeline awaits as ``getattr(agent, method)(...)`` (the same call `run` makes, one frame less)."""
    quick: Callable[[Any, list[Any], Any], tuple[bool, Any] | None] | None = None
    """For a built-in reply its agent's class does not override: ``quick(agent, messages, sender)``
    is the reply's answer when it needs no awaiting (`DECLINED` for ``(False, None)``), given by a
    plain call instead of a coroutine, or None when the pipeline must await the reply itself."""
    quick_key: str | None = None
    """With `quick`: a key the last message must hold (a truthy value) for the reply to do anything.
    Without it `quick` answers `DECLINED`, so the pipeline moves on without calling it (the tool
    call and function call replies, on almost every message)."""

    @classmethod
    def make(
        cls,
        trigger: Trigger,
        func: ReplyFunc,
        config: Any = None,
        reset_config: Callable[[Any], None] | None = None,
    ) -> ReplyEntry:
        """Build an entry, compiling the trigger and deciding sync-or-async once."""
        if not callable(func):
            raise ConfigError(f"reply_func must be callable, got {func!r}.", key="reply_func")
        pred, any_sender = compile_trigger(trigger)
        is_async = inspect.iscoroutinefunction(func)
        run: ReplyFunc = func
        method = None
        async_name = getattr(func, REPLY_SHELL_ATTR, None)
        if async_name is not None and not is_async:  # a sync shell: await the async method instead
            run, is_async = (async_name if callable(async_name) else _awaiting(async_name)), True
            method = None if callable(async_name) else async_name
        return cls(
            trigger, pred, func, is_async, config, config, reset_config, any_sender, run, reply_key(func), method
        )

    async def call(self, agent: Any, messages: list[Any], sender: Any) -> tuple[bool, Any]:
        """Call the function as ``func(agent, messages=..., sender=..., config=...)``."""
        result: Any = self.run(agent, messages=messages, sender=sender, config=self.config)
        if self.is_async or inspect.isawaitable(result):
            result = await result
        return cast(tuple[bool, Any], result)
