"""``parley.cache``: the cache classes where AutoGen 0.2 users import them (``autogen.cache``).

Re-exports only; the implementations live in `parley.llm.cache`.
"""

from parley.llm.cache import AbstractCache, Cache, DiskCache, InMemoryCache, RedisCache

__all__ = ["AbstractCache", "Cache", "DiskCache", "InMemoryCache", "RedisCache"]
