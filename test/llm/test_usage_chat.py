"""Usage and cost of real chats: per chat, per agent, the price table and its override, unknown models."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent, gather_usage_summary
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.llm.pricing import cost
from parley.testing import ScriptedOpenAIServer

Entry = Callable[..., dict[str, Any]]


def two_turns(server: ScriptedOpenAIServer, entry: dict[str, Any], **llm: Any) -> tuple[Any, Any, Any]:
    assistant = AssistantAgent("assistant", llm_config={"config_list": [entry], **llm})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    first = user.initiate_chat(assistant, message="First task.", max_turns=2, silent=True)
    second = user.initiate_chat(assistant, message="Second task.", max_turns=1, silent=True)
    return assistant, user, (first, second)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_usage_per_chat_adds_up_to_usage_per_agent(entry_for: Entry, stream: bool) -> None:
    with ScriptedOpenAIServer(lambda body: "A reply of some length.") as server:
        assistant, user, (first, second) = two_turns(server, entry_for(server, model="gpt-4o"), stream=stream)
        assert server.request_count == 3
    per_chat = [r.cost["usage_excluding_cached_inference"]["gpt-4o"] for r in (first, second)]
    agent = gather_usage_summary([assistant, user])["usage_excluding_cached_inference"]["gpt-4o"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert agent[key] == per_chat[0][key] + per_chat[1][key] > 0
    assert agent["cost"] == pytest.approx(cost("gpt-4o", agent["prompt_tokens"], agent["completion_tokens"]))
    assert gather_usage_summary([assistant, user]) == gather_usage_summary([assistant])  # the proxy has no model
    io = ScriptedIOStream()
    with IOStream.set_default(io):
        assistant.print_usage_summary()
    assert io.output[0] == "Agent 'assistant':\n"
    assert f"gpt-4o: cost ${agent['cost']:.6f}, prompt_tokens {agent['prompt_tokens']}" in io.output[1]


def test_a_price_in_the_entry_overrides_the_table(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(lambda body: "priced") as server:
        _, _, (first, _) = two_turns(server, entry_for(server, model="gpt-4o", price=[1.0, 2.0]))
    usage = first.cost["usage_excluding_cached_inference"]["gpt-4o"]
    assert usage["cost"] == pytest.approx(usage["prompt_tokens"] / 1000 * 1.0 + usage["completion_tokens"] / 1000 * 2.0)


def test_an_unknown_model_costs_nothing_and_warns_once(entry_for: Entry) -> None:
    model = f"local-{uuid.uuid4().hex[:8]}"  # a name no earlier test has warned about
    with ScriptedOpenAIServer(lambda body: "free") as server, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, (first, second) = two_turns(server, entry_for(server, model=model))
    about_model = [w for w in caught if model in str(w.message)]
    assert len(about_model) == 1
    assert 'Add "price"' in str(about_model[0].message)
    for result in (first, second):
        usage = result.cost["usage_excluding_cached_inference"]
        assert usage["total_cost"] == 0.0
        assert usage[model]["total_tokens"] > 0  # the tokens still count


def test_usage_summaries_can_be_set_as_in_0_2_and_gather_adds_them() -> None:
    # 0.2's test_gathering seeds each agent's client.total_usage_summary by assignment, then sums.
    config = {"config_list": [{"model": "gpt-4o-mini", "api_key": "sk-test"}]}
    agents = [AssistantAgent(f"assistant{i}", llm_config=config) for i in range(3)]
    clients = [agent.client for agent in agents]
    figures = [("gpt-35-turbo", 0.1), ("gpt-35-turbo", 0.2), ("gpt-4", 0.3)]
    for client, (model, dollars) in zip(clients, figures, strict=True):
        assert client is not None
        usage = {"cost": dollars, "prompt_tokens": 100, "completion_tokens": 200, "total_tokens": 300}
        client.total_usage_summary = {"total_cost": dollars, model: usage}
    first, third = clients[0], clients[2]
    assert first is not None
    assert third is not None
    assert third.total_usage_summary == {
        "total_cost": 0.3,
        "gpt-4": {"cost": 0.3, "prompt_tokens": 100, "completion_tokens": 200, "total_tokens": 300},
    }
    assert third.actual_usage_summary is None  # only the view assigned changes

    total = gather_usage_summary(agents)["usage_including_cached_inference"]
    assert round(total["total_cost"], 8) == 0.6
    assert round(total["gpt-35-turbo"]["cost"], 8) == 0.3
    assert total["gpt-35-turbo"]["total_tokens"] == 600
    assert round(total["gpt-4"]["cost"], 8) == 0.3

    first.actual_usage_summary = {"total_cost": 0.1, "gpt-4": {"cost": 0.1}}
    assert first.actual_usage_summary == {
        "total_cost": 0.1,
        "gpt-4": {"cost": 0.1, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    first.total_usage_summary = None
    assert first.total_usage_summary is None


def test_setting_a_usage_summary_refuses_a_model_entry_that_is_not_a_dict() -> None:
    from parley.exceptions import ConfigError

    assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model": "m", "api_key": "sk-test"}]})
    assert assistant.client is not None
    with pytest.raises(ConfigError, match="Usage for model 'gpt-4' must be a dict"):
        assistant.client.total_usage_summary = {"total_cost": 1.0, "gpt-4": 1.0}
