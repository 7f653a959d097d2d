"""`CacheFactory`: builds the store a `parley.llm.cache.Cache` config asks for (AutoGen 0.2's ``CacheFactory``).

`parley.llm.cache.Cache` calls ``CacheFactory.cache_factory`` for every cache made from a config
(``Cache({...})``, `Cache.disk`, `Cache.redis`, `Cache.cosmos_db`), looking the method up at that
moment, so code (or a test) that replaces it changes what every such cache is built on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from parley.exceptions import ConfigError
from parley.llm.cache._cache import DEFAULT_CACHE_PATH_ROOT, Cache, check_cache_seed

__all__ = ["CacheFactory"]


class CacheFactory:
    """Chooses and builds a cache store, as AutoGen 0.2's ``CacheFactory`` does."""

    @staticmethod
    def cache_factory(
        seed: int | str,
        redis_url: str | None = None,
        cache_path_root: str | os.PathLike[str] | None = DEFAULT_CACHE_PATH_ROOT,
        cosmosdb_config: Mapping[str, Any] | None = None,
    ) -> Cache:
        """Build the store: Redis if ``redis_url`` is given, else Cosmos DB if ``cosmosdb_config`` is, else disk.

        Args:
            seed: names the cache (an int, or letters, digits, ``_``, ``.``, ``-``); kept as given.
            redis_url: a Redis server, e.g. ``"redis://localhost:6379/0"``: a `RedisCache`.
            cache_path_root: the folder of disk caches; the cache is the SQLite file
                ``<cache_path_root>/<seed>/cache.sqlite3`` (a `DiskCache`). None means ``".cache"``.
                Resolved against the working directory now.
            cosmosdb_config: a `parley.llm.cache.cosmos.CosmosDBConfig`: a
                `parley.llm.cache.cosmos.CosmosDBCache`.

        Returns:
            The store, not opened yet (nothing is connected or created before the first read or write).

        Raises:
            ConfigError: a bad seed, URL, folder or Cosmos DB config.
            MissingDependencyError: ``redis`` (for ``redis_url``) or ``azure-cosmos`` (for
                ``cosmosdb_config``) is not installed. 0.2 fell back to a disk cache with a logged
                warning instead, which left a misconfigured team caching on each machine's disk.
        """
        from parley.llm.cache.kinds import DiskCache, RedisCache

        seed = check_cache_seed(seed)
        if redis_url is not None:
            return RedisCache(seed, redis_url)
        if cosmosdb_config is not None:
            from parley.llm.cache.cosmos import CosmosDBCache

            return CosmosDBCache.create_cache(seed, cosmosdb_config)
        root = DEFAULT_CACHE_PATH_ROOT if cache_path_root is None else cache_path_root
        if not isinstance(root, (str, os.PathLike)):
            raise ConfigError(f"cache_path_root must be a folder path, got {root!r}.", key="cache_path_root")
        directory = os.path.join(os.path.abspath(root), str(seed))
        return DiskCache(directory)
