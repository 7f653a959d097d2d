"""Pools as an agent's executor: each chat runs its code in a slot of its own, for the whole chat.

``code_execution_config={"executor": pool}`` (an `parley.coding.ExecutorPool`), or
``{"executor": "pool", "pool": {...}}`` (the pool's `ExecutorPool.from_config` dict), gives the
agent a `PoolExecutor`: a code executor that runs each call on the member the *current chat*
holds in the pool. The chat is the outermost chat running in this task: a nested chat, a group
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
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley._sync import run_sync
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.coding.pool import ExecutorPool

__all__ = ["PoolExecutor", "chat_scope", "pool_from_config"]

_log = logging.getLogger("parley.agentchat")
_scope_ids = itertools.count(1)


@dataclass
class _Scope:
    """The outermost chat running in this task: its pool key and the pools it leased from."""

    key: str
    pools: list[ExecutorPool] = field(default_factory=list)


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
        for pool in scope.pools:
            try:
                await pool.release(scope.key, reset=True)
            except Exception as exc:  # the chat's result stands; the pool replaces what failed
                _log.warning("could not give slot %s back to its pool: %s", scope.key, exc)


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


class PoolExecutor:
    """A code executor that runs each call in the current chat's slot of ``pool``.

    The pool is started at the first call if it is not running yet. `restart` gives the current
    chat's slot back, reset, so its next call starts clean.

    Args:
        pool: the pool whose members run the code.
    """

    def __init__(self, pool: ExecutorPool) -> None:
        self.pool = pool
        self._extractor = MarkdownCodeExtractor()

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        """The extractor for the Markdown code blocks this executor runs."""
        return self._extractor

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks``; the sync form of `a_execute_code_blocks`."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` on the member the current chat holds (leasing one at its first call).

        Raises:
            PoolExhaustedError: no member came free within the pool's ``acquire_timeout``.
            ExecutorError: the pool is closed, or its member failed (the message says state was lost).
        """
        await self.pool.a_start()
        scope = _SCOPE.get()
        if scope is not None and self.pool not in scope.pools:
            scope.pools.append(self.pool)
        async with self.pool.acquire(scope.key if scope is not None else None) as executor:
            return await executor.a_execute_code_blocks(list(code_blocks))

    def restart(self) -> None:
        """Give the current chat's slot back, reset; its next call runs on a clean member."""
        scope = _SCOPE.get()
        if scope is not None:
            run_sync(self.pool.release(scope.key, reset=True))
