"""``parley.cache.cache_factory``: `CacheFactory` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.factory.CacheFactory`, the same class: patching
``parley.cache.cache_factory.CacheFactory.cache_factory`` changes what every `parley.cache.Cache`
made from a config is built on.
"""

from parley.llm.cache.factory import CacheFactory

__all__ = ["CacheFactory"]
