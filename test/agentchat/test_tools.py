"""Agents and tools: register_for_llm, register_for_execution, register_function, and tool chats
through the real ``openai`` SDK against the scripted server."""

from __future__ import annotations

import asyncio
import copy
import enum
import json
import subprocess
import sys
import threading
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from parley import ConversableAgent
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.agentchat.tools import ToolsMixin, function_schema, register_function
from parley.exceptions import ConfigError
from parley.llm.types import Message, ToolSpec
from parley.testing import FunctionModelClient, ScriptedOpenAIServer


class ToolAgent(ConversableAgent, ToolsMixin):
    """ConversableAgent with the tool methods (a no-op once ConversableAgent includes ToolsMixin)."""


def agent(name: str, llm_config: Any = False) -> ToolAgent:
    return ToolAgent(name, llm_config=llm_config, human_input_mode="NEVER", silent=True)


def config(server: Any = None) -> dict[str, Any]:
    base_url = server.base_url if server is not None else "http://127.0.0.1:9/v1"
    return {"config_list": [{"model": "gpt-4o-mini", "base_url": base_url, "api_key": "sk-test"}], "temperature": 0}


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def test_importing_the_tools_module_does_not_import_pydantic() -> None:
    code = "import sys, parley.agentchat.tools; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"  # pydantic (40-60 ms) waits for the first registered tool


# ---- offering tools to the model -------------------------------------------------------------


def test_register_for_llm_copies_the_config_and_replaces_tools_by_name() -> None:
    def add(a: int, b: int) -> int:  # local: the decorators remember a description on the function
        """Add two integers."""
        return a + b

    user_config = config()
    before = copy.deepcopy(user_config)
    caller = agent("caller", user_config)
    assert caller.register_for_llm(description="Sum.")(add) is add
    caller.register_for_llm()(mul)
    caller.register_for_llm(description="Sum, again.")(add)
    assert user_config == before  # the caller's dict is never modified
    expected = [function_schema(add, description="Sum, again."), function_schema(mul)]
    assert caller.llm_config["tools"] == expected
    assert caller.tools == expected
    assert caller.llm_config["temperature"] == 0
    caller.update_tool_signature("add", is_remove=True)
    assert caller.tools == [function_schema(mul)]
    with pytest.raises(ConfigError, match=r"'caller' offers no tool named 'mull' to remove; it offers: mul\. Did you"):
        caller.update_tool_signature("mull", is_remove=True)
    caller.update_tool_signature(function_schema(mul), is_remove=True)
    assert caller.tools == []
    assert "tools" not in caller.llm_config


def test_tools_on_an_agent_whose_llm_config_is_a_model_client() -> None:
    client = FunctionModelClient(lambda messages, tools, params: "ok")
    caller = agent("caller", client)
    caller.register_for_llm(add)
    assert caller.llm_config is client
    assert caller.tools == [function_schema(add)]


def test_a_model_client_receives_the_tools() -> None:
    seen: list[list[ToolSpec] | None] = []

    def model(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> str:
        seen.append(tools)
        return "ok TERMINATE"

    caller = agent("caller", FunctionModelClient(model))
    caller.register_for_llm(add)
    agent("user").initiate_chat(caller, message="hi", max_turns=1)
    assert seen == [[function_schema(add)]]


def test_an_agent_without_a_model_cannot_offer_tools() -> None:
    executor = agent("executor")
    with pytest.raises(ConfigError, match=r"register_for_llm needs an agent with a model, and 'executor' has"):
        executor.register_for_llm(description="Sum.")
    with pytest.raises(ConfigError, match="update_tool_signature needs an agent with a model"):
        executor.update_tool_signature(function_schema(add), is_remove=False)


def test_bad_tool_signatures_and_api_styles() -> None:
    caller = agent("caller", config())
    with pytest.raises(ConfigError, match=r'A tool signature has the OpenAI tools shape \{"type": "function"'):
        caller.update_tool_signature({"name": "add", "parameters": {}}, is_remove=False)
    with pytest.raises(ConfigError, match=r"api_style must be 'tool'.*got 'tools'.*Did you mean 'tool'\?"):
        caller.register_for_llm(description="Sum.", api_style="tools")


# ---- decorators and register_function --------------------------------------------------------


async def run_calls(executor: ToolAgent, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    """The contents of the tool responses ``executor`` replies with to one message with ``calls``."""
    message: Message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"id{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(calls)
        ],
    }
    reply = await executor.a_generate_reply(messages=[message], sender=agent("caller"))
    assert isinstance(reply, dict)
    return [r["content"] for r in reply["tool_responses"]]


async def test_decorators_stack_in_either_order_and_share_a_name() -> None:
    caller, executor = agent("caller", config()), agent("executor")

    @executor.register_for_execution()
    @caller.register_for_llm(name="sum_two", description="Add two integers.")
    def first(a: int, b: int) -> int:
        return a + b

    @caller.register_for_llm(description="Multiply two integers.")
    @executor.register_for_execution("times")
    def second(a: int, b: int) -> int:
        return a * b

    assert first(2, 3) == 5  # the decorators return the function itself
    assert [t["function"]["name"] for t in caller.tools] == ["sum_two", "times"]
    assert caller.tools[0] == function_schema(first, name="sum_two", description="Add two integers.")
    assert sorted(executor.function_map) == ["sum_two", "times"]
    assert await run_calls(executor, ("sum_two", {"a": 2, "b": "3"}), ("times", {"a": 4, "b": 5})) == ["5", "20"]


async def test_bare_decorators() -> None:
    caller, executor = agent("caller", config()), agent("executor")

    @executor.register_for_execution
    @caller.register_for_llm
    async def shout(text: str) -> str:
        """Upper-case the text."""
        await asyncio.sleep(0)
        return text.upper()

    assert caller.tools == [function_schema(shout)]
    assert await run_calls(executor, ("shout", {"text": "hi"})) == ["HI"]


async def test_register_function() -> None:
    caller, executor = agent("caller", config()), agent("executor")
    register_function(add, caller=caller, executor=executor, name="plus", description="Add two numbers.")
    register_function(mul, caller=caller, executor=executor)  # the docstring describes it
    assert caller.tools == [
        function_schema(add, name="plus", description="Add two numbers."),
        function_schema(mul, description="Multiply two integers."),
    ]
    assert executor.function_map.keys() == {"plus", "mul"}
    assert caller.function_map == {}
    assert await run_calls(executor, ("plus", {"a": 1, "b": 2}), ("mul", {"a": "x", "b": 2})) == [
        "3",
        "Error: bad arguments for 'mul': a: Input should be a valid integer, unable to parse string as an integer "
        '(got "x")',
    ]
    with pytest.raises(ConfigError, match="register_function: executor must be an agent that takes tools"):
        register_function(add, caller=caller, executor=object(), description="Add.")  # type: ignore[arg-type]


def test_the_same_agent_can_call_and_execute() -> None:
    solo = agent("solo", config())
    register_function(add, caller=solo, executor=solo)
    assert [t["function"]["name"] for t in solo.tools] == ["add"]
    assert list(solo.function_map) == ["add"]


# ---- chats through the openai SDK ------------------------------------------------------------


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Ticket(BaseModel):
    title: str
    priority: Priority = Priority.LOW


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


@pytest.mark.timeout(60)
def test_parallel_tool_calls_one_raises_three_responses_in_order_and_the_chat_goes_on() -> None:
    """The acceptance test: three calls in one reply, one raises; three responses, in order."""
    released = threading.Event()
    events: list[str] = []
    replies = [
        {
            "content": None,
            "tool_calls": [
                call("call_a", "wait_for_release", {"label": "first"}),
                call("call_b", "explode", {}),
                call("call_c", "release", {"ticket": {"title": "go", "priority": "high"}}),
            ],
        },
        "All three answered. TERMINATE",
    ]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        caller, executor = agent("assistant", config(server)), agent("executor")

        @executor.register_for_execution()
        @caller.register_for_llm(description="Block until release() runs.")
        def wait_for_release(label: Annotated[str, "A label echoed back"]) -> str:
            events.append("wait: started")
            # release() runs concurrently and sets the event; run one after the other, this would
            # wait out the whole 30 s and answer "never released".
            ok = released.wait(timeout=30)
            events.append("wait: done")
            return f"{label} released" if ok else "never released"

        @executor.register_for_execution()
        @caller.register_for_llm(description="Always fails.")
        def explode() -> str:
            raise RuntimeError("the fuse was lit")

        @executor.register_for_execution()
        @caller.register_for_llm(description="Release the waiting tool and file a ticket.")
        async def release(ticket: Ticket) -> Ticket:
            events.append(f"release: {ticket.priority.value}")
            released.set()
            return ticket

        result = executor.initiate_chat(caller, message="Run the three tools.")
        requests = server.requests

    tools = caller.tools
    assert [t["function"]["name"] for t in tools] == ["wait_for_release", "explode", "release"]
    assert [r["tools"] for r in requests] == [tools, tools]  # sent exactly as generated
    # the calls overlapped: the sync tool's wait ended only because the async tool released it
    # (whether the thread or the coroutine starts first is up to the scheduler)
    assert sorted(events) == ["release: high", "wait: done", "wait: started"]
    assert events.index("release: high") < events.index("wait: done")
    texts = [
        "first released",
        "Error: the fuse was lit",
        '{"title":"go","priority":"high"}',
    ]
    assert result.chat_history == [
        {"content": "Run the three tools.", "role": "assistant", "name": "executor"},
        {
            "content": None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in replies[0]["tool_calls"]  # type: ignore[index]
            ],
            "role": "assistant",
            "name": "assistant",
        },
        {
            "content": "\n\n".join(texts),
            "tool_responses": [
                {"tool_call_id": i, "role": "tool", "content": t}
                for i, t in zip(["call_a", "call_b", "call_c"], texts, strict=True)
            ],
            "role": "tool",
        },
        {"content": "All three answered. TERMINATE", "role": "user", "name": "assistant"},
    ]
    # The chat went on: the next model call saw one tool message per call, in order.
    assert requests[1]["messages"][-3:] == [
        {"role": "tool", "tool_call_id": i, "content": t}
        for i, t in zip(["call_a", "call_b", "call_c"], texts, strict=True)
    ]


@pytest.mark.timeout(60)
def test_the_model_reads_an_argument_error_and_retries() -> None:
    replies = [
        {"content": None, "tool_calls": [call("c1", "file_ticket", {"ticket": {"priority": "urgent"}})]},
        {"content": None, "tool_calls": [call("c2", "file_ticket", {"ticket": {"title": "Disk full"}})]},
        "Filed. TERMINATE",
    ]
    filed: list[Ticket] = []
    with ScriptedOpenAIServer(replies) as server:
        caller, executor = agent("assistant", config(server)), agent("executor")

        def file_ticket(ticket: Ticket) -> str:
            """File a support ticket."""
            filed.append(ticket)
            return f"ticket #{len(filed)} filed"

        register_function(file_ticket, caller=caller, executor=executor)
        executor.initiate_chat(caller, message="The disk is full.")
        requests = server.requests

    assert requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "file_ticket",
                "description": "File a support ticket.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "ticket": {
                            "type": "object",
                            "title": "Ticket",
                            "properties": {
                                "title": {"type": "string", "title": "Title"},
                                "priority": {
                                    "type": "string",
                                    "enum": ["low", "high"],
                                    "title": "Priority",
                                    "default": "low",
                                },
                            },
                            "required": ["title"],
                        }
                    },
                    "required": ["ticket"],
                },
            },
        }
    ]
    assert requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "Error: bad arguments for 'file_ticket': ticket.title: Field required; "
        "ticket.priority: Input should be 'low' or 'high' (got \"urgent\")",
    }
    assert requests[2]["messages"][-1] == {"role": "tool", "tool_call_id": "c2", "content": "ticket #1 filed"}
    assert filed == [Ticket(title="Disk full", priority=Priority.LOW)]


# ---- arguments no tool can read ---------------------------------------------------------------

DEEP_OK = '{"values": ' + "[" * 99 + "]" * 99 + "}"  # 100 levels, counting the arguments object
OVER_1_MIB = '{"values": "' + "x" * 1_048_576 + '"}'


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (
            '{"values": ' + "1" * 5000 + "}",
            "Error: the arguments for 'store' hold an integer of 5,000 digits; the limit is 4,300. "
            'Send a number that long as a string ("123...").',
        ),
        (
            "[" * 5000,
            "Error: the arguments for 'store' nest arrays and objects more than 100 levels deep. "
            "Send flatter arguments: at most 100 levels, counting the arguments object as one.",
        ),
        (
            "[" * 3000 + "]" * 3000,
            "Error: the arguments for 'store' nest arrays and objects more than 100 levels deep. "
            "Send flatter arguments: at most 100 levels, counting the arguments object as one.",
        ),
        (
            '{"values": ' + "[" * 100 + "]" * 100 + "}",  # json reads it; 101 levels is one too many
            "Error: the arguments for 'store' nest arrays and objects more than 100 levels deep. "
            "Send flatter arguments: at most 100 levels, counting the arguments object as one.",
        ),
        (
            OVER_1_MIB,
            f"Error: the arguments for 'store' are {len(OVER_1_MIB):,} characters long; the limit is 1,048,576. "
            "Send less in one call: split the data over several calls, or pass a file name or a reference instead "
            "of the data itself.",
        ),
        (DEEP_OK, "stored 1 value(s)"),
    ],
    ids=["5000-digit-number", "5000-open-brackets", "3000-deep-array", "101-levels", "over-1-MiB", "100-levels-ok"],
)
def test_arguments_no_tool_can_read_come_back_as_an_error_and_the_chat_goes_on(arguments: str, error: str) -> None:
    replies = [
        {"content": None, "tool_calls": [{"id": "c1", "name": "store", "arguments": arguments}]},
        "Noted. TERMINATE",
    ]
    io = ScriptedIOStream()
    with ScriptedOpenAIServer(replies) as server, IOStream.set_default(io):
        caller = ToolAgent("assistant", llm_config=config(server), human_input_mode="NEVER")  # prints the calls
        executor = ToolAgent("executor", llm_config=False, human_input_mode="NEVER")

        def store(values: Any) -> str:
            """Store values."""
            return f"stored {len(values)} value(s)"

        register_function(store, caller=caller, executor=executor)
        result = executor.initiate_chat(caller, message="Store these.")
        requests = server.requests

    assert result.chat_history[2]["tool_responses"] == [{"tool_call_id": "c1", "role": "tool", "content": error}]
    assert requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": error}
    assert result.summary == "Noted."
    shown = io.text  # the console showed the call; arguments it cannot read are shown as sent
    assert "***** Suggested tool call (c1): store *****" in shown
    assert (arguments if error.startswith("Error:") else json.dumps(json.loads(arguments), indent=2)) in shown


async def test_a_result_that_cannot_become_text_is_an_error_response() -> None:
    executor = agent("executor")
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]

    @executor.register_for_execution()
    def nest() -> list[Any]:
        return deep

    assert await run_calls(executor, ("nest", {})) == [
        "Error: the result of 'nest' cannot be turned into text "
        "(RecursionError: maximum recursion depth exceeded while encoding a JSON object)."
    ]
