"""``parley.cache.cache``: `Cache` where AutoGen 0.2 users import it. A re-export of `parley.llm.cache.Cache`."""

from parley.llm.cache import Cache

__all__ = ["Cache"]
