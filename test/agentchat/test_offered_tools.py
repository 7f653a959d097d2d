"""What a model call offers: tools from the agent's registry, its config, or a subclass's own properties.

The reply path skips building the tool lists when an agent has none (issue 12's per-message work);
these guard the cases where it must not skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parley.agentchat import ConversableAgent
from parley.llm.types import Message, ToolSpec
from parley.testing import FunctionModelClient

SPEC: ToolSpec = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {"type": "object", "properties": {}},
    },
}


def _recording() -> tuple[FunctionModelClient, list[list[str]]]:
    offered: list[list[str]] = []

    def answer(messages: Sequence[Message], tools: Sequence[ToolSpec] | None, params: Mapping[str, Any] | None) -> str:
        offered.append([t["function"]["name"] for t in tools or []])
        return "ok"

    return FunctionModelClient(answer), offered


class _OwnTools(ConversableAgent):
    @property
    def tools(self) -> list[ToolSpec]:
        return [SPEC]


def test_a_subclass_that_overrides_tools_gets_them_offered() -> None:
    client, offered = _recording()
    agent = _OwnTools("a", llm_config=client, human_input_mode="NEVER")
    user = ConversableAgent("u", llm_config=False, human_input_mode="NEVER")
    user.initiate_chat(agent, message="hi", max_turns=1, silent=True)
    assert offered == [["lookup"]]


def test_an_agent_without_tools_offers_none_and_one_with_a_registered_tool_offers_it() -> None:
    client, offered = _recording()
    agent = ConversableAgent("a", llm_config=client, human_input_mode="NEVER")
    user = ConversableAgent("u", llm_config=False, human_input_mode="NEVER")
    user.initiate_chat(agent, message="hi", max_turns=1, silent=True)

    @agent.register_for_llm(description="Look a word up.")
    def lookup(word: str) -> str:
        return word

    user.initiate_chat(agent, message="again", max_turns=1, silent=True)
    assert offered == [[], ["lookup"]]


def test_tools_in_a_dict_llm_config_are_offered() -> None:
    from parley.testing import ScriptedOpenAIServer

    offered: list[list[str]] = []

    def answer(body: dict[str, Any]) -> str:
        offered.append([t["function"]["name"] for t in body.get("tools") or []])
        return "ok"

    with ScriptedOpenAIServer(answer, model="m") as server:
        entry = {"model": "m", "base_url": server.base_url, "api_key": "not-needed"}
        agent = ConversableAgent(
            "a", llm_config={"config_list": [entry], "tools": [SPEC], "cache_seed": None}, human_input_mode="NEVER"
        )
        user = ConversableAgent("u", llm_config=False, human_input_mode="NEVER")
        user.initiate_chat(agent, message="hi", max_turns=1, silent=True)
        plain = ConversableAgent("p", llm_config={"config_list": [entry], "cache_seed": None}, human_input_mode="NEVER")
        user.initiate_chat(plain, message="hi", max_turns=1, silent=True)
    assert offered == [["lookup"], []]
