"""An AutoGen 0.2 script as a user writes it: two agents, a custom model client, a sync chat.

This file is run unchanged by the peer (``import autogen``) and by parley with only the import
changed (``autogen`` → ``parley``; see `bench.suites.turns_02_script`). The client is AutoGen
0.2's ModelClient protocol: a sync ``create(params)``, ``message_retrieval``, ``cost`` and
``get_usage``, registered with ``register_model_client``. The peer sides of ``turns`` and
``groupchat`` (``turns.py``) build their agents with this script's `agent` too.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from autogen import ConversableAgent


class InstantClient:
    """Answers ``"ok"`` at once (AutoGen 0.2's ModelClient protocol)."""

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


def agent(name: str, max_turns: int) -> Any:
    """An agent answering through `InstantClient`: no human input, no code execution, no cache."""
    a = ConversableAgent(
        name,
        system_message="You are a helpful assistant.",
        llm_config={"config_list": [{"model": "instant", "model_client_cls": "InstantClient"}], "cache_seed": None},
        human_input_mode="NEVER",
        max_consecutive_auto_reply=10 * max_turns,
        code_execution_config=False,
    )
    a.register_model_client(model_client_cls=InstantClient)
    return a


def chat_us_per_message(alice: Any, bob: Any, max_turns: int) -> float:
    """Run one sync chat of ``max_turns`` round trips; return its wall time per message in µs."""
    start = time.perf_counter()
    result = alice.initiate_chat(bob, message="hi", max_turns=max_turns, silent=True)
    elapsed = time.perf_counter() - start
    if len(result.chat_history) != 2 * max_turns:
        raise RuntimeError(f"expected {2 * max_turns} messages, got {len(result.chat_history)}")
    return elapsed / len(result.chat_history) * 1e6
