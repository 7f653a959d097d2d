"""AutoGen 0.2's "Tool Use" tutorial, run with only the import changed, against the scripted server.

The tutorial's code is kept as written (``os.environ["OPENAI_API_KEY"]``, ``register_for_llm(name=...)``,
``register_for_execution(name=...)``, ``register_function``); the scripted server plays the model,
and ``OPENAI_BASE_URL`` points the openai SDK at it.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

import pytest

from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(120)

# The tutorial's first cells: at module level, as in the notebook (a notebook's names are globals).
Operator = Literal["+", "-", "*", "/"]


def calculator(a: int, b: int, operator: Annotated[Operator, "operator"]) -> int:
    if operator == "+":
        return a + b
    elif operator == "-":
        return a - b
    elif operator == "*":
        return a * b
    elif operator == "/":
        return int(a / b)
    else:
        raise ValueError("Invalid operator")


SCRIPT = [
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 232, "b": 32, "operator": "-"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 13312, "b": 200, "operator": "/"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 44232, "b": 66, "operator": "+"}}]},
    {"content": None, "tool_calls": [{"name": "calculator", "arguments": {"a": 44298, "b": 5, "operator": "*"}}]},
    "The result is 221490. TERMINATE",
]


def test_tool_use_tutorial(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOpenAIServer(SCRIPT) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        # ---- the tutorial, import changed -------------------------------------------------
        from parley import ConversableAgent

        assistant = ConversableAgent(
            name="Assistant",
            system_message="You are a helpful AI assistant. "
            "You can help with simple calculations. "
            "Return 'TERMINATE' when the task is done.",
            llm_config={"config_list": [{"model": "gpt-4", "api_key": os.environ["OPENAI_API_KEY"]}]},
        )
        user_proxy = ConversableAgent(
            name="User",
            llm_config=False,
            is_termination_msg=lambda msg: msg.get("content") is not None and "TERMINATE" in msg["content"],  # type: ignore[operator]  # as written
            human_input_mode="NEVER",
        )
        assistant.register_for_llm(name="calculator", description="A simple calculator")(calculator)
        user_proxy.register_for_execution(name="calculator")(calculator)

        from parley import register_function

        register_function(
            calculator,
            caller=assistant,
            executor=user_proxy,
            name="calculator",
            description="A simple calculator",
        )
        chat_result = user_proxy.initiate_chat(assistant, message="What is (44232 + 13312 / (232 - 32)) * 5?")
        # ---- end of the tutorial's cells ----------------------------------------------------
        requests = server.requests
    tool_results = [m["content"] for m in chat_result.chat_history if m.get("role") == "tool"]
    assert tool_results == ["200", "66", "44298", "221490"]
    assert chat_result.chat_history[-1]["content"] == "The result is 221490. TERMINATE"
    assert [t["function"]["name"] for t in requests[0]["tools"]] == ["calculator"]
    assert len(requests) == 5
