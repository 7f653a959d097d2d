"""``parley.cache.in_memory_cache``: `InMemoryCache` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.InMemoryCache`.
"""

from parley.llm.cache import InMemoryCache

__all__ = ["InMemoryCache"]
