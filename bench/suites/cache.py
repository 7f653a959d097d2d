"""Cache hit against an uncached call: what a disk-cache hit costs, next to a real model call.

Both sides talk through the ``openai`` SDK to the same kind of scripted server
(`bench.scripted_model`: parley's scripted OpenAI server in its own process, answering every
request at once). Each sample makes ``calls`` calls of each kind with a ``messages``-message
history through the side's ``OpenAIWrapper.create`` and reports the mean per call:

- **uncached**: no cache; the request reaches the server (a loopback HTTP round trip).
- **hit**: a disk cache that already holds the answer. parley: ``params={"cache": Cache.disk(...)}``,
  the cache opened once and kept open. The peer, AutoGen 0.2.35, is measured two ways: with
  ``cache_seed=42`` (its default path, which opens ``Cache.disk(42, ".cache")`` on every call) and
  with ``cache=Cache.disk(...)`` (which it also closes after every call, by ``with cache:``).

Every reply is checked: the text, and ``cached`` on parley's side.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bench.registry import Benchmark, Medians, Metric, Sampler, peer_script, register
from bench.scripted_model import REPLY, start_server, stop_server

if TYPE_CHECKING:
    from parley.llm.types import Message

__all__ = ["CacheSampler", "history"]


def history(n: int) -> list[Message]:
    """A system message and ``n - 1`` alternating user/assistant messages of a few words each."""
    messages: list[Message] = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(1, n):
        role = "user" if i % 2 else "assistant"
        messages.append({"role": role, "content": f"Message {i}: what is {i} times {i}?"})
    return messages


class CacheSampler:
    """Times ``OpenAIWrapper.create``, uncached and as a disk-cache hit, against a scripted server.

    Args:
        messages: messages in the request's history.
        calls: calls of each kind per sample; the sample reports their mean.
    """

    def __init__(self, messages: int, calls: int) -> None:
        from parley import Cache
        from parley.llm import OpenAIWrapper

        self._server, url = start_server(sys.executable)
        self._dir = tempfile.TemporaryDirectory(prefix="parley-bench-cache-")
        self._loop = asyncio.new_event_loop()
        entry = {"model": "gpt-4o-mini", "base_url": url, "api_key": "sk-bench", "max_retries": 0}
        self._wrapper = OpenAIWrapper(config_list=[entry])
        self._cache = Cache.disk(cache_seed=42, cache_path_root=self._dir.name)
        self._messages = history(messages)
        self._calls = calls
        self._loop.run_until_complete(self._wrapper.create(self._messages, params={"cache": self._cache}))
        self.info: Mapping[str, str] = {"python": sys.executable, "server": url}

    async def _mean_s(self, params: Mapping[str, Any] | None, cached: bool) -> float:
        start = time.perf_counter()
        for _ in range(self._calls):
            response = await self._wrapper.create(self._messages, params=params)
            if response.cached is not cached or response.message.get("content") != REPLY:
                raise RuntimeError(f"unexpected reply (cached={response.cached}): {response.message!r}")
        return (time.perf_counter() - start) / self._calls

    def sample(self) -> dict[str, float]:
        """Return ``uncached_ms``, ``hit_us`` and ``hit_share_pct`` (hit / uncached, in %)."""
        uncached = self._loop.run_until_complete(self._mean_s(None, cached=False))
        hit = self._loop.run_until_complete(self._mean_s({"cache": self._cache}, cached=True))
        return {"uncached_ms": uncached * 1e3, "hit_us": hit * 1e6, "hit_share_pct": hit / uncached * 100}

    def close(self) -> None:
        """Close the cache, the HTTP client and the loop; stop the server; remove the cache folder."""
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._cache.aclose())
            self._loop.run_until_complete(self._wrapper.aclose())
            self._loop.close()
        stop_server(self._server)
        self._dir.cleanup()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return CacheSampler(int(params["messages"]), int(params["calls"]))


def _hit_verdict(peer_key: str) -> Callable[[Medians], str]:
    def verdict(m: Medians) -> str:
        share = m.parley["hit_share_pct"]
        text = f"{share:.1f}% of an uncached call"
        if m.peer is None:
            return text
        return f"{text}; {m.peer[peer_key] / m.parley['hit_us']:.0f}× faster than 0.2"

    return verdict


register(
    Benchmark(
        name="cache",
        summary=(
            "OpenAIWrapper.create through the openai SDK against a scripted server in its own process: "
            "uncached, and as a hit on a disk cache holding the answer; each sample is the mean of `calls` calls."
        ),
        params=lambda quick: {
            "messages": 10,
            "calls": 10 if quick else 25,
            "server_python": sys.executable,
        },
        parley=_parley,
        peer=peer_script("cache.py"),
        metrics=(
            Metric(
                label="Disk cache hit, {messages}-message request (peer: `cache_seed=42`, its default path)",
                unit="µs/call",
                parley_key="hit_us",
                peer_key="seed_hit_us",
                target="open once per Cache (0.2 opens SQLite per call, ~6 ms)",
                status=_hit_verdict("seed_hit_us"),
            ),
            Metric(
                label="Disk cache hit, peer given an open `Cache.disk()` as `cache=`",
                unit="µs/call",
                parley_key="hit_us",
                peer_key="open_hit_us",
            ),
            Metric(
                label="Uncached call to the scripted server, same request",
                unit="ms/call",
                parley_key="uncached_ms",
                peer_key="uncached_ms",
            ),
            Metric(
                label="Cache hit as a share of an uncached call (peer: `cache_seed`)",
                unit="%",
                parley_key="hit_share_pct",
                peer_key="seed_hit_share_pct",
            ),
        ),
        reps=20,
        quick_reps=5,
        warmup=2,
    )
)
