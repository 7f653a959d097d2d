"""Sessions: one conversation's agents and the resources they hold.

A session keeps the config it was created with (a `Runtime.reload` does not change it), builds
its own agent instances on first use, and owns per-session *resources*: anything that must be
opened once for the session and closed with it (code executors; MCP client sessions plug in the
same way). A resource is opened on first use (`Session.resource`), and closed by
`Session.close_resource` (one resource, e.g. an executor a stopped run could not cancel),
`Session.release` (one owner's, e.g. an agent whose config changed), `Session.release_all`
and `Session.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parley.runtime._shared import SharedExecutors
from parley.runtime.config import RuntimeConfig

__all__ = ["Resource", "Session"]

CLOSE_DEADLINE_S = 30.0
"""The longest wait, in seconds, for one resource to close."""


@dataclass
class Resource:
    """An open per-session resource.

    Attributes:
        owner: the agent id it belongs to ("" for the session as a whole).
        value: the object itself.
        close: closes it (async, idempotent).
        release_on_reload: closed when `Runtime.reload` changes its owner's config (it is opened
            again on next use).
    """

    owner: str
    value: Any
    close: Callable[[], Awaitable[None]]
    release_on_reload: bool = False


class Session:
    """One conversation: its config snapshot, agents, teams and resources.

    Args:
        session_id: the id.
        config: the config it keeps for its whole life.
        shared: the runtime's pools and dispatchers (a session holds a slot in each it uses);
            default: a set of its own.
    """

    def __init__(self, session_id: str, config: RuntimeConfig, shared: SharedExecutors | None = None) -> None:
        self.id = session_id
        self.config = config
        self.shared = shared if shared is not None else SharedExecutors()  # the runtime's pools
        self.agents: dict[str, Any] = {}
        self.teams: dict[str, Any] = {}
        self.runs = 0
        self.lock = asyncio.Lock()  # one run at a time: a conversation has one thread
        self.closed = False
        self.offered_tools: dict[str, list[str]] = {}  # MCP toolset key -> tool names offered to its agent
        self._resources: dict[str, Resource] = {}
        self._opening: dict[str, asyncio.Future[Resource]] = {}

    async def resource(self, key: str, opener: Callable[[], Awaitable[Resource]]) -> Any:
        """The resource named ``key``, opened with ``opener`` on first use.

        Concurrent first uses share one opening. Raises whatever ``opener`` raises (and opens
        nothing), or `RuntimeError` when the session is closed.
        """
        found = self._resources.get(key)
        if found is not None:
            return found.value
        if self.closed:
            raise RuntimeError(f"session {self.id!r} is closed; start a new one.")
        pending = self._opening.get(key)
        if pending is None:
            pending = self._opening[key] = asyncio.ensure_future(opener())
            try:
                self._resources[key] = await pending
            finally:
                del self._opening[key]
            return self._resources[key].value
        return (await asyncio.shield(pending)).value

    def open_resources(self) -> list[str]:
        """The keys of the resources open now."""
        return list(self._resources)

    async def release(self, owner: str, *, reload_only: bool = False) -> None:
        """Close the resources of ``owner`` (only those marked ``release_on_reload`` if asked)."""
        keys = [k for k, r in self._resources.items() if r.owner == owner and (r.release_on_reload or not reload_only)]
        await self._close(keys)

    async def close_resource(self, key: str) -> None:
        """Close the resource named ``key``, if it is open; it is opened again when next used."""
        await self._close([key] if key in self._resources else [])

    async def release_all(self) -> None:
        """Close every open resource; each is opened again when next used."""
        await self._close(list(self._resources))

    async def close(self) -> None:
        """Close every resource and refuse new ones. Idempotent."""
        self.closed = True
        await self.release_all()

    async def _close(self, keys: list[str]) -> None:
        resources = [self._resources.pop(k) for k in keys]
        for r in resources:
            with contextlib.suppress(Exception):  # one failing close must not keep the others open
                await asyncio.wait_for(r.close(), CLOSE_DEADLINE_S)
