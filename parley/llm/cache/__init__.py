"""The model-reply cache: off unless asked for, on disk (SQLite) or in Redis.

Ask for it in one of three ways; the first that applies wins:

1. ``params={"cache": cache}`` on one `parley.llm.OpenAIWrapper.create` call;
2. ``initiate_chat(..., cache=cache)``: every model call in that chat, by either agent;
3. ``"cache_seed": 42`` in an agent's ``llm_config``: a disk cache under ``.cache/42/``.

A cached reply comes back with ``cached=True``: it counts in total usage, not in actual usage.
The key is the SHA-256 of the canonical request (`request_key`). Importing this package opens
nothing and imports neither ``sqlite3`` nor ``redis``.
"""

from parley.llm.cache._cache import (
    CHAT_CACHE,
    DEFAULT_CACHE_PATH_ROOT,
    DEFAULT_CACHE_SEED,
    DEFAULT_REDIS_URL,
    Cache,
    check_cache,
    check_cache_seed,
    seed_cache,
)
from parley.llm.cache._key import KEY_VERSION, NOT_IN_KEY, request_key
from parley.llm.cache.abstract import AbstractCache, CacheBackend
from parley.llm.cache.kinds import DiskCache, InMemoryCache, MemoryCacheBackend, RedisCache

__all__ = [
    "AbstractCache",
    "CHAT_CACHE",
    "Cache",
    "CacheBackend",
    "DEFAULT_CACHE_PATH_ROOT",
    "DEFAULT_CACHE_SEED",
    "DEFAULT_REDIS_URL",
    "DiskCache",
    "InMemoryCache",
    "KEY_VERSION",
    "MemoryCacheBackend",
    "NOT_IN_KEY",
    "RedisCache",
    "check_cache",
    "check_cache_seed",
    "request_key",
    "seed_cache",
]
