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
