"""`Cache.redis` against a real redis-server (scripts/redis_setup.sh starts one; CI requires it)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from parley import Cache, ConversableAgent
from parley.exceptions import CacheError
from parley.llm import OpenAIWrapper
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(30)


def echo(request: dict[str, Any]) -> str:
    return f"re: {request['messages'][-1]['content']}"


def test_get_set_under_the_seed_prefix(redis_url: str, redis_seed: str) -> None:
    import redis

    with Cache.redis(cache_seed=redis_seed, redis_url=redis_url) as cache:
        assert cache.get("k", "none") == "none"
        cache.set("k", {"a": 1})
        assert cache.get("k") == {"a": 1}
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"parley:{redis_seed}:k") == b'{"a":1}'
    client.close()
    with Cache({"cache_seed": redis_seed, "redis_url": redis_url}) as again:
        assert again.get("k") == {"a": 1}
    with Cache.redis(cache_seed=f"{redis_seed}-other", redis_url=redis_url) as other:
        assert other.get("k") is None


async def test_wrapper_hit_through_redis(entry_for: Any, redis_url: str, redis_seed: str) -> None:
    with ScriptedOpenAIServer(echo) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        async with Cache.redis(cache_seed=redis_seed, redis_url=redis_url) as cache:
            first = await wrapper.create([{"role": "user", "content": "hi"}], params={"cache": cache})
            second = await wrapper.create([{"role": "user", "content": "hi"}], params={"cache": cache})
        assert server.request_count == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.message == first.message
    assert second.usage == first.usage


def test_a_cached_second_chat_makes_no_model_request(redis_url: str, redis_seed: str) -> None:
    with ScriptedOpenAIServer(echo) as server:
        llm = {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}]}
        alice = ConversableAgent("alice", llm_config=llm, human_input_mode="NEVER")
        bob = ConversableAgent("bob", llm_config=llm, human_input_mode="NEVER")
        with Cache.redis(cache_seed=redis_seed, redis_url=redis_url) as cache:
            first = alice.initiate_chat(bob, message="ping", max_turns=2, silent=True, cache=cache)
            requests = server.request_count
            second = alice.initiate_chat(bob, message="ping", max_turns=2, silent=True, cache=cache)
        assert requests == 3
        assert server.request_count == requests
    assert second.chat_history == first.chat_history
    assert second.cost["usage_excluding_cached_inference"] == {"total_cost": 0.0}
    assert second.cost["usage_including_cached_inference"]["gpt-4o-mini"]["total_tokens"] > 0


def test_an_unreachable_server_is_a_clear_error(closed_port: int) -> None:
    cache = Cache.redis(redis_url=f"redis://:pw-secret-123@127.0.0.1:{closed_port}/0")
    shown = re.escape(f"The Redis cache at redis://:***@127.0.0.1:{closed_port}/0 cannot be read")
    with pytest.raises(CacheError, match=shown) as e:
        cache.get("k")
    assert "pw-secret-123" not in str(e.value)
    assert "pw-secret-123" not in repr(cache)
    cache.close()


def test_the_redis_client_is_the_cache_attribute_as_in_autogen(redis_url: str, redis_seed: str) -> None:
    import redis

    import parley.cache.redis_cache as redis_cache

    assert redis_cache.redis is redis  # where 0.2's tests patch Redis.from_url
    with redis_cache.RedisCache(redis_seed, redis_url) as cache:
        client = cache.cache
        assert isinstance(client, redis.Redis)
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 10.0  # every command has a deadline
        cache.set("k", [1, 2])
        assert client.get(f"parley:{redis_seed}:k") == b"[1,2]"
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")


def test_a_value_that_is_not_text_is_a_miss(redis_url: str, redis_seed: str) -> None:
    import pickle

    import redis

    client = redis.Redis.from_url(redis_url)
    client.set(f"parley:{redis_seed}:k", pickle.dumps("0.2 stored pickles"))
    client.close()
    with Cache.redis(cache_seed=redis_seed, redis_url=redis_url) as cache:
        assert cache.get("k", "miss") == "miss"  # never unpickled, and no UnicodeDecodeError
