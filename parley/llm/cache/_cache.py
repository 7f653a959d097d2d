"""`Cache`: model replies stored on disk or in Redis, keyed by the request, shared across processes."""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from parley.exceptions import CacheError, ConfigError
from parley.llm.cache._key import decode_response, encode_response
from parley.llm.cache.abstract import CacheBackend
from parley.llm.types import ModelResponse

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "CHAT_CACHE",
    "DEFAULT_CACHE_PATH_ROOT",
    "DEFAULT_CACHE_SEED",
    "DEFAULT_REDIS_URL",
    "Cache",
    "check_cache",
    "check_cache_seed",
    "seed_cache",
]

T = TypeVar("T")

DEFAULT_CACHE_SEED = 42
"""The seed `Cache.disk` and `Cache.redis` use when given none (AutoGen 0.2's default)."""

DEFAULT_CACHE_PATH_ROOT = ".cache"
"""Where disk caches live unless told otherwise, relative to the working directory (as in AutoGen 0.2)."""

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
"""The Redis server `Cache.redis` uses when given none."""

CHAT_CACHE: ContextVar[Cache | None] = ContextVar("parley_chat_cache", default=None)
"""The cache of the chat running in this context (``initiate_chat(..., cache=...)``), or None.

The agent layer sets it for the length of a chat; `parley.llm.OpenAIWrapper` reads it on every
call, so every model call in the chat, by any agent, uses that cache."""

_SEED_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CONFIG_KEYS = ("cache_seed", "cache_path_root", "cosmos_db_config", "redis_url")


def check_cache_seed(seed: Any) -> int | str:
    """Check a cache seed: an int, or a string of letters, digits, ``_``, ``.`` and ``-``.

    The seed names a folder under the disk cache's root and a key prefix in Redis, and is part of
    every cache key: a new seed starts an empty cache.

    Raises:
        ConfigError: any other value, such as a bool, a float or ``"../x"``.
    """
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    if isinstance(seed, str) and _SEED_RE.fullmatch(seed):
        return seed
    raise ConfigError(
        f"cache_seed must be an int or a string of letters, digits, '_', '.' and '-' (not starting with '.'), "
        f"got {seed!r}. Use None for no cache.",
        key="cache_seed",
    )


class Cache:
    """A store of model replies, keyed by a hash of the request (see `parley.llm.cache._key`).

    Make one with `Cache.disk` (an SQLite file), `Cache.redis` or `Cache.cosmos_db`, or, as in
    AutoGen 0.2, from a config dict: ``Cache({"cache_seed": 42, "redis_url": "redis://..."})`` is a
    Redis cache, ``Cache({"cache_seed": 42, "cosmos_db_config": {...}})`` a Cosmos DB cache, and
    ``Cache({"cache_seed": 42, "cache_path_root": ".cache"})`` (or no store key) a disk cache.

    A `Cache` made from a config builds its store with
    `parley.llm.cache.factory.CacheFactory.cache_factory` (AutoGen 0.2's ``CacheFactory``) and
    hands every call to it: the store is the attribute ``cache`` (a `DiskCache`, `RedisCache` or
    `parley.llm.cache.cosmos.CosmosDBCache`), and ``with Cache(config) as c`` gives the store, as
    in 0.2. The store classes are `Cache` objects themselves, usable anywhere a `Cache` is.

    Args:
        config: ``cache_seed`` (default 42, kept as given: an int stays an int), and at most one
            store: ``redis_url``, ``cosmos_db_config`` (see `parley.llm.cache.cosmos.CosmosDBConfig`)
            or ``cache_path_root`` (default ``".cache"``). When several are given, the first of
            that order is used, as in 0.2.

    Raises:
        ConfigError: an unknown key (with a "did you mean"), or a bad seed, URL, path or Cosmos
            DB config.
        MissingDependencyError: the chosen store's package (``redis``, ``azure-cosmos``) is missing.

    Nothing is opened until the first read or write, and then only once: the connection is kept
    until `close`. Reads and writes that may wait run on the cache's own worker thread, so the
    event loop never waits on a lock, the disk or the network; a disk cache first tries a read
    that cannot wait, on the calling thread (see `parley.llm.cache.disk`). A `Cache` is a sync
    and async context manager whose exit calls `close`. Pass it as ``cache=`` to
    ``initiate_chat`` (every model call of the chat), or in ``params={"cache": cache}`` to
    `parley.llm.OpenAIWrapper.create` (one call).
    """

    cache: Any
    """The store this cache hands its calls to (a cache made from a config), or the store's client."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise ConfigError(f"Cache(config) takes a dict such as {{'cache_seed': 42}}, got {config!r}.")
        for key in config:
            if key not in _CONFIG_KEYS:
                near = difflib.get_close_matches(str(key), _CONFIG_KEYS, n=1)
                raise ConfigError(f"Unknown Cache config key {key!r}.", key=str(key), suggestions=near)
        seed = check_cache_seed(config.get("cache_seed", DEFAULT_CACHE_SEED))
        from parley.llm.cache.factory import CacheFactory  # a late import: the factory builds Cache subclasses

        self.config = dict(config)
        self._seed: int | str = seed
        self._store: Cache | None = CacheFactory.cache_factory(
            seed=seed,
            redis_url=config.get("redis_url"),
            cache_path_root=config.get("cache_path_root"),
            cosmosdb_config=config.get("cosmos_db_config"),
        )
        self.cache = self._store

    def _attach(self, seed: int | str, backend: CacheBackend, workers: int, where: str) -> None:
        """Use ``backend`` (not opened yet), with ``workers`` threads; ``where`` is shown in the repr."""
        self._seed = seed
        self._store = None
        self.cache = backend
        self._backend = backend
        self._workers = workers
        self._where = where
        self._nowait: Callable[[str], tuple[bool, str | None]] | None = getattr(self._backend, "get_nowait", None)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    @classmethod
    def disk(
        cls,
        cache_seed: int | str = DEFAULT_CACHE_SEED,
        cache_path_root: str | os.PathLike[str] = DEFAULT_CACHE_PATH_ROOT,
    ) -> Cache:
        """A cache in the SQLite file ``<cache_path_root>/<cache_seed>/cache.sqlite3``.

        Safe with many chats and several processes writing at once (WAL journal, a busy timeout,
        one atomic statement per write; see `parley.llm.cache.disk`).

        Args:
            cache_seed: names the cache; a new seed starts an empty one. Default 42.
            cache_path_root: the folder that holds one sub-folder per seed, made on first use.
                Default ``".cache"``, resolved against the working directory now.

        Raises:
            ConfigError: a bad seed or path.
        """
        return cls({"cache_seed": cache_seed, "cache_path_root": cache_path_root})

    @classmethod
    def redis(cls, cache_seed: int | str = DEFAULT_CACHE_SEED, redis_url: str = DEFAULT_REDIS_URL) -> Cache:
        """A cache on a Redis server, under keys ``parley:<cache_seed>:<sha256>``.

        Args:
            cache_seed: names the cache; a new seed starts an empty one. Default 42.
            redis_url: the server. Default ``"redis://localhost:6379/0"``. A password in it is
                never shown.

        Raises:
            ConfigError: a bad seed or URL.
            MissingDependencyError: the ``redis`` package is missing (``pip install 'pyparley[redis]'``).
        """
        return cls({"cache_seed": cache_seed, "redis_url": redis_url})

    @classmethod
    def cosmos_db(
        cls,
        connection_string: str | None = None,
        container_id: str | None = None,
        cache_seed: int | str = DEFAULT_CACHE_SEED,
        client: Any = None,
    ) -> Cache:
        """A cache in an Azure Cosmos DB container of the database ``parley_cache`` (AutoGen 0.2's ``Cache.cosmos_db``).

        Needs the ``azure-cosmos`` package (``pip install 'pyparley[cosmos]'``). Each entry is an
        item ``{"id": key, "partitionKey": str(cache_seed), "data": <JSON text>}``; see
        `parley.llm.cache.cosmos`.

        Args:
            connection_string: the account's connection string (``AccountEndpoint=...;AccountKey=...;``).
                Never shown in reprs or errors. Not needed when ``client`` is given.
            container_id: the container, created on first use if missing (partition key
                ``/partitionKey``).
            cache_seed: names the cache (the partition); a new seed starts an empty one. Default 42.
            client: an ``azure.cosmos.CosmosClient`` to use instead of a connection string; the
                cache never closes it.

        Raises:
            ConfigError: no container, or neither a connection string nor a client.
            MissingDependencyError: ``azure-cosmos`` is not installed.
        """
        from parley.llm.cache.cosmos import DEFAULT_DATABASE_ID

        cosmos_db_config = {
            "connection_string": connection_string,
            "database_id": DEFAULT_DATABASE_ID,
            "container_id": container_id,
            "client": client,
        }
        return cls({"cache_seed": cache_seed, "cosmos_db_config": cosmos_db_config})

    @property
    def cache_seed(self) -> int | str:
        """The seed: part of every key, and the name of the cache's folder or key prefix."""
        return self._seed

    def __repr__(self) -> str:
        if self._store is None:
            return f"{type(self).__name__}(cache_seed={self._seed!r}, {self._where})"
        kind, shown = getattr(self._store, "FACTORY_NAME", None), getattr(self._store, "config_repr", None)
        if type(self) is Cache and isinstance(kind, str) and isinstance(shown, str):
            return f"{kind}(cache_seed={self._seed!r}, {shown})"
        return f"{type(self).__name__}(cache_seed={self._seed!r}, cache={self._store!r})"

    # -- the one path to the backend ---------------------------------------------------------------

    async def _run(self, fn: Callable[[CacheBackend], T]) -> T:
        with self._lock:
            if self._closed:
                raise CacheError(f"{self!r} is closed; make a new Cache to keep caching.")
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="parley-cache")
            executor = self._executor
        return await asyncio.get_running_loop().run_in_executor(executor, fn, self._backend)

    async def _get_text(self, key: str) -> str | None:
        if self._nowait is not None and not self._closed:
            answered, text = self._nowait(key)
            if answered:
                return text
        return await self._run(lambda backend: backend.get(key))

    async def aget(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default`` when there is none.

        Raises:
            CacheError: the store failed (the message names it), or the cache is closed.
        """
        if self._store is not None:
            return await self._store.aget(key, default)
        text = await self._get_text(key)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return default

    async def aset(self, key: str, value: Any) -> None:
        """Store ``value`` (anything `json.dumps` takes) under ``key``, replacing any earlier value.

        Raises:
            TypeError: ``value`` is not JSON-serializable.
            CacheError: the store failed, or the cache is closed.
        """
        if self._store is not None:
            return await self._store.aset(key, value)
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        await self._run(lambda backend: backend.set(key, text))

    def get(self, key: str, default: Any = None) -> Any:
        """Sync shell over `aget` (a cache made from a config calls its store's ``get(key, default)``)."""
        if self._store is not None:
            return self._store.get(key, default)
        from parley._sync import run_sync

        return run_sync(self.aget(key, default))

    def set(self, key: str, value: Any) -> None:
        """Sync shell over `aset` (a cache made from a config calls its store's ``set(key, value)``)."""
        if self._store is not None:
            return self._store.set(key, value)
        from parley._sync import run_sync

        run_sync(self.aset(key, value))

    async def aget_response(self, key: str) -> ModelResponse | None:
        """The model response stored under ``key``, marked ``cached=True``; None on a miss.

        An entry that does not decode as a response (another program's, an older format) is a miss.

        Raises:
            CacheError: the store failed, or the cache is closed.
        """
        if self._store is not None:
            return await self._store.aget_response(key)
        text = await self._get_text(key)
        return None if text is None else decode_response(text)

    async def aset_response(self, key: str, response: ModelResponse) -> bool:
        """Store ``response`` under ``key`` if it is well formed (content or tool calls, JSON data).

        Returns:
            Whether it was stored.

        Raises:
            CacheError: the store failed, or the cache is closed.
        """
        if self._store is not None:
            return await self._store.aset_response(key, response)
        text = encode_response(response)
        if text is None:
            return False
        await self._run(lambda backend: backend.set(key, text))
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Wait for pending reads and writes, then close the store. Safe to call twice."""
        if self._store is not None:
            return await self._store.aclose()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is None:
            self._backend.close()  # never opened: nothing to wait for
            return

        def shutdown() -> None:
            executor.shutdown(wait=True)
            self._backend.close()

        await asyncio.to_thread(shutdown)

    def close(self) -> None:
        """Sync shell over `aclose` (a cache made from a config calls its store's ``close()``)."""
        if self._store is not None:
            return self._store.close()
        from parley._sync import run_sync

        run_sync(self.aclose())

    def __enter__(self) -> Cache:
        """Enter a ``with`` block: the cache, or for a cache made from a config its store (as in 0.2)."""
        if self._store is not None:
            return self._store.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        """Leave a ``with`` block: close the cache (a cache made from a config: its store's ``__exit__``)."""
        if self._store is not None:
            return self._store.__exit__(et, ev, tb)
        self.close()

    async def __aenter__(self) -> Cache:
        if self._store is not None:
            return await self._store.__aenter__()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def check_cache(value: Any, key: str = "cache") -> Cache | None:
    """Check a ``cache=`` argument: None, or a `Cache`.

    Raises:
        ConfigError: anything else; the message shows how to make a cache.
    """
    if value is None or isinstance(value, Cache):
        return value
    raise ConfigError(
        f"{key} must be a parley Cache, such as Cache.disk(cache_seed=42) or "
        f"Cache.redis(cache_seed=42, redis_url='redis://localhost:6379/0'), or None; got {type(value).__name__}. "
        "(For a seed alone, put cache_seed in llm_config.)",
        key=key,
    )


_seed_caches: weakref.WeakValueDictionary[str, Cache] = weakref.WeakValueDictionary()
_seed_lock = threading.Lock()


def seed_cache(cache_seed: Any) -> Cache | None:
    """The disk cache for an ``llm_config`` ``cache_seed``: one per seed folder in this process.

    Args:
        cache_seed: the seed; None means no cache.

    Returns:
        `Cache.disk` under `DEFAULT_CACHE_PATH_ROOT` (resolved now), shared by every caller that
        names the same folder while any of them holds it; None for a None seed.

    Raises:
        ConfigError: a bad seed.
    """
    if cache_seed is None:
        return None
    seed = check_cache_seed(cache_seed)
    folder = os.path.join(os.path.abspath(DEFAULT_CACHE_PATH_ROOT), str(seed))
    with _seed_lock:
        cache = _seed_caches.get(folder)
        if cache is None:
            cache = Cache.disk(seed)
            _seed_caches[folder] = cache
        return cache
