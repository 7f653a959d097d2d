"""``parley.cache.redis_cache``: `RedisCache` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.RedisCache`. The module attribute ``redis`` is the ``redis``
package, imported on first access (by `parley.llm.cache.redis`, its one adapter module), so 0.2
code that patches ``parley.cache.redis_cache.redis.Redis.from_url`` works, and importing this
module imports no ``redis``.
"""

from typing import Any

from parley.llm.cache import RedisCache

__all__ = ["RedisCache"]


def __getattr__(name: str) -> Any:
    if name == "redis":
        from parley.llm.cache.redis import redis_module

        return redis_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
