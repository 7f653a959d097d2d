"""Peer side of the turn-overhead benchmark: a two-agent AutoGen 0.2.35 chat with an instant model.

Both agents answer through a custom model client registered with ``register_model_client``
(AutoGen 0.2's ModelClient protocol: ``create(params)``, ``message_retrieval``, ``cost``,
``get_usage``), with the cache off (``cache_seed=None``), ``human_input_mode="NEVER"`` and code
execution off. One sample is one ``initiate_chat`` of ``max_turns`` round trips, then the same chat through
``a_initiate_chat`` on an event loop; it reports the wall time per message of each in
microseconds (chat wall time / messages in the chat history).

Config: ``{"max_turns": int}``. Run by the orchestrator inside the peer venv.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from _protocol import Close, Sample, serve


class InstantClient:
    """A model client that answers at once with a fixed reply (AutoGen 0.2's ModelClient protocol)."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self.model = config.get("model", "instant")

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        message = SimpleNamespace(content="ok", function_call=None, tool_calls=None)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], model=self.model)

    def message_retrieval(self, response: SimpleNamespace) -> list[str]:
        return [choice.message.content for choice in response.choices]

    def cost(self, response: SimpleNamespace) -> float:
        return 0.0

    @staticmethod
    def get_usage(response: SimpleNamespace) -> dict[str, Any]:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0, "model": "instant"}


def instant_agent(name: str, max_replies: int) -> Any:
    """A 0.2 ConversableAgent answering through `InstantClient`, no human input, no code, no cache."""
    from autogen import ConversableAgent

    a = ConversableAgent(
        name,
        system_message="You are a helpful assistant.",
        llm_config={"config_list": [{"model": "instant", "model_client_cls": "InstantClient"}], "cache_seed": None},
        human_input_mode="NEVER",
        max_consecutive_auto_reply=10 * max_replies,
        code_execution_config=False,
    )
    a.register_model_client(model_client_cls=InstantClient)
    return a


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen

    max_turns = int(config["max_turns"])
    alice, bob = instant_agent("alice", max_turns), instant_agent("bob", max_turns)

    loop = asyncio.new_event_loop()

    def per_message(start: float, result: Any) -> float:
        elapsed = time.perf_counter() - start
        n = len(result.chat_history)
        if n != 2 * max_turns:
            raise RuntimeError(f"expected {2 * max_turns} messages, got {n}")
        return elapsed / n * 1e6

    def sample() -> dict[str, float]:
        start = time.perf_counter()
        result = alice.initiate_chat(bob, message="hi", max_turns=max_turns, silent=True)
        sync_us = per_message(start, result)
        start = time.perf_counter()
        result = loop.run_until_complete(alice.a_initiate_chat(bob, message="hi", max_turns=max_turns, silent=True))
        return {"sync_us_per_message": sync_us, "async_us_per_message": per_message(start, result)}

    return sample, {"autogen": autogen.__version__}, loop.close


if __name__ == "__main__":
    serve(setup)
