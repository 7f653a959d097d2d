"""AutoGen 0.2's checks and message keys on a single agent, as 0.2's own tests expect them."""

from __future__ import annotations

import pytest

from parley import AssistantAgent, ConversableAgent, UserProxyAgent
from parley.llm.types import Message
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(60)


def test_context_is_stored_with_the_message_and_kept_off_the_wire() -> None:
    with ScriptedOpenAIServer(["Hello dummy. TERMINATE"]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry]})
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        message: Message = {"content": "hello {name}", "context": {"name": "dummy"}}
        result = user.initiate_chat(assistant, message=message, silent=True)
        sent = server.requests[0]["messages"]
    assert result.chat_history[0] == {
        "content": "hello {name}",
        "context": {"name": "dummy"},
        "role": "assistant",
        "name": "user",
    }
    assert assistant.chat_messages[user][0]["context"] == {"name": "dummy"}
    assert sent[-1] == {"content": "hello {name}", "role": "user", "name": "user"}


def test_received_context_is_kept_as_0_2_keeps_it() -> None:
    one = ConversableAgent("one", llm_config=False, human_input_mode="NEVER")
    two = ConversableAgent("two", llm_config=False, human_input_mode="NEVER")
    one.receive({"content": "hello {name}", "context": {"name": "two"}}, two, request_reply=False, silent=True)
    assert one.chat_messages[two][-1]["context"] == {"name": "two"}
