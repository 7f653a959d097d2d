"""AutoGen 0.2's checks and message keys on a single agent, as 0.2's own tests expect them."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

import pytest
from pydantic import ValidationError

from parley import AssistantAgent, ConversableAgent, UserProxyAgent
from parley.agentchat._tool_schema import arguments_model
from parley.exceptions import UsageError
from parley.llm.config import NO_MODEL_MESSAGE as NO_MODEL
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


def test_register_for_llm_gives_0_2s_schema_exactly() -> None:
    agent = ConversableAgent("agent", llm_config={"config_list": [{"model": "gpt-4", "api_key": "sk-test"}]})

    @agent.register_for_llm(description="run cell in ipython and return the execution result.")
    def exec_python(cell: Annotated[str, "Valid Python cell to execute."]) -> str:
        return cell

    assert agent.llm_config["tools"] == [
        {
            "type": "function",
            "function": {
                "description": "run cell in ipython and return the execution result.",
                "name": "exec_python",
                "parameters": {
                    "type": "object",
                    "properties": {"cell": {"type": "string", "description": "Valid Python cell to execute."}},
                    "required": ["cell"],
                },
            },
        }
    ]
    with pytest.raises(ValidationError, match="extra"):  # extra arguments are still refused when the call runs
        arguments_model(exec_python, "exec_python").model.model_validate({"cell": "1", "extra": 2})


def test_a_tool_without_description_is_refused_in_0_2s_words() -> None:
    agent = ConversableAgent("agent", llm_config={"config_list": [{"model": "gpt-4", "api_key": "sk-test"}]})
    with pytest.raises(ValueError, match="pass description=") as e:

        @agent.register_for_llm()
        def exec_python(cell: str) -> str:
            return cell

    assert e.value.args[0] == "Function description is required, none found."


@pytest.mark.parametrize("llm_config", [{}, {"config_list": []}, {"config_list": [{"model": ""}]}, {"model": ""}])
def test_an_llm_config_without_a_model_raises_0_2s_value_error(llm_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=re.escape(NO_MODEL)):
        ConversableAgent("agent", llm_config=llm_config)


def test_no_llm_config_means_no_model_and_no_tools_as_in_0_2() -> None:
    agent = ConversableAgent("agent", llm_config=None)
    assert agent.client is None
    with pytest.raises(AssertionError, match="To update a tool signature, agent must have an llm_config"):

        @agent.register_for_llm(description="do things.")
        def do_stuff(s: str) -> str:
            return s


def test_generate_reply_with_neither_messages_nor_sender_is_an_assertion_error() -> None:
    agent = ConversableAgent("agent", llm_config=False, human_input_mode="NEVER")
    with pytest.raises(AssertionError):
        agent.generate_reply(messages=None, sender=None)
    with pytest.raises(UsageError, match="Either messages or sender must be provided"):
        asyncio.run(agent.a_generate_reply(messages=None, sender=None))


def test_function_call_arguments_that_are_not_json_get_0_2s_sentence() -> None:
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False, function_map={"add": add})
    ok, reply = user.execute_function({"name": "add", "arguments": '{ "a": 5, b: 10 }'})
    assert not ok
    assert "The argument must be in JSON format." in str(reply["content"])
    assert user.execute_function({"name": "add", "arguments": '{"a": 5, "b": 10}'})[1]["content"] == "15"


def add(a: int, b: int) -> int:
    return a + b


def test_last_message_with_a_stranger_is_a_key_error_as_in_0_2() -> None:
    one = ConversableAgent("one", llm_config=False, human_input_mode="NEVER")
    two = ConversableAgent("two", llm_config=False, human_input_mode="NEVER")
    one.receive("hi", two, request_reply=False, silent=True)
    with pytest.raises(KeyError, match="talked with: 'two'"):
        one.last_message(ConversableAgent("three", llm_config=False))
