"""AutoGen 0.2's legacy function calling, its public sync reply methods, and its hook names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parley import AssistantAgent, ChatResult, ConversableAgent, UserProxyAgent, register_function
from parley.agentchat import Agent
from parley.llm.types import Message
from parley.testing import FunctionModelClient, ScriptedModelClient, ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(60)

ADD_SPEC = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}


def test_llm_config_functions_reach_the_model_and_function_map_runs_the_call() -> None:
    replies = [{"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 40}}]}, "42. TERMINATE"]
    with ScriptedOpenAIServer(replies) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry], "functions": [ADD_SPEC]})
        user = UserProxyAgent(
            "user", human_input_mode="NEVER", code_execution_config=False, function_map={"add": lambda a, b: a + b}
        )
        result = user.initiate_chat(assistant, message="2 + 40?", silent=True)
        first, second = server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]
    history = result.chat_history
    assert history[1]["function_call"] == {"name": "add", "arguments": '{"a": 2, "b": 40}'}
    assert "tool_calls" not in history[1]
    assert history[2] == {"content": "42", "name": "add", "role": "function"}
    # on the wire the call and its answer are a tool call and a tool response with the same id
    call, answer = second["messages"][2], second["messages"][3]
    assert call["tool_calls"][0]["function"]["name"] == "add"
    assert answer == {"role": "tool", "tool_call_id": call["tool_calls"][0]["id"], "content": "42"}
    assert result.summary == "42."


def test_function_call_messages_are_executed_with_0_2_results() -> None:
    async def slow_mul(a: int, b: int) -> int:
        return a * b

    agent = ConversableAgent(
        "runner", llm_config=False, human_input_mode="NEVER", function_map={"mul": slow_mul, "boom": lambda: 1 / 0}
    )
    call: Message = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "mul", "arguments": '{"a": 6, "b": 7}'},
    }
    assert agent.generate_function_call_reply([call]) == (True, {"name": "mul", "role": "function", "content": "42"})
    assert agent.execute_function({"name": "boom", "arguments": "{}"}) == (
        False,
        {"name": "boom", "role": "function", "content": "Error: division by zero"},
    )
    ok, missing = agent.execute_function({"name": "nope", "arguments": "{}"})
    assert not ok
    assert str(missing["content"]).startswith("Error: Function nope not found.")
    assert agent.can_execute_function(["mul", "boom"])
    assert not agent.can_execute_function("nope")
    assert agent.generate_reply([call], sender=None) == {"name": "mul", "role": "function", "content": "42"}


def test_api_style_function_and_update_function_signature() -> None:
    agent = ConversableAgent("caller", llm_config={"model": "m", "functions": []}, human_input_mode="NEVER")

    @agent.register_for_llm(description="Add two integers.", api_style="function")
    def add(a: int, b: int) -> int:
        return a + b

    assert [f["name"] for f in agent.llm_config["functions"]] == ["add"]
    assert agent.tools == []
    agent.update_function_signature(ADD_SPEC | {"name": "sum2"}, is_remove=False)
    agent.update_function_signature("add", is_remove=True)
    assert [f["name"] for f in agent.functions] == ["sum2"]
    with pytest.raises(ValueError, match=r"no function named 'sum'.*Did you mean 'sum2'"):
        agent.update_function_signature("sum", is_remove=True)


def test_register_for_execution_takes_name_as_keyword() -> None:
    caller = ConversableAgent("caller", llm_config={"model": "m"}, human_input_mode="NEVER")
    executor = ConversableAgent("executor", llm_config=False, human_input_mode="NEVER")

    def calculator(a: int, b: int) -> int:
        return a * b

    caller.register_for_llm(name="calculator", description="A simple calculator")(calculator)
    executor.register_for_execution(name="calculator")(calculator)
    assert [t["function"]["name"] for t in caller.llm_config["tools"]] == ["calculator"]
    assert "calculator" in executor.function_map


def test_public_sync_reply_methods_and_register_reply_with_them() -> None:
    model = ScriptedModelClient(["from the model", "again"])
    agent = ConversableAgent("a", llm_config=model, human_input_mode="NEVER")
    assert agent.generate_oai_reply([{"role": "user", "content": "hi"}]) == (True, "from the model")
    assert agent.check_termination_and_human_reply([{"role": "user", "content": "go on"}], sender=None) == (
        False,
        None,
    )
    assert agent.generate_tool_calls_reply([{"role": "user", "content": "no calls"}]) == (False, None)
    assert agent.generate_code_execution_reply([{"role": "user", "content": "```python\nprint(1)\n```"}]) == (
        False,
        None,
    )  # code execution is off for this agent
    other = ConversableAgent("other", llm_config=False, human_input_mode="NEVER", default_auto_reply="default")
    other.register_reply([Agent, None], ConversableAgent.generate_oai_reply, config=agent.client)
    assert other.generate_reply([{"role": "user", "content": "x"}], sender=None) == "again"


def test_replace_reply_func_matches_the_sync_name_and_subclasses_calling_it_work() -> None:
    def canned(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> tuple[bool, str]:
        return True, "canned"

    agent = ConversableAgent("a", llm_config=ScriptedModelClient([]), human_input_mode="NEVER")
    agent.replace_reply_func(ConversableAgent.generate_oai_reply, canned)
    assert agent.generate_reply([{"role": "user", "content": "x"}], sender=None) == "canned"

    class Shouting(ConversableAgent):
        def generate_oai_reply(
            self, messages: list[Message] | None = None, sender: Any = None, config: Any = None
        ) -> tuple[bool, Any]:
            final, reply = super().generate_oai_reply(messages, sender, config)
            return final, str(reply).upper()

    loud = Shouting("loud", llm_config=ScriptedModelClient(["quiet words"]), human_input_mode="NEVER")
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    result = user.initiate_chat(loud, message="hi", max_turns=1, silent=True)
    assert result.chat_history[-1]["content"] == "QUIET WORDS"
    assert (
        loud.generate_reply([{"role": "user", "content": "hi"}], sender=None, exclude=[Shouting.generate_oai_reply])
        == ""
    )


def test_async_hook_names_and_hook_lists() -> None:
    seen: list[str] = []

    async def before_send(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
        seen.append("send")
        return message

    async def last_received(content: str) -> str:
        return content + " (hooked)"

    model = FunctionModelClient(lambda messages, tools, params: json.dumps(messages[-1]["content"]))
    agent = ConversableAgent("a", llm_config=model, human_input_mode="NEVER")
    agent.register_hook("a_process_message_before_send", before_send)
    agent.register_hook("a_process_last_received_message", last_received)
    assert agent.hook_lists["a_process_message_before_send"] == [before_send]
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    result = user.initiate_chat(agent, message="hi", max_turns=1, silent=True)
    assert result.chat_history[-1]["content"] == '"hi (hooked)"'
    assert seen == ["send"]


def test_generate_init_message_and_get_chat_results() -> None:
    a = ConversableAgent("a", llm_config=False, human_input_mode="NEVER", default_auto_reply="ok")
    b = ConversableAgent("b", llm_config=False, human_input_mode="NEVER", default_auto_reply="fine")
    assert a.generate_init_message("task", carryover="earlier") == "task\nContext: \nearlier"
    results = a.initiate_chats(
        [{"recipient": b, "message": "one", "max_turns": 1}, {"recipient": b, "message": "two", "max_turns": 1}]
    )
    assert a.get_chat_results() == results
    second = a.get_chat_results(1)
    assert isinstance(second, ChatResult)
    assert str(second.chat_history[0]["content"]).startswith("two")


def test_execute_code_blocks_and_run_code(tmp_path: Any) -> None:
    agent = ConversableAgent(
        "runner", llm_config=False, human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
    )  # fmt: skip
    assert agent.execute_code_blocks([("python", "print('hi')")]) == (0, "hi\n")
    exit_code, output, image = agent.run_code("print(2 + 2)", lang="python")
    assert (exit_code, output, image) == (0, "4\n", None)


def test_function_map_keeps_the_registered_function_as_origin() -> None:
    # 0.2's notebooks check `user_proxy.function_map[name]._origin == f` after the decorators.
    caller = ConversableAgent("caller", llm_config=ScriptedModelClient([]))
    executor = ConversableAgent("executor", llm_config=False)

    @executor.register_for_execution()
    @caller.register_for_llm(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    async def sub(a: int, b: int) -> int:
        return a - b

    register_function(sub, caller=caller, executor=executor, description="Subtract.")
    assert executor.function_map["add"]._origin is add  # type: ignore[attr-defined]
    assert executor.function_map["sub"]._origin is sub  # type: ignore[attr-defined]
