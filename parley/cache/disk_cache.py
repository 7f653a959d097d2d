"""``parley.cache.disk_cache``: `DiskCache` where AutoGen 0.2 users import it.

A re-export of `parley.llm.cache.DiskCache`.
"""

from parley.llm.cache import DiskCache

__all__ = ["DiskCache"]
