"""Concurrency: many two-agent chats at once in one process, through the async API.

Each sample builds ``chats`` pairs of instant agents (the same agents as the turns benchmark,
`bench.suites.turns.instant_agent`), then times ``asyncio.gather`` of every pair's
``a_initiate_chat(..., max_turns=N)`` on a fresh event loop. It reports the wall time of the
gather in seconds and the messages per second it delivered, and checks that every chat has all
``2 * N`` messages. Building the agents is timed separately (``build_s``, in the details).
There is no peer row: AutoGen 0.2's async path runs each reply in a thread pool and is not built
for this, so the table shows "—".
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register
from bench.suites.turns import instant_agent

__all__ = ["ConcurrencySampler"]

TARGET_CHATS = 1000


class ConcurrencySampler:
    """Times ``chats`` concurrent two-agent chats of ``max_turns`` round trips each.

    Args:
        chats: how many chats run at once.
        max_turns: round trips per chat.
    """

    def __init__(self, chats: int, max_turns: int) -> None:
        self._chats = chats
        self._max_turns = max_turns
        self.info: Mapping[str, str] = {"python": sys.executable}

    async def _run(self) -> dict[str, float]:
        turns = self._max_turns
        start = time.perf_counter()
        pairs = [(instant_agent(f"alice{i}", turns), instant_agent(f"bob{i}", turns)) for i in range(self._chats)]
        built = time.perf_counter()
        results = await asyncio.gather(
            *(a.a_initiate_chat(b, message="hi", max_turns=turns, silent=True) for a, b in pairs)
        )
        elapsed = time.perf_counter() - built
        messages = sum(len(r.chat_history) for r in results)
        if messages != self._chats * 2 * turns:
            raise RuntimeError(f"expected {self._chats * 2 * turns} messages in all, got {messages}")
        return {
            "wall_s": elapsed,
            "messages_per_s": messages / elapsed,
            "build_s": built - start,
            "chats": float(self._chats),
        }

    def sample(self) -> dict[str, float]:
        """Return ``wall_s``, ``messages_per_s``, ``build_s`` and ``chats`` for one gather of all the chats."""
        return asyncio.run(self._run())

    def close(self) -> None:
        """Nothing to release: each sample's loop and agents are gone when it returns."""


def _parley(params: Mapping[str, Any]) -> Sampler:
    return ConcurrencySampler(int(params["chats"]), int(params["max_turns"]))


def _verdict(m: Medians) -> str:
    if m.parley.get("chats", TARGET_CHATS) < TARGET_CHATS:
        return "not shown by --quick"
    return f"met for turns ({m.parley['messages_per_s']:,.0f} messages/s); code-execution blocking not measured"


def _params(quick: bool) -> dict[str, Any]:
    return {"chats": 100 if quick else TARGET_CHATS, "max_turns": 3, "messages": 6}


register(
    Benchmark(
        name="concurrency",
        summary=(
            "`asyncio.gather` of concurrent two-agent `a_initiate_chat` chats with an instant model, "
            "in one process; wall time of the gather and messages delivered per second."
        ),
        params=_params,
        parley=_parley,
        metrics=(
            Metric(
                label="Concurrency: {chats:,} concurrent two-agent chats × {messages} messages, wall time",
                unit="s",
                parley_key="wall_s",
                target="1,000 concurrent chats in one process, no turn blocked by another's code execution",
                status=_verdict,
            ),
            Metric(
                label="Concurrency: same run, throughput",
                unit="messages/s",
                parley_key="messages_per_s",
                higher_is_better=True,
            ),
        ),
        reps=7,
        quick_reps=3,
        warmup=1,
    )
)
