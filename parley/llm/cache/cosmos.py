"""`CosmosDBCache`: a cache in an Azure Cosmos DB container (AutoGen 0.2's ``CosmosDBCache``).

This is the only module that imports the ``azure-cosmos`` SDK (the ``pyparley[cosmos]`` extra),
and it does so when a cache is made, never when parley is imported. It uses the SDK's blocking
client: `parley.llm.cache.Cache` calls it from its worker threads, never on an event loop.

Each entry is one item of the container, ``{"id": key, "partitionKey": str(seed), "data": text}``,
where ``text`` is the JSON text every parley cache stores (0.2 stored a pickle there; parley never
unpickles what a shared store hands back, so such an item reads as a miss). The seed is the
partition, so caches with different seeds share a container without meeting. A write is one
``upsert_item``, which Cosmos DB applies atomically. The SDK's own timeouts and retry policy bound
every request.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any, TypedDict

from parley.exceptions import CacheError, ConfigError, MissingDependencyError
from parley.llm.cache._cache import Cache, check_cache_seed

__all__ = ["DEFAULT_DATABASE_ID", "CosmosDBCache", "CosmosDBCacheBackend", "CosmosDBConfig", "cosmos_sdk"]

DEFAULT_DATABASE_ID = "parley_cache"
"""The database `parley.llm.cache.Cache.cosmos_db` uses, and a config without ``database_id``."""

PARTITION_KEY_PATH = "/partitionKey"
"""The partition key path of a container the cache creates (0.2's)."""

_BAD_ID_CHARS = ("/", "\\", "?", "#")


class CosmosDBConfig(TypedDict, total=False):
    """The ``cosmos_db_config`` of a `parley.llm.cache.Cache` config, as in AutoGen 0.2.

    Attributes:
        connection_string: ``AccountEndpoint=https://...;AccountKey=...;``; not needed with ``client``.
        database_id: the database, which must exist. Default ``"parley_cache"``.
        container_id: the container, created on first use if it does not exist.
        cache_seed: accepted for 0.2's configs and not used: the seed is the cache's ``cache_seed``.
        client: an ``azure.cosmos.CosmosClient`` to use (the cache never closes it).
    """

    connection_string: str
    database_id: str
    container_id: str
    cache_seed: int | str | None
    client: Any


_KEYS = tuple(CosmosDBConfig.__annotations__)


def cosmos_sdk() -> ModuleType:
    """The ``azure.cosmos`` package, imported now if it was not yet.

    Raises:
        MissingDependencyError: it is not installed (``pip install 'pyparley[cosmos]'``).
    """
    try:
        import azure.cosmos
    except ImportError:
        raise MissingDependencyError("azure-cosmos", "cosmos") from None
    return azure.cosmos


def _endpoint(connection_string: str) -> str:
    """The ``AccountEndpoint`` of a connection string, or "" when it has none."""
    for part in connection_string.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "accountendpoint":
            return value.strip()
    return ""


def check_cosmos_config(config: Any) -> dict[str, Any]:
    """Check a `CosmosDBConfig` without connecting anywhere.

    Returns:
        The config as a dict, with ``database_id`` filled in.

    Raises:
        ConfigError: not a dict, an unknown key (with a "did you mean"), no ``container_id``,
            neither a ``client`` nor a ``connection_string`` with an ``AccountEndpoint`` URL.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            "cosmos_db_config must be a dict such as {'connection_string': ..., 'container_id': 'cache'}, "
            f"got {type(config).__name__}.",
            key="cosmos_db_config",
        )
    for key in config:
        if key not in _KEYS:
            near = difflib.get_close_matches(str(key), _KEYS, n=1)
            raise ConfigError(f"Unknown cosmos_db_config key {key!r}.", key=str(key), suggestions=near)
    checked = dict(config)
    container_id = checked.get("container_id")
    if not isinstance(container_id, str) or not container_id:
        raise ConfigError("cosmos_db_config needs a container_id: the name of the container.", key="container_id")
    database_id = checked.get("database_id") or DEFAULT_DATABASE_ID
    if not isinstance(database_id, str):
        raise ConfigError(f"database_id must be a string, got {type(database_id).__name__}.", key="database_id")
    checked["database_id"] = database_id
    if checked.get("client") is None:
        connection_string = checked.get("connection_string")
        if not isinstance(connection_string, str) or not _endpoint(connection_string).startswith(
            ("https://", "http://")
        ):
            raise ConfigError(
                "cosmos_db_config needs a client (an azure.cosmos.CosmosClient) or a connection_string such "
                "as 'AccountEndpoint=https://<account>.documents.azure.com:443/;AccountKey=<key>;'.",
                key="connection_string",
            )
    return checked


class CosmosDBCacheBackend:
    """A `parley.llm.cache.abstract.CacheBackend` on one partition of an Azure Cosmos DB container.

    Args:
        partition: the partition key value, the cache's seed as a string.
        config: a `CosmosDBConfig`, checked with `check_cosmos_config`.

    Raises:
        ConfigError: a bad config.
        MissingDependencyError: ``azure-cosmos`` is not installed.

    The constructor does no I/O. The first `get` or `set` makes the client (from the connection
    string, unless one was given), and creates the container if it does not exist.
    """

    def __init__(self, partition: str, config: Mapping[str, Any]) -> None:
        checked = check_cosmos_config(config)
        self._sdk = cosmos_sdk()
        self.partition = partition
        self.database_id: str = checked["database_id"]
        self.container_id: str = checked["container_id"]
        self.client: Any = checked.get("client")
        """The client given in the config, or None."""
        self._connection_string: str = checked.get("connection_string") or ""
        self._own_client: Any = None
        self.container: Any = None
        """The SDK's ``ContainerProxy``, once the first read or write has opened it."""
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The container, database and (from a connection string) account endpoint; never the key."""
        endpoint = _endpoint(self._connection_string)
        at = f" at {endpoint}" if endpoint else ""
        return f"container {self.container_id!r} of database {self.database_id!r}{at}"

    def __repr__(self) -> str:
        return f"CosmosDBCacheBackend({self.where}, partition={self.partition!r})"

    def _error(self, what: str, exc: Exception) -> CacheError:
        text = str(exc)
        for part in self._connection_string.split(";"):
            name, _, value = part.strip().partition("=")
            if name.lower() == "accountkey" and value:
                text = text.replace(value, "***")
        return CacheError(f"The Cosmos DB cache in {self.where} {what}: {type(exc).__name__}: {text}")

    def _opened(self) -> Any:
        from azure.core.exceptions import AzureError

        with self._lock:
            if self.container is None:
                try:
                    client = self.client
                    if client is None:
                        client = self._own_client = self._sdk.CosmosClient.from_connection_string(
                            self._connection_string
                        )
                    database = client.get_database_client(self.database_id)
                    self.container = database.create_container_if_not_exists(
                        id=self.container_id, partition_key=self._sdk.PartitionKey(path=PARTITION_KEY_PATH)
                    )
                except (AzureError, ValueError) as exc:
                    raise self._error("cannot be opened", exc) from None
            return self.container

    def _check_key(self, key: str) -> None:
        if any(c in key for c in _BAD_ID_CHARS) or len(key) > 255:
            raise CacheError(
                f"{key[:60]!r} cannot be a Cosmos DB item id (at most 255 characters, none of '/', '\\', '?', "
                "'#'); parley's own request keys always can."
            )

    def get(self, key: str) -> str | None:
        """The JSON text stored under ``key`` in this partition, or None.

        An item whose ``data`` is not text (such as 0.2's pickles) is a miss.

        Raises:
            CacheError: the key cannot be an item id, or the service failed or refused.
        """
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        self._check_key(key)
        container = self._opened()
        try:
            item = container.read_item(item=key, partition_key=self.partition)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._error("cannot be read", exc) from None
        data = item.get("data") if isinstance(item, Mapping) else None
        return data if isinstance(data, str) else None

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in this partition (one ``upsert_item``).

        Raises:
            CacheError: the key cannot be an item id, or the service failed or refused.
        """
        from azure.core.exceptions import AzureError

        self._check_key(key)
        container = self._opened()
        try:
            container.upsert_item({"id": key, "partitionKey": self.partition, "data": value})
        except AzureError as exc:
            raise self._error("cannot be written", exc) from None

    def close(self) -> None:
        """Close the client this backend made (a given client stays open); safe to call twice."""
        with self._lock:
            client, self._own_client = self._own_client, None
            self.container = None
        if client is not None:
            client.close()


class CosmosDBCache(Cache):
    """A cache in an Azure Cosmos DB container, one partition per seed (AutoGen 0.2's ``CosmosDBCache``).

    Args:
        seed: names the cache and is its partition key (as a string).
        cosmosdb_config: a `CosmosDBConfig`.

    Raises:
        ConfigError: a bad seed or config.
        MissingDependencyError: ``azure-cosmos`` is not installed (``pip install 'pyparley[cosmos]'``).

    Values are stored as JSON text, as every parley cache stores them (0.2: pickles). Nothing is
    connected or created until the first read or write.
    """

    FACTORY_NAME = "Cache.cosmos_db"
    """How `Cache` shows a cache made from a config on this store."""

    def __init__(self, seed: int | str, cosmosdb_config: CosmosDBConfig | Mapping[str, Any]) -> None:
        checked = check_cache_seed(seed)
        backend = CosmosDBCacheBackend(str(checked), cosmosdb_config)
        self.seed = seed
        self.client: Any = backend.client
        """The ``CosmosClient`` given in the config, or None."""
        self.config_repr = f"database_id={backend.database_id!r}, container_id={backend.container_id!r}"
        self._attach(checked, backend, 4, backend.where)

    @classmethod
    def create_cache(cls, seed: int | str, cosmosdb_config: CosmosDBConfig | Mapping[str, Any]) -> CosmosDBCache:
        """The cache for ``cosmosdb_config``, on its ``client`` or its ``connection_string`` (0.2's factory method).

        Raises:
            ConfigError: a bad seed or config.
            MissingDependencyError: ``azure-cosmos`` is not installed.
        """
        return cls(seed, cosmosdb_config)

    @classmethod
    def from_config(cls, seed: int | str, cosmosdb_config: CosmosDBConfig | Mapping[str, Any]) -> CosmosDBCache:
        """The same as `create_cache`."""
        return cls(seed, cosmosdb_config)

    @classmethod
    def from_connection_string(
        cls, seed: int | str, connection_string: str, database_id: str, container_id: str
    ) -> CosmosDBCache:
        """A cache on a client made from ``connection_string`` at the first read or write.

        Raises:
            ConfigError: a bad seed or connection string, or an empty ``container_id``.
            MissingDependencyError: ``azure-cosmos`` is not installed.
        """
        config = {"connection_string": connection_string, "database_id": database_id, "container_id": container_id}
        return cls(seed, config)

    @classmethod
    def from_existing_client(cls, seed: int | str, client: Any, database_id: str, container_id: str) -> CosmosDBCache:
        """A cache on ``client``, an ``azure.cosmos.CosmosClient`` it never closes.

        Raises:
            ConfigError: a bad seed or an empty ``container_id``.
            MissingDependencyError: ``azure-cosmos`` is not installed.
        """
        return cls(seed, {"client": client, "database_id": database_id, "container_id": container_id})
