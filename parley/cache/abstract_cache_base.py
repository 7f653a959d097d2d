"""``parley.cache.abstract_cache_base``: `AbstractCache` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.AbstractCache`.
"""

from parley.llm.cache import AbstractCache

__all__ = ["AbstractCache"]
