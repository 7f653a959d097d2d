"""Executor pools and dispatchers named in a config: one per runtime, shared by its sessions.

An ``executors:`` entry of kind ``pool`` (the options are `parley.coding.ExecutorPool.from_config`'s
dict) or ``dispatcher`` (``pool:`` that dict, and the `parley.coding.ExecutionDispatcher`
options beside it) is built once, on the first session that runs code with it, and started
then. Each session gets a slot of its own in it (keyed by session and agent), held across the
session's runs, so a pooled kernel keeps its variables from run to run; the slot is given back,
reset, when the session closes. The pools close with the runtime.

A reload that changes such an entry builds a new pool for new sessions; sessions opened before
keep theirs (each session keeps its config), and every pool closes with the runtime.
"""

from __future__ import annotations

import difflib
import inspect
import json
from collections.abc import Mapping, Sequence

from parley.coding.base import CodeBlock, CodeResult
from parley.coding.dispatch import ExecutionDispatcher
from parley.coding.pool import ExecutorPool
from parley.exceptions import ConfigError
from parley.runtime.config import ExecutorConfig

__all__ = ["SHARED_KINDS", "SharedExecutors", "SlotExecutor", "build_shared"]

SHARED_KINDS = ("dispatcher", "pool")
"""The executor kinds that a runtime shares between its sessions."""


def build_shared(spec: ExecutorConfig) -> ExecutorPool | ExecutionDispatcher:
    """The pool or dispatcher ``spec`` describes, not started (constructors do no I/O).

    Raises:
        ConfigError: a bad pool dict (see `ExecutorPool.from_config`), a dispatcher without its
            ``pool`` dict, or an unknown or bad dispatcher option (with a "did you mean").
    """
    options = dict(spec.options)
    if spec.kind == "pool":
        return ExecutorPool.from_config(options)
    pool_options = options.pop("pool", None)
    if not isinstance(pool_options, Mapping):
        raise ConfigError(
            "a dispatcher needs its pool under options.pool, e.g. "
            "{kind: dispatcher, options: {pool: {executor: local, size: 4}, batch_window_ms: 20}}.",
            key="pool",
        )
    known = [p for p in inspect.signature(ExecutionDispatcher).parameters if p not in ("pool", "on_batch")]
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise ConfigError(
                f"unknown dispatcher option {key!r}; the options are pool, {', '.join(known)}.",
                key=key,
                suggestions=close,
            )
    if "timeout_range" in options and isinstance(options["timeout_range"], list):
        options["timeout_range"] = tuple(options["timeout_range"])
    return ExecutionDispatcher(ExecutorPool.from_config(pool_options), **options)


class SharedExecutors:
    """The runtime's pools and dispatchers, one per executor entry (and version of it)."""

    def __init__(self) -> None:
        self._built: dict[str, ExecutorPool | ExecutionDispatcher] = {}

    async def get(self, executor_id: str, spec: ExecutorConfig) -> ExecutorPool | ExecutionDispatcher:
        """The started pool or dispatcher for ``spec``, built and started on first use."""
        key = f"{executor_id}:{json.dumps(spec.model_dump(), sort_keys=True, default=str)}"
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = build_shared(spec)
        pool = found.pool if isinstance(found, ExecutionDispatcher) else found
        await pool.a_start()
        return found

    async def aclose(self) -> None:
        """Close every dispatcher and pool. Idempotent."""
        built, self._built = list(self._built.values()), {}
        for item in built:
            if isinstance(item, ExecutionDispatcher):
                await item.close()
                await item.pool.a_close()
            else:
                await item.a_close()


class SlotExecutor:
    """A code executor running on one session's slot of a shared pool or dispatcher.

    Args:
        shared: the pool or dispatcher.
        key: the slot's key (the session's and agent's).
    """

    def __init__(self, shared: ExecutorPool | ExecutionDispatcher, key: str) -> None:
        self._shared = shared
        self._key = key

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run the blocks on the slot (a pool's member, or a dispatcher's queue as the session).

        Raises:
            parley.exceptions.PoolExhaustedError: no member came free in time.
            parley.exceptions.ExecutorError: the pool or dispatcher is closed, or the slot failed.
        """
        if isinstance(self._shared, ExecutionDispatcher):
            return await self._shared.execute(self._key, list(code_blocks))
        async with self._shared.acquire(self._key) as executor:
            return await executor.a_execute_code_blocks(list(code_blocks))

    async def release(self) -> None:
        """Give the slot back, reset (its state is gone)."""
        if isinstance(self._shared, ExecutionDispatcher):
            await self._shared.release_session(self._key, reset=True)
        else:
            await self._shared.release(self._key, reset=True)

    def restart(self) -> None:
        """Give the slot back, reset; the next call starts clean."""
        from parley._sync import run_sync

        run_sync(self.release())
