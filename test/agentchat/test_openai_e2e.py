"""A 20-turn assistant/user-proxy chat through the real openai SDK against the scripted server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent, gather_usage_summary
from parley.exceptions import ModelResponseError
from parley.llm.pricing import cost as price_of
from parley.testing import ScriptedOpenAIServer

TURNS = 20
SUMMARY_REQUEST = "Summarize the conversation"


def script(request: dict[str, Any]) -> Any:
    messages = request["messages"]
    last = str(messages[-1].get("content") or "")
    if last.startswith(SUMMARY_REQUEST):
        return "Twenty squares were computed by running code."
    done = sum(1 for m in messages if str(m.get("content") or "").startswith("exitcode: 0"))
    if done < TURNS:
        return f"Turn {done}:\n```python\nprint('square', {done}, {done} * {done})\n```"
    return f"All {TURNS} squares computed. TERMINATE"


@pytest.fixture(scope="module")
def server() -> Any:
    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as srv:
        yield srv


def agents(server: Any, tmp_path: Path) -> tuple[AssistantAgent, UserProxyAgent]:
    config = {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test-key"}]}
    assistant = AssistantAgent("assistant", llm_config=config)
    proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=TURNS + 5,
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
    )
    return assistant, proxy


@pytest.mark.timeout(120)
def test_twenty_turn_chat_runs_every_block_and_adds_up_usage(server: Any, tmp_path: Path) -> None:
    assistant, proxy = agents(server, tmp_path)
    before = server.request_count
    result = proxy.initiate_chat(assistant, message="Compute 20 squares, one per turn, with code.", silent=True)
    history = result.chat_history
    outputs = [m["content"] for m in history if str(m.get("content")).startswith("exitcode:")]
    assert outputs == [f"exitcode: 0 (execution succeeded)\nCode output: square {i} {i * i}\n" for i in range(TURNS)]
    assert history[-1]["content"] == f"All {TURNS} squares computed. TERMINATE"
    assert len(history) == 2 + 2 * TURNS
    assert server.request_count - before == TURNS + 1
    assert result.summary == f"All {TURNS} squares computed."

    usage = result.cost["usage_including_cached_inference"]
    model_usage = usage["gpt-4o-mini"]
    assert model_usage["total_tokens"] == model_usage["prompt_tokens"] + model_usage["completion_tokens"] > 0
    expected = price_of("gpt-4o-mini", model_usage["prompt_tokens"], model_usage["completion_tokens"])
    assert model_usage["cost"] == pytest.approx(expected)
    assert expected > 0
    assert usage["total_cost"] == pytest.approx(expected)
    assert result.cost["usage_excluding_cached_inference"] == usage  # nothing was cached
    assert gather_usage_summary([assistant, proxy]) == result.cost  # fresh agents: the chat is all usage


def test_reflection_and_callable_summaries(server: Any, tmp_path: Path) -> None:
    assistant, proxy = agents(server, tmp_path)
    result = proxy.initiate_chat(
        assistant, message="Compute squares.", max_turns=2, summary_method="reflection_with_llm", silent=True
    )
    assert result.summary == "Twenty squares were computed by running code."
    result2 = proxy.initiate_chat(
        assistant, message="Compute squares.", max_turns=1,
        summary_method=lambda sender, recipient, args: f"{len(sender.chat_messages[recipient])} messages",
        silent=True,
    )  # fmt: skip
    assert result2.summary == "2 messages"


@pytest.mark.parametrize(
    "bad_reply",
    [
        {"raw_json": {"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini", "choices": []}},
        {
            "raw_json": {
                "id": "c2", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None}}],
            }
        },
        {"raw": '{"id": "c3", "choices": [{"message": {"content": "trunc'},
    ],
)  # fmt: skip
def test_malformed_server_reply_ends_the_chat_with_a_clear_error(bad_reply: dict[str, Any], tmp_path: Path) -> None:
    with ScriptedOpenAIServer([bad_reply]) as srv:
        config = {
            "config_list": [{"model": "gpt-4o-mini", "base_url": srv.base_url, "api_key": "sk-test-SECRET-0123456789"}]
        }
        assistant = AssistantAgent("assistant", llm_config=config)
        proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
        with pytest.raises(ModelResponseError) as info:
            proxy.initiate_chat(assistant, message="hello", silent=True)
    text = str(info.value)
    assert "gpt-4o-mini" in text
    assert srv.base_url in text
    assert "SECRET-0123456789" not in text
    assert len(text) < 1000  # one clear line, not a wall of SDK internals
