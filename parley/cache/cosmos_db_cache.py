"""``parley.cache.cosmos_db_cache``: `CosmosDBCache` and `CosmosDBConfig` where AutoGen 0.2 users import them.

Re-exports of `parley.llm.cache.cosmos`; importing this module does not import ``azure-cosmos``.
"""

from parley.llm.cache.cosmos import CosmosDBCache, CosmosDBConfig

__all__ = ["CosmosDBCache", "CosmosDBConfig"]
