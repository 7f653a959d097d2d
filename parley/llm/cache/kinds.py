"""`DiskCache`, `RedisCache`, `InMemoryCache`: a `Cache` on one store, made as AutoGen 0.2 makes its caches.

AutoGen 0.2 code builds these directly (``DiskCache(seed)``, ``RedisCache(seed, redis_url)``,
``InMemoryCache(seed="")``) and uses ``get(key, default)``, ``set(key, value)``, ``close()`` and
``with``. Each is a `Cache`, so it also works anywhere parley takes one (``initiate_chat(cache=)``,
``OpenAIWrapper(cache=)``). Values are stored as JSON, as every parley cache stores them.

`MemoryCacheBackend` is the store of `InMemoryCache`: a dict, kept for the life of the object.
"""

from __future__ import annotations

import os
import threading

from parley.llm.cache._cache import DEFAULT_REDIS_URL, Cache, check_cache_seed

__all__ = ["DiskCache", "InMemoryCache", "MemoryCacheBackend", "RedisCache"]


class MemoryCacheBackend:
    """A `parley.llm.cache.CacheBackend` in a dict: nothing is shared between processes or kept after exit."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryCacheBackend({len(self._data)} entries)"

    def get(self, key: str) -> str | None:
        """The value under ``key``, or None."""
        return self._data.get(key)

    def get_nowait(self, key: str) -> tuple[bool, str | None]:
        """The same as `get`, which never waits: ``(True, value)``."""
        return True, self._data.get(key)

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        with self._lock:
            self._data[key] = value

    def close(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()


class DiskCache(Cache):
    """A cache in the SQLite file ``<seed>/cache.sqlite3``: the seed is a folder (AutoGen 0.2's ``DiskCache``).

    Args:
        seed: the folder, made on first use; relative paths are resolved now.

    ``Cache.disk(cache_seed, cache_path_root)`` is the same with the folder
    ``<cache_path_root>/<cache_seed>``.
    """

    FACTORY_NAME = "Cache.disk"
    """How `Cache` shows a cache made from a config on this store."""

    def __init__(self, seed: str | int | os.PathLike[str]) -> None:
        from parley.llm.cache.disk import DiskCacheBackend

        directory = os.path.abspath(os.fspath(seed) if not isinstance(seed, int) else str(seed))
        self.seed = seed
        self.config_repr = f"cache_path_root={os.path.dirname(directory)!r}"
        self._attach(os.path.basename(directory), DiskCacheBackend(directory), 1, f"path={directory!r}")


class RedisCache(Cache):
    """A cache on a Redis server, under keys ``parley:<seed>:<sha256>`` (AutoGen 0.2's ``RedisCache``).

    Args:
        seed: names the cache (letters, digits, ``_``, ``.``, ``-``).
        redis_url: the server; a password in it is never shown. Default ``redis://localhost:6379/0``.

    Raises:
        ConfigError: a bad seed or URL.
        MissingDependencyError: the ``redis`` package is missing.

    As in 0.2, ``cache`` is the ``redis.Redis`` client, made here by ``redis.Redis.from_url``
    (which connects to nothing: the first read or write does).
    """

    FACTORY_NAME = "Cache.redis"
    """How `Cache` shows a cache made from a config on this store."""

    def __init__(self, seed: str | int, redis_url: str = DEFAULT_REDIS_URL) -> None:
        from parley.llm.cache.redis import RedisCacheBackend

        checked = check_cache_seed(seed)
        backend = RedisCacheBackend(redis_url, prefix=f"parley:{checked}:")
        self.seed = seed
        self.config_repr = f"redis_url={backend.url!r}"
        self._attach(checked, backend, 4, self.config_repr)
        self.cache = backend.client


class InMemoryCache(Cache):
    """A cache in this process's memory, gone when the object is (AutoGen 0.2's ``InMemoryCache``).

    Args:
        seed: names the cache; part of every key. Default ``""``.
    """

    def __init__(self, seed: str | int = "") -> None:
        self.seed = seed
        self._attach(seed, MemoryCacheBackend(), 1, "in memory")
