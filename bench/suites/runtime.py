"""Runtime overhead: 1,000 concurrent sessions of a two-agent team, against bare ``a_initiate_chat``.

Each sample runs, on one fresh event loop, ``sessions`` concurrent runs of a two-agent team from
a config dict (`parley.runtime.Runtime.run`, each in a new session, ``max_turns`` round trips),
then the same number of bare ``a_initiate_chat`` chats between the same kind of instant agents
(`bench.suites.turns.instant_agent`), alternating which goes first. It reports µs per message
for each, wall time over messages. The runtime's figure includes building each session's agents,
the per-run task, the event sink and the budget accounting; the bare figure includes building
the agent pairs too, so both count the same work. Target: the runtime within 1.5× of bare.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register
from bench.suites.turns import InstantModelClient, instant_agent
from parley import ConversableAgent

__all__ = ["InstantAgent", "RuntimeSampler"]

TARGET_SESSIONS = 1000
TARGET_RATIO = 1.5


class InstantAgent(ConversableAgent):
    """An agent whose model answers "ok" at once (the config names it as ``bench.suites.runtime:InstantAgent``)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs["llm_config"] = InstantModelClient()
        super().__init__(name, **kwargs)


def _config(turns: int) -> dict[str, Any]:
    agent = {"kind": "bench.suites.runtime:InstantAgent", "human_input_mode": "NEVER",
             "max_consecutive_auto_reply": 10 * turns, "system_message": "You are a helpful assistant."}  # fmt: skip
    return {
        "agents": {"alice": agent, "bob": agent},
        "teams": {"pair": {"kind": "two_agent", "members": ["alice", "bob"], "max_turns": turns}},
    }


class RuntimeSampler:
    """Times ``sessions`` concurrent runtime runs and as many bare chats; µs per message for each.

    Args:
        sessions: how many run at once.
        max_turns: round trips per chat.
    """

    def __init__(self, sessions: int, max_turns: int) -> None:
        self._sessions = sessions
        self._turns = max_turns
        self._samples = 0
        self.info: Mapping[str, str] = {"python": sys.executable}

    async def _runtime(self) -> float:
        from parley.runtime import Runtime

        start = time.perf_counter()
        async with Runtime.from_dict(_config(self._turns)) as runtime:
            results = await asyncio.gather(*(runtime.run("pair", "hi") for _ in range(self._sessions)))
            elapsed = time.perf_counter() - start
        messages = sum(len(r.messages) for r in results)
        bad = [r.stop_reason for r in results if r.stop_reason != "completed"]
        if messages != self._sessions * 2 * self._turns or bad:
            raise RuntimeError(f"runtime: {messages} messages, stop reasons {set(bad)}")
        return elapsed * 1e6 / messages

    async def _bare(self) -> float:
        turns = self._turns
        start = time.perf_counter()
        pairs = [(instant_agent("alice", turns), instant_agent("bob", turns)) for _ in range(self._sessions)]
        results = await asyncio.gather(
            *(a.a_initiate_chat(b, message="hi", max_turns=turns, silent=True) for a, b in pairs)
        )
        elapsed = time.perf_counter() - start
        messages = sum(len(r.chat_history) for r in results)
        if messages != self._sessions * 2 * turns:
            raise RuntimeError(f"bare: {messages} messages")
        return elapsed * 1e6 / messages

    async def _both(self) -> dict[str, float]:
        self._samples += 1
        if self._samples % 2:
            runtime = await self._runtime()
            bare = await self._bare()
        else:
            bare = await self._bare()
            runtime = await self._runtime()
        return {"runtime_us": runtime, "bare_us": bare, "ratio": runtime / bare, "sessions": float(self._sessions)}

    def sample(self) -> dict[str, float]:
        """Return ``runtime_us``, ``bare_us`` (µs per message), their ``ratio`` and ``sessions``."""
        return asyncio.run(self._both())

    def close(self) -> None:
        """Nothing to release: each sample's runtime is closed when it returns."""


def _parley(params: Mapping[str, Any]) -> Sampler:
    return RuntimeSampler(int(params["sessions"]), int(params["max_turns"]))


def _verdict(m: Medians) -> str:
    ratio = m.parley["runtime_us"] / m.parley["bare_us"]
    met = "met" if ratio <= TARGET_RATIO else "not met"
    return f"{met}: {ratio:.2f}× bare"


def _params(quick: bool) -> dict[str, Any]:
    return {"sessions": 100 if quick else TARGET_SESSIONS, "max_turns": 3, "messages": 6}


register(
    Benchmark(
        name="runtime",
        summary=(
            "Concurrent `Runtime.run` of a two-agent team from a config (one new session each) against as many "
            "bare `a_initiate_chat` chats, instant model, one process; wall time per message."
        ),
        params=_params,
        parley=_parley,
        metrics=(
            Metric(
                label="Runtime: {sessions:,} concurrent sessions × {messages} messages, per message",
                unit="µs/message",
                parley_key="runtime_us",
                target="≤ 1.5× a bare `a_initiate_chat`",
                status=_verdict,
            ),
            Metric(
                label="Runtime: same count of bare `a_initiate_chat` chats", unit="µs/message", parley_key="bare_us"
            ),
        ),
        reps=5,
        quick_reps=3,
        warmup=1,
    )
)
