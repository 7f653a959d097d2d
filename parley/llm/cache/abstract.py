"""`CacheBackend`: the storage under a `parley.llm.cache.Cache`.

A backend maps string keys to string values and nothing more: `Cache` does the JSON, the key
hashing and the threading. Its methods are plain blocking calls. `Cache` runs every one of them
on its own worker thread, never on an event loop, so a backend may wait on a lock, a disk or a
socket without stalling other chats.

Two backends ship with parley: `parley.llm.cache.disk.DiskCacheBackend` (SQLite) and
`parley.llm.cache.redis.RedisCacheBackend`.

A backend may also offer ``get_nowait(key) -> (answered, value)``: a read that never waits on a
lock, a socket or a slow disk, which `Cache` tries on the caller's thread before handing the
read to its worker thread. It returns ``(False, None)`` whenever it would have to wait.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, runtime_checkable

__all__ = ["AbstractCache", "CacheBackend"]


@runtime_checkable
class AbstractCache(Protocol):
    """What AutoGen 0.2 code expects of a cache: sync ``get``/``set``/``close`` and ``with``.

    Every `parley.llm.cache.Cache` (and so `DiskCache`, `RedisCache`, `InMemoryCache`) is one.
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...

    def __enter__(self) -> Any:
        """Enter a ``with`` block; returns the cache."""
        ...

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        """Close the cache."""
        ...


@runtime_checkable
class CacheBackend(Protocol):
    """Blocking string-to-string storage, opened on first use.

    The constructor must do no I/O: the first `get` or `set` opens the store. `close` releases
    it and may be called more than once. Implementations raise `parley.exceptions.CacheError`
    with the store's location (secrets redacted) when the store fails.
    """

    def get(self, key: str) -> str | None:
        """Return the value stored under ``key``, or None when there is none."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value, atomically."""
        ...

    def close(self) -> None:
        """Release the store; safe to call twice, or before first use."""
        ...
