"""Turn overhead: a two-agent chat where both agents answer at once through a custom model client.

Both sides run the same chat: ``alice.initiate_chat(bob, message="hi", max_turns=N,
silent=True)`` with ``human_input_mode="NEVER"``, code execution off, no cache, and a custom
model client that returns ``"ok"`` with zero usage and does no other work: `InstantModelClient`
here (parley's ModelClient protocol), its twin registered with ``register_model_client`` on the
peer (``bench/peer/turns.py``). The figure is chat wall time divided by the number of messages in
the chat history, in microseconds, so it is the framework's own cost per message. Each sample
runs the chat once through the sync API and once through the async API (``a_initiate_chat`` on
an event loop).

`parley.testing.FunctionModelClient` is not used: it estimates token usage over the whole history
on every call, which is test-double work, not framework work.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bench.registry import Benchmark, Medians, Metric, Sampler, peer_script, register

if TYPE_CHECKING:
    from parley import ChatResult, ConversableAgent
    from parley.llm.types import Message, ModelResponse, ToolSpec

__all__ = ["InstantModelClient", "SyncAsyncSampler", "TurnsSampler", "instant_agent", "ratio_verdict"]

TARGET_RATIO = 10.0


class InstantModelClient:
    """A custom model client (parley's ModelClient protocol) that answers ``"ok"`` at once, zero usage.

    The response class is looked up once, here: an ``import`` statement inside `create` cost about
    5 % of a whole turn (each one looks for the module's ``__path__`` and raises inside), work
    the peer's client does not do.
    """

    def __init__(self) -> None:
        from parley.llm.types import ModelResponse

        self._response = ModelResponse

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Return a fresh ``{"role": "assistant", "content": "ok"}`` reply; ignores the arguments."""
        return self._response(message={"role": "assistant", "content": "ok"}, model="instant")


def instant_agent(name: str, max_turns: int) -> ConversableAgent:
    """Return an agent that answers ``"ok"`` at once, with no human input, code execution or cache."""
    from parley import ConversableAgent

    return ConversableAgent(
        name,
        system_message="You are a helpful assistant.",
        llm_config=InstantModelClient(),
        human_input_mode="NEVER",
        max_consecutive_auto_reply=10 * max_turns,
        code_execution_config=False,
    )


class SyncAsyncSampler:
    """Samples one chat through the sync API and once through the async API, alternating order.

    Subclasses set ``self._loop`` (an event loop for the async run) and define ``_sync()`` and
    ``_async()``, each returning µs per message. Which runs first alternates between samples, so
    that neither always pays for the caches the peer's process just cooled.
    """

    _loop: asyncio.AbstractEventLoop
    _samples = 0

    def _sync(self) -> float:
        raise NotImplementedError

    def _async(self) -> float:
        raise NotImplementedError

    def sample(self) -> dict[str, float]:
        """Return ``sync_us_per_message`` and ``async_us_per_message``."""
        self._samples += 1
        if self._samples % 2:
            sync_us, async_us = self._sync(), self._async()
        else:
            async_us, sync_us = self._async(), self._sync()
        return {"sync_us_per_message": sync_us, "async_us_per_message": async_us}

    def close(self) -> None:
        """Close the sampler's event loop. Idempotent."""
        if not self._loop.is_closed():
            self._loop.close()


def ratio_verdict(key: str) -> Callable[[Medians], str]:
    """A status function: "met (N×)" when peer / parley for ``key`` reaches `TARGET_RATIO`."""

    def verdict(m: Medians) -> str:
        if m.peer is None:
            return "no peer figure"
        ratio = m.peer[key] / m.parley[key]
        return f"met ({ratio:.1f}×)" if ratio >= TARGET_RATIO else f"not met ({ratio:.1f}×)"

    return verdict


class TurnsSampler(SyncAsyncSampler):
    """Times one two-agent chat of ``max_turns`` round trips, sync then async.

    Args:
        max_turns: round trips per chat; the chat has ``2 * max_turns`` messages.
    """

    def __init__(self, max_turns: int) -> None:
        self._max_turns = max_turns
        self._alice = instant_agent("alice", max_turns)
        self._bob = instant_agent("bob", max_turns)
        self._loop = asyncio.new_event_loop()
        self.info: Mapping[str, str] = {"python": sys.executable}

    def _per_message(self, start: float, result: ChatResult) -> float:
        elapsed = time.perf_counter() - start
        n = len(result.chat_history)
        if n != 2 * self._max_turns:
            raise RuntimeError(f"expected {2 * self._max_turns} messages, got {n}")
        return elapsed / n * 1e6

    def _sync(self) -> float:
        start = time.perf_counter()
        result = self._alice.initiate_chat(self._bob, message="hi", max_turns=self._max_turns, silent=True)
        return self._per_message(start, result)

    def _async(self) -> float:
        start = time.perf_counter()
        chat = self._alice.a_initiate_chat(self._bob, message="hi", max_turns=self._max_turns, silent=True)
        return self._per_message(start, self._loop.run_until_complete(chat))


def _parley(params: Mapping[str, Any]) -> Sampler:
    return TurnsSampler(int(params["max_turns"]))


register(
    Benchmark(
        name="turns",
        summary=(
            "two-agent chat, both agents answering instantly through a custom model client, "
            "human_input_mode NEVER, code execution and cache off; chat wall time / messages."
        ),
        params=lambda quick: {"max_turns": 100, "messages": 200},
        parley=_parley,
        peer=peer_script("turns.py"),
        peer07=peer_script("ag07_turns.py"),
        metrics=(
            Metric(
                label="Turn overhead, instant model client, {messages}-message chat (sync `initiate_chat`)",
                unit="µs/message",
                parley_key="sync_us_per_message",
                peer_key="sync_us_per_message",
                target="≥ 10× less than 0.2",
                status=ratio_verdict("sync_us_per_message"),
            ),
            Metric(
                label="Turn overhead, same chat through async `a_initiate_chat`",
                unit="µs/message",
                parley_key="async_us_per_message",
                peer_key="async_us_per_message",
                peer07_key="async_us_per_message",
                target="≥ 10× less than 0.2",
                status=ratio_verdict("async_us_per_message"),
            ),
        ),
        reps=50,
        quick_reps=10,
        warmup=5,
    )
)
