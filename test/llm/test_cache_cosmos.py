"""The Cosmos DB cache, against an in-process fake of the azure-cosmos client.

Cosmos DB cannot run here (its emulator needs a container image from a registry), so the fake
stands in for the service behind the SDK's own interface: ``CosmosClient.get_database_client``,
``DatabaseProxy.create_container_if_not_exists``, ``ContainerProxy.read_item`` / ``upsert_item``,
raising the SDK's real exceptions. Everything above it (the SDK import, `Cache`, the factory, the
wrapper's cache lookups) is parley's real code.
"""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from typing import Any

import pytest

from parley.cache import Cache
from parley.cache.cosmos_db_cache import CosmosDBCache, CosmosDBConfig
from parley.exceptions import CacheError, ConfigError
from parley.llm import OpenAIWrapper
from parley.llm.types import Message
from parley.testing import ScriptedOpenAIServer

# The extra is installed by scripts/setup.sh ("all"); without it this module fails to import, as a
# missing component should on CI (azure-cosmos ships no type hints, hence Any).
exceptions: Any = importlib.import_module("azure.cosmos.exceptions")

CONNECTION = "AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=c2VjcmV0LWtleQ==;"


class FakeContainer:
    """A container: items by (partition, id), stored as the service stores them (JSON)."""

    def __init__(self, partition_key_path: str) -> None:
        self.partition_key_path = partition_key_path
        self.items: dict[tuple[str, str], str] = {}
        self.fail_with: Exception | None = None

    def read_item(self, item: str, partition_key: str) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        try:
            return dict(json.loads(self.items[(partition_key, item)]))
        except KeyError:
            raise exceptions.CosmosResourceNotFoundError(status_code=404, message="Entity not found") from None

    def upsert_item(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.items[(body["partitionKey"], body["id"])] = json.dumps(body)
        return copy.deepcopy(body)


class FakeDatabase:
    def __init__(self, client: FakeClient, database_id: str) -> None:
        self.client = client
        self.database_id = database_id

    def create_container_if_not_exists(self, id: str, partition_key: Any) -> FakeContainer:
        self.client.calls.append(("create_container_if_not_exists", self.database_id, id))
        key = (self.database_id, id)
        if key not in self.client.containers:
            self.client.containers[key] = FakeContainer(partition_key["paths"][0])
        return self.client.containers[key]


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.containers: dict[tuple[str, str], FakeContainer] = {}
        self.closed = False

    def get_database_client(self, database_id: str) -> FakeDatabase:
        self.calls.append(("get_database_client", database_id))
        return FakeDatabase(self, database_id)

    def close(self) -> None:
        self.closed = True


def config(client: FakeClient, container_id: str = "cache") -> CosmosDBConfig:
    return {"client": client, "database_id": "db", "container_id": container_id}


def test_get_set_store_json_in_one_partition_per_seed() -> None:
    client = FakeClient()
    with Cache({"cache_seed": 42, "cosmos_db_config": config(client)}) as cache:
        assert isinstance(cache, CosmosDBCache)
        assert client.calls == []  # nothing is opened before the first read or write
        assert cache.get("k", "none") == "none"
        cache.set("k", {"a": [1, "é"]})
        assert cache.get("k") == {"a": [1, "é"]}
    container = client.containers[("db", "cache")]
    assert container.partition_key_path == "/partitionKey"
    assert json.loads(container.items[("42", "k")]) == {"id": "k", "partitionKey": "42", "data": '{"a":[1,"é"]}'}
    with Cache({"cache_seed": "other", "cosmos_db_config": config(client)}) as other:
        assert other.get("k") is None  # another seed is another partition
    assert not client.closed  # a client the caller gave is the caller's to close


def test_cosmos_db_constructor_and_repr_keep_the_key_out() -> None:
    cache = Cache.cosmos_db(connection_string=CONNECTION, container_id="replies", cache_seed=7)
    assert cache.cache_seed == 7
    assert repr(cache) == "Cache.cosmos_db(cache_seed=7, database_id='parley_cache', container_id='replies')"
    assert "c2VjcmV0" not in repr(cache.cache)
    assert "https://acct.documents.azure.com:443/" in repr(cache.cache)
    cache.close()


async def test_a_model_reply_is_served_from_the_container() -> None:
    client = FakeClient()
    with ScriptedOpenAIServer(["first", "second"]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}
        wrapper = OpenAIWrapper(config_list=[entry])
        hi: list[Message] = [{"role": "user", "content": "hi"}]
        async with Cache.cosmos_db(container_id="c", client=client, cache_seed=3) as cache:
            first = await wrapper.create(hi, params={"cache": cache})
            second = await wrapper.create(hi, params={"cache": cache})
        assert server.request_count == 1
    assert (first.cached, second.cached, second.message["content"]) == (False, True, "first")
    (item,) = client.containers[("parley_cache", "c")].items.values()
    assert "sk-test" not in item


def test_service_errors_are_cache_errors_without_the_key() -> None:
    client = FakeClient()
    cache = CosmosDBCache(1, {**config(client), "connection_string": CONNECTION})
    cache.set("k", 1)
    client.containers[("db", "cache")].fail_with = exceptions.CosmosHttpResponseError(
        status_code=503, message="Service unavailable for key c2VjcmV0LWtleQ=="
    )
    with pytest.raises(CacheError, match="The Cosmos DB cache in container 'cache' of database 'db'") as caught:
        cache.get("k")
    assert "c2VjcmV0LWtleQ==" not in str(caught.value)
    with pytest.raises(CacheError, match="cannot be written"):
        cache.set("k", 2)
    with pytest.raises(CacheError, match="cannot be a Cosmos DB item id"):
        cache.set("a/b", 1)
    cache.close()
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")


def test_an_item_that_is_not_json_text_is_a_miss() -> None:
    client = FakeClient()
    with CosmosDBCache.from_existing_client("s", client, "db", "cache") as cache:
        cache.set("k", "v")
        container = client.containers[("db", "cache")]
        container.items[("s", "k")] = json.dumps({"id": "k", "partitionKey": "s", "data": [128, 4, 149]})
        assert cache.get("k", "dflt") == "dflt"


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="needs a container_id"):
        Cache.cosmos_db(connection_string=CONNECTION)
    with pytest.raises(ConfigError, match="needs a client"):
        Cache.cosmos_db(container_id="c")
    with pytest.raises(ConfigError, match="must be a dict"):
        Cache({"cosmos_db_config": "AccountEndpoint=x"})


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys\nimport parley, parley.cache.cosmos_db_cache, parley.cache.cache_factory\n"
        "print(sorted(m for m in sys.modules if m.startswith(('azure', 'redis'))))\n"
        "sys.modules['azure.cosmos'] = None\n"
        "from parley import Cache\nfrom parley.exceptions import MissingDependencyError\n"
        "try:\n    Cache.cosmos_db(container_id='c', connection_string='AccountEndpoint=https://a/;')\n"
        "except MissingDependencyError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines() == [
        "[]",
        "'azure-cosmos' is not installed. Install it with: pip install 'pyparley[cosmos]'",
    ]
