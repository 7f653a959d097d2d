"""Executor capabilities add their instructions to an LLM agent exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley import AssistantAgent, ConversableAgent
from parley.agentchat import AgentCapability
from parley.coding import LocalCommandLineCodeExecutor
from parley.exceptions import ConfigError
from parley.testing import ScriptedModelClient


def test_local_capability_added_once_and_describes_the_environment(tmp_path: Path) -> None:
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient([]))
    before = assistant.system_message
    capability = LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=7).user_capability
    assert isinstance(capability, AgentCapability)
    capability.add_to_agent(assistant)
    once = assistant.system_message
    capability.add_to_agent(assistant)
    LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=7).user_capability.add_to_agent(assistant)
    assert assistant.system_message == once
    assert once.startswith(before)
    added = once[len(before) :]
    assert str(tmp_path) in added
    assert "7 seconds" in added
    assert "pip install" in added
    assert "python" in added


def test_capability_reaches_the_model() -> None:
    model = ScriptedModelClient(["hi"])
    agent = ConversableAgent("a", llm_config=model, system_message="Base.", human_input_mode="NEVER")
    LocalCommandLineCodeExecutor(work_dir="w").user_capability.add_to_agent(agent)
    agent.generate_reply([{"role": "user", "content": "x"}], ConversableAgent("b", human_input_mode="NEVER"))
    system = str(model.calls[0][0]["content"])
    assert system.startswith("Base.\n\n# How your code is run")


def test_capability_refuses_a_non_llm_agent() -> None:
    with pytest.raises(ConfigError, match="no system message"):
        LocalCommandLineCodeExecutor().user_capability.add_to_agent(object())
