"""A chat's cache: ``initiate_chat(cache=...)`` and ``cache_seed``, through agents and the openai SDK.

Acceptance: a cached second run of a chat makes no model request, gives the same transcript,
and shows in total usage but not in actual usage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from parley import Cache, ConversableAgent, GroupChat, GroupChatManager
from parley.exceptions import ConfigError, ModelError
from parley.llm.cache import CHAT_CACHE
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(60)


def script(request: dict[str, Any]) -> str:
    """Deterministic replies: who is asked (the system message) and how long the chat is."""
    messages = request["messages"]
    system = messages[0]["content"] if messages[0]["role"] == "system" else "?"
    last = str(messages[-1].get("content") or "")
    if last.startswith("Summarize"):
        return f"Summary of {len(messages) - 2} messages."
    return f"{system.split()[0]} says {len(messages)}"


def agent(name: str, server: ScriptedOpenAIServer, **llm: Any) -> ConversableAgent:
    config = {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test-key"}], **llm}
    return ConversableAgent(
        name, system_message=f"{name.capitalize()} here.", llm_config=config, human_input_mode="NEVER"
    )


def run(alice: ConversableAgent, bob: ConversableAgent, **kwargs: Any) -> Any:
    return alice.initiate_chat(
        bob, message="Let us talk.", max_turns=3, summary_method="reflection_with_llm", silent=True, **kwargs
    )


def test_a_cached_second_run_makes_no_model_request(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(script) as server:
        alice, bob = agent("alice", server), agent("bob", server)
        with Cache.disk(cache_seed=1, cache_path_root=tmp_path) as cache:
            first = run(alice, bob, cache=cache)
            after_first = server.request_count
            second = run(alice, bob, cache=cache)
            assert server.request_count == after_first == 6  # bob 3, alice 2, the summary 1
        # the chat's cache does not outlive the chat
        third = run(alice, bob)
        assert server.request_count == 12

    assert [m["content"] for m in first.chat_history] == [
        "Let us talk.", "Bob says 2", "Alice says 3", "Bob says 4", "Alice says 5", "Bob says 6",
    ]  # fmt: skip
    assert second.chat_history == first.chat_history == third.chat_history
    assert second.summary == first.summary == "Summary of 6 messages."

    total, actual = "usage_including_cached_inference", "usage_excluding_cached_inference"
    assert first.cost[actual] == first.cost[total]
    assert first.cost[total]["total_cost"] > 0
    # served from the cache: counted in total usage (cost up to float rounding) ...
    assert second.cost[total]["total_cost"] == pytest.approx(first.cost[total]["total_cost"])
    assert second.cost[total]["gpt-4o-mini"] == pytest.approx(first.cost[total]["gpt-4o-mini"])
    assert second.cost[actual] == {"total_cost": 0.0}  # ... but not in actual usage
    for a in (alice, bob):  # each agent's own summary: three runs in total, two of them actual
        total_usage, actual_usage = a.get_total_usage(), a.get_actual_usage()
        assert total_usage is not None
        assert actual_usage is not None
        assert total_usage["total_cost"] == pytest.approx(1.5 * actual_usage["total_cost"])


def test_cache_seed_in_llm_config_caches_each_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with ScriptedOpenAIServer(script) as server:
        alice, bob = agent("alice", server, cache_seed=11), agent("bob", server, cache_seed=11)
        first = run(alice, bob)
        requests = server.request_count
        second = run(alice, bob)
        assert server.request_count == requests
    assert second.chat_history == first.chat_history
    assert (tmp_path / ".cache" / "11" / "cache.sqlite3").is_file()


def test_chat_cache_wins_over_cache_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with ScriptedOpenAIServer(script) as server:
        alice, bob = agent("alice", server, cache_seed=11), agent("bob", server, cache_seed=11)
        with Cache.disk(cache_seed=2, cache_path_root=tmp_path / "chat") as cache:
            run(alice, bob, cache=cache)
        run(alice, bob)  # the seed's cache is empty: every call goes out
        assert server.request_count == 12


def test_group_chat_members_use_the_chat_cache(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(script) as server:
        alice, bob, carol = agent("alice", server), agent("bob", server), agent("carol", server)
        group = GroupChat(agents=[bob, carol], max_round=4, speaker_selection_method="round_robin")
        manager = GroupChatManager(group, llm_config=False, silent=True)
        with Cache.disk(cache_path_root=tmp_path) as cache:
            first = alice.initiate_chat(manager, message="Hello team.", silent=True, cache=cache)
            requests = server.request_count
            second = alice.initiate_chat(manager, message="Hello team.", silent=True, cache=cache)
        assert requests == 3
        assert server.request_count == requests
    assert second.chat_history == first.chat_history
    assert second.cost["usage_excluding_cached_inference"] == {"total_cost": 0.0}


def test_a_cache_that_is_not_a_cache_is_refused_before_the_chat(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(script) as server:
        alice, bob = agent("alice", server), agent("bob", server)
        with pytest.raises(ConfigError, match=r"cache must be a parley Cache, such as Cache\.disk"):
            run(alice, bob, cache=str(tmp_path))
        assert server.request_count == 0


async def test_the_chat_cache_is_reset_when_a_chat_fails(tmp_path: Path) -> None:
    with ScriptedOpenAIServer([{"error": {"status": 400, "message": "bad request"}}]) as server:
        alice, bob = agent("alice", server), agent("bob", server)
        async with Cache.disk(cache_path_root=tmp_path) as cache:
            with pytest.raises(ModelError):
                await alice.a_initiate_chat(bob, message="hi", max_turns=1, silent=True, cache=cache)
            assert CHAT_CACHE.get() is None


async def test_many_concurrent_chats_share_one_cache(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(script) as server:
        pairs = [(agent("alice", server), agent("bob", server)) for _ in range(20)]
        async with Cache.disk(cache_path_root=tmp_path) as cache:

            async def chats() -> list[Any]:
                return await asyncio.gather(
                    *(
                        a.a_initiate_chat(b, message=f"Topic {i}.", max_turns=2, silent=True, cache=cache)
                        for i, (a, b) in enumerate(pairs)
                    )
                )

            first = await chats()
            requests = server.request_count
            second = await chats()
        assert requests == 20 * 3
        assert server.request_count == requests
    assert [r.chat_history for r in second] == [r.chat_history for r in first]
    assert [r.chat_history[0]["content"] for r in first] == [f"Topic {i}." for i in range(20)]
