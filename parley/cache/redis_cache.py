"""``parley.cache.redis_cache``: `RedisCache` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.RedisCache`.
"""

from parley.llm.cache import RedisCache

__all__ = ["RedisCache"]
