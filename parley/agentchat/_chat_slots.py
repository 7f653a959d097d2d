"""Pools as an agent's executor: each chat runs its code in a slot of its own, for the whole chat.

``code_execution_config={"executor": pool}`` (an `parley.coding.ExecutorPool`), or
``{"executor": "pool", "pool": {...}}`` (the pool's `ExecutorPool.from_config` dict), gives the
agent a `PoolExecutor`: a code executor that runs each call on the member the *current chat*
holds in the pool. ``{"executor": dispatcher}`` (an `parley.coding.ExecutionDispatcher`) gives
a `DispatcherExecutor`, which sends each call through the dispatcher's queue as the chat's
session. The chat is the outermost chat running in this task: a nested chat, a group
chat's rounds and a chat of chats' inner chats run in the slot of the chat that started them.
When that chat ends, every pool it used gets its slot back, reset (`ExecutorPool.release`).

The chat's identity travels in a context variable (`chat_scope`), which `parley.agentchat.chat`
opens around each chat, so thousands of concurrent ``a_initiate_chat`` calls each get their own
slot and share the pool's ``size`` members. A call made outside any chat (``generate_reply`` on
its own) leases a member for that call only.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley._logging import get_logger
from parley._sync import run_sync
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.dispatch import ExecutionDispatcher
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.coding.pool import ExecutorPool

__all__ = ["DispatcherExecutor", "PoolExecutor", "chat_scope", "chat_slot", "pool_from_config", "slot_executor"]

_log = get_logger("parley.agentchat")
_scope_ids = itertools.count(1)


Release = Callable[[str], Awaitable[None]]
"""Gives a chat's slot back: ``await release(key)``."""


@dataclass
class _Scope:
    """The outermost chat running in this task: its key and how to give back each slot it took."""

    key: str
    releases: dict[int, Release] = field(default_factory=dict)

    def took(self, owner: object, release: Release) -> None:
        """Note that the chat holds a slot of ``owner`` (once per owner)."""
        self.releases.setdefault(id(owner), release)


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("parley_chat_scope", default=None)


@contextlib.asynccontextmanager
async def chat_scope(chat_id: Any) -> AsyncIterator[None]:
    """Open the slot scope of a chat, unless an outer chat has one; on leaving, give back its slots.

    Args:
        chat_id: the chat's id, for the slot's key (``chat-<id>-<n>``: unique in the process).
    """
    if _SCOPE.get() is not None:
        yield  # a nested chat, or a group chat's round: the outer chat's slot serves it
        return
    scope = _Scope(f"chat-{chat_id}-{next(_scope_ids)}")
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
        for release in scope.releases.values():
            try:
                await release(scope.key)
            except Exception as exc:  # the chat's result stands; the pool replaces what failed
                _log.warning("could not give slot %s back to its pool: %s", scope.key, exc)


def slot_executor(config: Mapping[str, Any]) -> PoolExecutor | DispatcherExecutor | None:
    """The executor for a pool or dispatcher that ``code_execution_config`` names, else None.

    Raises:
        ConfigError: ``"executor": "pool"`` without a ``"pool"`` dict, or a bad pool dict.
    """
    executor = config.get("executor")
    if isinstance(executor, ExecutionDispatcher):
        return DispatcherExecutor(executor)
    pool = pool_from_config(config)
    return PoolExecutor(pool) if pool is not None else None


def chat_slot(owner: object, release: Release) -> str | None:
    """The current chat's slot key, noting that the chat holds a slot of ``owner``; None outside a chat.

    Args:
        owner: the pool or dispatcher the slot is in (noted once per chat).
        release: how to give the slot back when the chat ends: ``await release(key)``.
    """
    scope = _SCOPE.get()
    if scope is None:
        return None
    scope.took(owner, release)
    return scope.key


def pool_from_config(config: Mapping[str, Any]) -> ExecutorPool | None:
    """The pool ``code_execution_config`` names (an instance, or ``"pool"`` with its dict), else None.

    Raises:
        ConfigError: ``"executor": "pool"`` without a ``"pool"`` dict, or a bad pool dict.
    """
    from parley.exceptions import ConfigError

    executor = config.get("executor")
    if isinstance(executor, ExecutorPool):
        return executor
    if executor == "pool":
        options = config.get("pool")
        if not isinstance(options, Mapping):
            raise ConfigError(
                "code_execution_config {'executor': 'pool'} needs the pool under 'pool', e.g. "
                "{'executor': 'pool', 'pool': {'executor': 'local', 'size': 4}}.",
                key="pool",
            )
        return ExecutorPool.from_config(options)
    return None


class _SlotExecutor:
    """What both slot executors share: the extractor, the sync shell, and `restart` of the chat's slot."""

    def __init__(self) -> None:
        self._extractor = MarkdownCodeExtractor()

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        """The extractor for the Markdown code blocks this executor runs."""
        return self._extractor

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks``; the sync form of `a_execute_code_blocks`."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` in the current chat's slot."""
        raise NotImplementedError

    async def _release(self, key: str) -> None:
        """Give the slot ``key`` back, reset."""
        raise NotImplementedError

    def restart(self) -> None:
        """Give the current chat's slot back, reset; its next call starts clean."""
        scope = _SCOPE.get()
        if scope is not None:
            run_sync(self._release(scope.key))


class PoolExecutor(_SlotExecutor):
    """A code executor that runs each call in the current chat's slot of ``pool``.

    The pool is started at the first call if it is not running yet. `restart` gives the current
    chat's slot back, reset, so its next call starts clean.

    Args:
        pool: the pool whose members run the code.
    """

    def __init__(self, pool: ExecutorPool) -> None:
        super().__init__()
        self.pool = pool

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` on the member the current chat holds (leasing one at its first call).

        Raises:
            PoolExhaustedError: no member came free within the pool's ``acquire_timeout``.
            ExecutorError: the pool is closed, or its member failed (the message says state was lost).
        """
        await self.pool.a_start()
        async with self.pool.acquire(chat_slot(self.pool, self._release)) as executor:
            return await executor.a_execute_code_blocks(list(code_blocks))

    async def _release(self, key: str) -> None:
        await self.pool.release(key, reset=True)


class DispatcherExecutor(_SlotExecutor):
    """A code executor that sends each call through ``dispatcher`` as the current chat's session.

    The dispatcher's pool is started at the first call if it is not running yet; at the chat's
    end the session is released (`ExecutionDispatcher.release_session`, which resets its slot).
    A call outside any chat is a session of its own, released after the call. `restart` releases
    the current chat's session, reset.

    Args:
        dispatcher: the dispatcher whose pool runs the code.
    """

    def __init__(self, dispatcher: ExecutionDispatcher) -> None:
        super().__init__()
        self.dispatcher = dispatcher

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Queue ``code_blocks`` as the current chat's request and return its result.

        Raises:
            DispatcherFullError: the queue is full (with ``when_full="error"``, or after waiting).
            ExecutorError: the dispatcher is closed, or the session's slot failed.
        """
        await self.dispatcher.pool.a_start()
        key = chat_slot(self.dispatcher, self._release)
        if key is not None:
            return await self.dispatcher.execute(key, list(code_blocks))
        key = f"call-{next(_scope_ids)}"  # outside any chat: a session for this call only
        try:
            return await self.dispatcher.execute(key, list(code_blocks))
        finally:
            await self.dispatcher.release_session(key)

    async def _release(self, key: str) -> None:
        await self.dispatcher.release_session(key, reset=True)
