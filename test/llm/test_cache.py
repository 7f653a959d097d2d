"""The cache through OpenAIWrapper and the real openai SDK, against the scripted server, on disk."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from parley import Cache
from parley.exceptions import CacheError, ConfigError, MissingDependencyError, ModelError
from parley.llm import ModelResponse, OpenAIWrapper
from parley.llm.cache import request_key
from parley.llm.types import Message, ToolSpec, Usage
from parley.testing import ScriptedOpenAIServer

from .conftest import SECRET

Entry = Callable[..., dict[str, Any]]
HI: list[Message] = [{"role": "user", "content": "hi"}]
BYE: list[Message] = [{"role": "user", "content": "bye"}]

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so a default ``.cache`` lands there."""
    monkeypatch.chdir(tmp_path)


def echo(request: dict[str, Any]) -> str:
    """A scripted reply that depends only on the request's last message."""
    return f"re: {request['messages'][-1]['content']}"


# -- off unless asked for ----------------------------------------------------------------------------


async def test_no_cache_unless_asked(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        first = await wrapper.create(HI)
        second = await wrapper.create(HI)
        none_seed = OpenAIWrapper.from_llm_config({"config_list": [entry_for(server)], "cache_seed": None})
        await none_seed.create(HI)
        assert server.request_count == 3
    assert (first.cached, second.cached) == (False, False)
    assert os.listdir(tmp_path) == []


async def test_cache_seed_in_llm_config_is_a_disk_cache_under_dot_cache(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper.from_llm_config({"config_list": [entry_for(server)], "cache_seed": 7})
        assert os.listdir(tmp_path) == []  # building it opened nothing
        first = await wrapper.create(HI)
        second = await wrapper.create(HI)
        other = await wrapper.create(BYE)
        # another agent with the same seed shares the entries
        again = await OpenAIWrapper.from_llm_config({"config_list": [entry_for(server)], "cache_seed": 7}).create(HI)
        assert server.request_count == 2
    assert (tmp_path / ".cache" / "7" / "cache.sqlite3").is_file()
    assert (first.cached, second.cached, other.cached, again.cached) == (False, True, False, True)
    assert second.message == first.message == {"role": "assistant", "content": "re: hi"}
    assert (second.usage, second.cost, second.model) == (first.usage, first.cost, first.model)
    assert second.raw is None
    total = wrapper.usage_summary.models("total")["gpt-4o-mini"]
    actual = wrapper.usage_summary.models("actual")["gpt-4o-mini"]
    assert total.total_tokens == 2 * first.usage.total_tokens + other.usage.total_tokens
    assert actual.total_tokens == first.usage.total_tokens + other.usage.total_tokens
    assert total.cost == pytest.approx(2 * first.cost + other.cost)


async def test_entry_cache_seed_wins_over_the_top_level_one(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server, cache_seed="entry")], cache_seed=1)
        await wrapper.create(HI)
    assert [p.name for p in (tmp_path / ".cache").iterdir()] == ["entry"]


async def test_cache_on_one_create_call(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        async with Cache.disk(cache_seed=1, cache_path_root=tmp_path / "c") as cache:
            first = await wrapper.create(HI, params={"cache": cache})
            hit = await wrapper.create(HI, params={"cache": cache})
            uncached = await wrapper.create(HI)
            assert server.request_count == 2
    assert (first.cached, hit.cached, uncached.cached) == (False, True, False)


async def test_explicit_cache_wins_over_cache_seed(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper.from_llm_config({"config_list": [entry_for(server)], "cache_seed": 5})
        with Cache.disk(cache_seed=9, cache_path_root=tmp_path / "explicit") as cache:
            await wrapper.create(HI, params={"cache": cache})
            assert (await wrapper.create(HI, params={"cache": cache})).cached
        assert not (await wrapper.create(HI)).cached  # the seed's cache never saw it
        assert server.request_count == 2
    assert (tmp_path / "explicit" / "9" / "cache.sqlite3").is_file()


async def test_the_key_covers_what_changes_the_answer(entry_for: Entry, tmp_path: Path) -> None:
    tools: list[ToolSpec] = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server, temperature=0)])
        with Cache.disk(cache_path_root=tmp_path) as cache:
            calls: list[tuple[Sequence[Message], Sequence[ToolSpec] | None, dict[str, Any]]] = [
                (HI, None, {}),
                (HI, None, {"temperature": 1}),
                (HI, tools, {}),
                (HI, None, {"model": "gpt-4o"}),
                (HI, None, {"max_tokens": 5}),
                ([{"role": "system", "content": "be brief"}, *HI], None, {}),
            ]
            for messages, call_tools, params in calls:
                assert not (await wrapper.create(messages, tools=call_tools, params={**params, "cache": cache})).cached
            # ... and not what does not: timeout, retries, the end-user id
            same = {"timeout": 5, "max_retries": 1, "user": "u1"}
            assert (await wrapper.create(HI, params={**same, "cache": cache})).cached
        assert server.request_count == len(calls)


def test_request_key_is_canonical_and_documented_inputs_only() -> None:
    entry = {"model": "m", "api_key": "sk-a", "base_url": "http://a/v1", "temperature": 0, "seed": 1}
    key = request_key(entry, HI, None, None, 42)
    assert re.fullmatch("[0-9a-f]{64}", key)
    reordered = {"seed": 1, "temperature": 0, "base_url": "http://b/v1", "api_key": "sk-b", "model": "m"}
    assert request_key(reordered, HI, None, {"timeout": 3, "stream": True}, "42") == key
    assert request_key(entry, HI, None, None, 43) != key
    assert request_key(entry, HI, None, {"seed": 2}, 42) != key
    assert request_key(entry, [{"content": "hi", "role": "user"}], [], None, 42) == key
    assert request_key(entry, HI, None, {"extra_body": {"top_k": 3}}, 42) != key


def test_request_key_takes_pydantic_response_formats() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    class Other(BaseModel):
        text: str

    entry = {"model": "m"}
    key = request_key(entry, HI, None, {"response_format": Answer}, 1)
    assert key == request_key(entry, HI, None, {"response_format": Answer}, 1)
    assert key != request_key(entry, HI, None, {"response_format": Other}, 1)


# -- what is stored ------------------------------------------------------------------------------------


async def test_failures_are_not_stored(entry_for: Entry, tmp_path: Path) -> None:
    script = [{"error": {"status": 500, "message": "boom"}}, {"raw": '{"choices": ['}, "fine"]
    with ScriptedOpenAIServer(script) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        with Cache.disk(cache_path_root=tmp_path) as cache:
            for _ in range(2):
                with pytest.raises(ModelError):
                    await wrapper.create(HI, params={"cache": cache})
            assert not (await wrapper.create(HI, params={"cache": cache})).cached
            assert (await wrapper.create(HI, params={"cache": cache})).cached
        assert server.request_count == 3


class HollowClient:
    """A custom ModelClient whose reply has neither content nor tool calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        self.calls += 1
        return ModelResponse(message={"role": "assistant", "content": None}, usage=Usage(1, 1, 2), model="hollow")


async def test_malformed_replies_are_not_stored(tmp_path: Path) -> None:
    client = HollowClient()
    wrapper = OpenAIWrapper(config_list=[{"model_client": client}])
    with Cache.disk(cache_path_root=tmp_path) as cache:
        for _ in range(2):
            assert not (await wrapper.create(HI, params={"cache": cache})).cached
    assert client.calls == 2


async def test_fallback_serves_the_hit_of_the_entry_that_answered(
    entry_for: Entry, closed_port: int, tmp_path: Path
) -> None:
    down = entry_for(f"http://127.0.0.1:{closed_port}/v1", model="gpt-4o")
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[down, entry_for(server, model="gpt-4o-mini")])
        with Cache.disk(cache_path_root=tmp_path) as cache:
            first = await wrapper.create(HI, params={"cache": cache})
            second = await wrapper.create(HI, params={"cache": cache})
        assert server.request_count == 1
    assert (first.model, first.cached) == ("gpt-4o-mini", False)
    assert (second.model, second.cached, second.message) == ("gpt-4o-mini", True, first.message)


async def test_an_unreadable_entry_is_a_miss_and_is_replaced(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        entry = entry_for(server)
        wrapper = OpenAIWrapper(config_list=[entry])
        with Cache.disk(cache_seed=3, cache_path_root=tmp_path) as cache:
            await cache.aset(request_key(entry, HI, None, None, 3), {"not": "a response"})
            assert not (await wrapper.create(HI, params={"cache": cache})).cached
            assert (await wrapper.create(HI, params={"cache": cache})).cached
        assert server.request_count == 1


# -- the Cache object ------------------------------------------------------------------------------------


def test_cache_get_set_and_lifecycle(tmp_path: Path) -> None:
    cache = Cache.disk(cache_seed="s-1", cache_path_root=tmp_path / "root")
    assert repr(cache) == f"Cache.disk(cache_seed='s-1', cache_path_root={str(tmp_path / 'root')!r})"
    assert not (tmp_path / "root").exists()  # the constructor does no I/O
    with cache:
        assert cache.get("k") is None
        assert cache.get("k", "dflt") == "dflt"
        cache.set("k", {"a": [1, "é"]})
        assert cache.get("k") == {"a": [1, "é"]}
        with pytest.raises(TypeError):
            cache.set("bad", object())
    cache.close()  # idempotent
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")
    with Cache({"cache_seed": "s-1", "cache_path_root": str(tmp_path / "root")}) as reopened:
        assert reopened.get("k") == {"a": [1, "é"]}


async def test_cache_async_api_and_close_before_use(tmp_path: Path) -> None:
    async with Cache.disk(cache_path_root=tmp_path) as cache:
        await cache.aset("k", 1)
        assert await cache.aget("k") == 1
    await cache.aclose()
    unused = Cache.disk(cache_path_root=tmp_path / "never")
    unused.close()
    unused.close()
    assert not (tmp_path / "never").exists()


def test_cache_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown Cache config key 'cache_sed'.*Did you mean 'cache_seed'"):
        Cache({"cache_sed": 1})
    with pytest.raises(ConfigError, match="cosmos_db_config needs a container_id"):
        Cache({"cosmos_db_config": {}})
    with pytest.raises(ConfigError, match=r"Unknown cosmos_db_config key 'container'.*Did you mean 'container_id'"):
        Cache({"cosmos_db_config": {"container": "c"}})
    with pytest.raises(ConfigError, match=r"needs a client .* or a connection_string"):
        Cache({"cosmos_db_config": {"container_id": "c", "connection_string": "AccountKey=k;"}})
    for seed in (True, 1.5, "../up", "", ".hidden", None):
        with pytest.raises(ConfigError, match="cache_seed must be"):
            Cache.disk(cache_seed=seed)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="redis_url must be a URL"):
        Cache.redis(redis_url="localhost:6379")
    with pytest.raises(ConfigError, match="cache_path_root must be a folder path"):
        Cache({"cache_path_root": 3})
    with pytest.raises(ConfigError, match="cache_seed must be"):
        OpenAIWrapper(config_list=[{"model": "m"}], cache_seed=[1])


async def test_a_cache_param_that_is_not_a_cache_is_refused(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        with pytest.raises(ConfigError, match=r"params\['cache'\] must be a parley Cache, such as Cache.disk"):
            await wrapper.create(HI, params={"cache": "yes"})
        assert server.request_count == 0


def test_redis_url_password_never_shows() -> None:
    cache = Cache.redis(cache_seed=1, redis_url="redis://user:hunter2-secret@127.0.0.1:1/0")
    assert "hunter2" not in repr(cache)
    assert repr(cache) == "Cache.redis(cache_seed=1, redis_url='redis://user:***@127.0.0.1:1/0')"
    with pytest.raises(CacheError) as caught:
        cache.get("k")
    assert "hunter2" not in str(caught.value)
    assert "redis://user:***@127.0.0.1:1/0" in str(caught.value)
    with pytest.raises(ConfigError) as bad:
        Cache.redis(redis_url="http://:hunter2-secret@host")
    assert "hunter2" not in str(bad.value)


def test_missing_redis_package_names_the_extra() -> None:
    code = (
        "import sys\nsys.modules['redis'] = None\n"
        "from parley import Cache\nfrom parley.exceptions import MissingDependencyError\n"
        "try:\n    Cache.redis()\nexcept MissingDependencyError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "'redis' is not installed. Install it with: pip install 'pyparley[redis]'"
    assert issubclass(MissingDependencyError, ImportError)


def test_a_file_that_is_not_a_cache_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with Cache.disk(cache_seed=1, cache_path_root=tmp_path) as cache, pytest.raises(CacheError) as caught:
        cache.get("k")
    assert str(tmp_path / "1" / "cache.sqlite3") in str(caught.value)
    assert "delete it, or choose another cache_path_root" in str(caught.value)


def test_disk_cache_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    with Cache.disk(cache_seed=2, cache_path_root=tmp_path) as cache:
        cache.set("k", "v")
    with sqlite3.connect(tmp_path / "2" / "cache.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT key, value FROM entries").fetchall() == [("k", '"v"')]


async def test_no_api_key_reaches_the_cache(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        async with Cache.disk(cache_seed=4, cache_path_root=tmp_path) as cache:
            await wrapper.create(HI, params={"cache": cache})
            assert SECRET not in repr(cache)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "4").iterdir())
    assert b"re: hi" in stored
    assert SECRET.encode() not in stored


async def test_a_locked_disk_cache_never_blocks_the_event_loop(tmp_path: Path) -> None:
    async with Cache.disk(cache_seed=1, cache_path_root=tmp_path) as first:
        await first.aset("k", 1)
    other = sqlite3.connect(tmp_path / "1" / "cache.sqlite3", isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # another program holds the file: every reader must wait
    async with Cache.disk(cache_seed=1, cache_path_root=tmp_path) as cache:
        reader = asyncio.create_task(cache.aget("k"))
        await asyncio.sleep(0.05)
        assert not reader.done()  # the read waits on the worker thread; this loop is free meanwhile
        other.execute("COMMIT")
        other.close()
        assert await reader == 1


# -- AutoGen 0.2's CacheFactory ----------------------------------------------------------------------------


def test_a_cache_from_a_config_is_built_by_the_cache_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.cache import InMemoryCache
    from parley.cache.cache_factory import CacheFactory

    calls: list[dict[str, Any]] = []
    store = InMemoryCache(seed="s")

    def factory(**kwargs: Any) -> Cache:
        calls.append(kwargs)
        return store

    monkeypatch.setattr(CacheFactory, "cache_factory", factory)
    cache = Cache({})
    assert calls == [{"seed": 42, "redis_url": None, "cache_path_root": None, "cosmosdb_config": None}]
    assert cache.cache is store
    assert cache.cache_seed == 42  # kept as given: an int stays an int
    cache.set("k", [1])
    assert store.get("k") == [1]
    with cache as entered:
        assert entered is store  # as in 0.2, `with` gives the store
        assert entered.get("k") == [1]
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")  # leaving the block closed the store, which the cache hands every call to


def test_the_factory_prefers_redis_then_cosmos_then_disk(tmp_path: Path) -> None:
    from parley.cache import DiskCache, RedisCache
    from parley.cache.cache_factory import CacheFactory

    both = Cache({"cache_seed": 1, "redis_url": "redis://127.0.0.1:1/0", "cache_path_root": str(tmp_path)})
    assert isinstance(both.cache, RedisCache)  # 0.2's order: redis_url wins
    assert repr(both) == "Cache.redis(cache_seed=1, redis_url='redis://127.0.0.1:1/0')"
    disk = CacheFactory.cache_factory("s", cache_path_root=None)
    assert isinstance(disk, DiskCache)
    assert disk.seed == str(tmp_path / ".cache" / "s")
    with pytest.raises(ConfigError, match="cache_seed must be"):
        CacheFactory.cache_factory("../up")
