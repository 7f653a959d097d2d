"""The names ``autogen`` exports at top level and from ``autogen.agentchat.conversable_agent`` exist in parley."""

from __future__ import annotations

import pytest

import parley
from parley.exceptions import ConfigError, ParleyError


def test_register_function_imports_from_conversable_agent() -> None:
    from parley.agentchat.conversable_agent import register_function

    assert register_function is parley.register_function


def test_group_chat_exceptions_are_top_level_names() -> None:
    for name in ("AgentNameConflict", "InvalidCarryOverType", "NoEligibleSpeaker", "SenderRequired"):
        assert issubclass(getattr(parley, name), ParleyError)
    assert parley.UndefinedNextAgent is parley.exception_utils.UndefinedNextAgent


@pytest.mark.parametrize("name", ["Completion", "ChatCompletion"])
def test_the_retired_openai_v0_classes_import_and_say_what_to_use(name: str) -> None:
    from parley import oai

    cls = getattr(parley, name)
    assert cls is getattr(oai, name)
    with pytest.raises(ConfigError, match=r"OpenAIWrapper\(config_list=\[\.\.\.\]\)\.create\(messages="):
        cls.create(prompt="2+2=", model="gpt-4")
    with pytest.raises(ConfigError, match=rf"autogen\.{name}\.tune\(\)"):
        cls.tune(data=[], metric="success", mode="max")
    with pytest.raises(ConfigError, match="retired"):
        cls()


def test_contrib_agent_capability_is_parleys_own_and_0_2_subclasses_work() -> None:
    from parley.agentchat.contrib.capabilities.agent_capability import AgentCapability

    assert AgentCapability is parley.agentchat.AgentCapability

    class Greeter(AgentCapability):  # 0.2 code subclasses the base class and overrides add_to_agent
        def __init__(self, greeting: str) -> None:
            super().__init__()
            self.greeting = greeting

        def add_to_agent(self, agent: object) -> None:
            assert isinstance(agent, parley.ConversableAgent)
            agent.update_system_message(f"{agent.system_message} {self.greeting}")

    agent = parley.ConversableAgent("a", system_message="Be brief.", llm_config=False)
    Greeter("Say hello.").add_to_agent(agent)
    assert agent.system_message == "Be brief. Say hello."
    assert isinstance(Greeter("x"), AgentCapability)
