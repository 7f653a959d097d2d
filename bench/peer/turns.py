"""Peer side of the turn-overhead benchmark: a two-agent AutoGen 0.2.35 chat with an instant model.

Both agents are `script_02_turns.agent`: they answer through that script's custom model client
(``InstantClient``, AutoGen 0.2's ModelClient protocol: ``create(params)``,
``message_retrieval``, ``cost``, ``get_usage``, registered with ``register_model_client``), with
the cache off (``cache_seed=None``), ``human_input_mode="NEVER"`` and code execution off. One
sample is one ``initiate_chat`` of ``max_turns`` round trips, then the same chat through
``a_initiate_chat`` on an event loop; it reports the wall time per message of each in
microseconds (chat wall time / messages in the chat history).

Config: ``{"max_turns": int}``. Run by the orchestrator inside the peer venv.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _protocol import Close, Sample, serve


def instant_agent(name: str, max_replies: int) -> Any:
    """A 0.2 ConversableAgent answering through the script's ``InstantClient``, no human input, no code, no cache.

    The script (and with it autogen) is imported here, at set-up, once the worker protects its
    protocol stream from what the library prints.
    """
    import script_02_turns

    return script_02_turns.agent(name, max_replies)


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    import script_02_turns as script

    max_turns = int(config["max_turns"])
    alice, bob = instant_agent("alice", max_turns), instant_agent("bob", max_turns)

    loop = asyncio.new_event_loop()

    def sample() -> dict[str, float]:
        sync_us = script.chat_us_per_message(alice, bob, max_turns)
        start = time.perf_counter()
        result = loop.run_until_complete(alice.a_initiate_chat(bob, message="hi", max_turns=max_turns, silent=True))
        elapsed = time.perf_counter() - start
        n = len(result.chat_history)
        if n != 2 * max_turns:
            raise RuntimeError(f"expected {2 * max_turns} messages, got {n}")
        return {"sync_us_per_message": sync_us, "async_us_per_message": elapsed / n * 1e6}

    return sample, {"autogen": autogen.__version__}, loop.close


if __name__ == "__main__":
    serve(setup)
