"""`RedisCacheBackend`: a cache in Redis, shared by every process that can reach the server.

This is the only module that imports the ``redis`` package (the ``pyparley[redis]`` extra), and
it does so when a backend is made, never when parley is imported; the module attribute ``redis``
(here and in ``parley.cache.redis_cache``, where AutoGen 0.2 code and tests look it up) imports
it on first access. It uses redis-py's blocking client: `parley.llm.cache.Cache` calls it
from its worker threads, never on an event loop, and the client's connection pool is
thread-safe and works for every event loop alike (redis-py's asyncio client is bound to one).

Each key is stored as ``<prefix><key>`` with a plain ``SET``, which Redis applies atomically,
so concurrent writers in any number of processes each leave one whole value.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from parley.exceptions import CacheError, ConfigError, MissingDependencyError

__all__ = ["CONNECT_TIMEOUT_S", "SOCKET_TIMEOUT_S", "RedisCacheBackend", "redact_url", "redis_module"]

CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for a connection to the Redis server."""

SOCKET_TIMEOUT_S = 10.0
"""Seconds to wait for the server's answer to one command."""


def redis_module() -> ModuleType:
    """The ``redis`` package, imported now if it was not yet.

    Raises:
        MissingDependencyError: it is not installed (``pip install 'pyparley[redis]'``).
    """
    try:
        import redis
    except ImportError:
        raise MissingDependencyError("redis", "redis") from None
    return redis


def __getattr__(name: str) -> Any:
    if name == "redis":
        return redis_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``redis://:***@host:6379/0``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_redis_url(url: Any) -> str:
    """Check that ``url`` is a Redis URL.

    Returns:
        ``url``.

    Raises:
        ConfigError: ``url`` is not a ``redis://``, ``rediss://`` or ``unix://`` URL string.
    """
    if not isinstance(url, str) or urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        shown = redact_url(url) if isinstance(url, str) else repr(url)
        raise ConfigError(
            f"redis_url must be a URL such as 'redis://localhost:6379/0' (or rediss://, unix://), got {shown!r}.",
            key="redis_url",
        )
    return url


class RedisCacheBackend:
    """A `parley.llm.cache.abstract.CacheBackend` on a Redis server.

    Args:
        redis_url: the server, e.g. ``"redis://localhost:6379/0"``; a password in it is never
            shown in reprs or errors.
        prefix: put before every key, e.g. ``"parley:42:"`` for cache seed 42.

    Raises:
        ConfigError: ``redis_url`` is not a Redis URL.
        MissingDependencyError: the ``redis`` package is not installed.

    The constructor makes the ``redis.Redis`` client (``client``) but does no I/O: redis-py
    connects on the first command, so the first `get` or `set` connects.
    """

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._url = check_redis_url(redis_url)
        self.prefix = prefix
        self._lock = threading.Lock()
        self.client: Any = None
        """The ``redis.Redis`` client; None after `close`."""
        self.client = self._new_client()

    def _new_client(self) -> Any:
        # from_url(url) alone, as AutoGen 0.2 calls it (its tests check that call); the deadlines
        # go into the pool's connection arguments, which apply to every connection it opens.
        client = redis_module().Redis.from_url(self._url)
        client.connection_pool.connection_kwargs.update(
            socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
        )
        return client

    @property
    def url(self) -> str:
        """The server's URL, password redacted."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"RedisCacheBackend({self.url!r}, prefix={self.prefix!r})"

    def _connected(self) -> Any:
        with self._lock:
            if self.client is None:
                self.client = self._new_client()
            return self.client

    def _error(self, what: str, exc: Exception) -> CacheError:
        text = str(exc)
        password = urlsplit(self._url).password
        if password:
            text = text.replace(password, "***")
        return CacheError(f"The Redis cache at {self.url} {what}: {type(exc).__name__}: {text}")

    def get(self, key: str) -> str | None:
        """Return the value stored under ``prefix + key``, or None (also when it is not UTF-8 text).

        Raises:
            CacheError: the server cannot be reached or answered with an error.
        """
        import redis

        try:
            value = self._connected().get(self.prefix + key)
        except redis.RedisError as exc:
            raise self._error("cannot be read", exc) from None
        if value is None:
            return None
        try:
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError:  # not parley's JSON (another program's, 0.2's pickles): a miss
            return None

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``prefix + key`` (one atomic ``SET``).

        Raises:
            CacheError: the server cannot be reached or answered with an error.
        """
        import redis

        try:
            self._connected().set(self.prefix + key, value.encode("utf-8"))
        except redis.RedisError as exc:
            raise self._error("cannot be written", exc) from None

    def close(self) -> None:
        """Close the connection pool; safe to call twice, or before first use."""
        with self._lock:
            client, self.client = self.client, None
        if client is not None:
            client.close()
