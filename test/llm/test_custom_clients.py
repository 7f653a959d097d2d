"""Custom model clients: model_client_cls + register_model_client, AutoGen 0.2's protocol beside ours."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from parley import AssistantAgent, ConversableAgent, UserProxyAgent, gather_usage_summary
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.exceptions import ConfigError, ModelRateLimitError
from parley.llm import ModelResponse, OpenAIWrapper, Usage
from parley.llm.types import Message, ToolSpec
from parley.testing import ScriptedOpenAIServer

from .conftest import FAKE_KEY, SECRET

HI: list[Message] = [{"role": "user", "content": "hi"}]


class CustomModelClient:
    """Written the way AutoGen 0.2's docs teach: sync create(params), SimpleNamespace responses."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self.model = config["model"]
        self.device = config.get("device")
        self.greeting = kwargs.get("greeting", "Hello")
        self.seen: list[dict[str, Any]] = kwargs.get("seen", [])  # the test passes a list to watch
        self.threads: list[int] = kwargs.get("threads", [])

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        self.seen.append(params)
        self.threads.append(threading.get_ident())
        text = f"{self.greeting} from {self.model} on {self.device}: {params['messages'][-1]['content']}"
        if "TERMINATE" not in text:
            text += "\n\nTERMINATE"
        message = SimpleNamespace(content=text, function_call=None)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], model=self.model)

    def message_retrieval(self, response: Any) -> list[str]:
        return [choice.message.content for choice in response.choices]

    def cost(self, response: Any) -> float:
        response.cost = 0.002
        return 0.002

    @staticmethod
    def get_usage(response: Any) -> dict[str, Any]:
        return {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "cost": response.cost,
            "model": response.model,
        }


class ToolCallingClient(CustomModelClient):
    """Returns message objects with tool calls, as AutoGen 0.2's OpenAI client does."""

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        self.seen.append(params)
        call = SimpleNamespace(id="call_7", type="function", function=SimpleNamespace(name="f", arguments='{"x": 1}'))
        message = SimpleNamespace(content=None, tool_calls=[call], function_call=None)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], model=self.model)

    def message_retrieval(self, response: Any) -> list[Any]:
        return [choice.message for choice in response.choices]


class AsyncEchoClient:
    """parley's own async protocol, registered the AutoGen 0.2 way."""

    def __init__(self, config: dict[str, Any], suffix: str = "") -> None:
        self.model = config.get("model", "echo")
        self.suffix = suffix

    async def create(
        self, messages: Sequence[Message], *, tools: Sequence[ToolSpec] | None = None, params: Any = None
    ) -> ModelResponse:
        text = f"echo {messages[-1]['content']}{self.suffix}"
        return ModelResponse({"role": "assistant", "content": text}, Usage(1, 1, 2), cost=0.0, model=self.model)


def config(cls_name: str = "CustomModelClient", **extra: Any) -> dict[str, Any]:
    entry = {"model": "local-llama", "model_client_cls": cls_name, "device": "cpu", "api_key": FAKE_KEY, **extra}
    return {"config_list": [entry], "temperature": 0.3}


def test_an_autogen_02_client_works_through_register_model_client() -> None:
    assistant = AssistantAgent("assistant", llm_config=config())
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    seen: list[dict[str, Any]] = []
    threads: list[int] = []
    assistant.register_model_client(CustomModelClient, greeting="Hi", seen=seen, threads=threads)
    chats: dict[str, Any] = {}

    def two_sync_chats() -> None:
        # In a thread of its own, whose sync loop holds no task another test left behind. The second
        # chat checks that the first left no task on the loop either (that would force the hop).
        chats["ident"] = threading.get_ident()
        chats["result"] = user.initiate_chat(assistant, message="ping", silent=True)
        user.initiate_chat(assistant, message="ping", silent=True)

    worker = threading.Thread(target=two_sync_chats)
    worker.start()
    worker.join(60)
    result = chats["result"]
    assert result.chat_history[-1]["content"] == "Hi from local-llama on cpu: ping\n\nTERMINATE"
    params = seen[0]
    assert params["messages"][-1] == {"content": "ping", "role": "user", "name": "user"}
    assert (params["model"], params["temperature"], params["device"]) == ("local-llama", 0.3, "cpu")
    assert "api_key" not in params  # client settings stay out of create(params), as in AutoGen 0.2
    assert threads == [chats["ident"]] * 2  # a sync chat has the loop to itself: no hop to a thread
    usage = {"cost": 0.002, "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert result.cost["usage_excluding_cached_inference"] == {"total_cost": 0.002, "local-llama": usage}
    gathered = gather_usage_summary([assistant, user])["usage_excluding_cached_inference"]
    assert gathered["total_cost"] == pytest.approx(0.004)  # both chats


def test_a_sync_chat_calls_a_sync_client_in_place_only_while_no_other_task_shares_its_loop() -> None:
    assistant = AssistantAgent("assistant", llm_config=config())
    threads: list[int] = []
    assistant.register_model_client(CustomModelClient, threads=threads)
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    gate = asyncio.Event()
    left: list[asyncio.Task[bool]] = []

    async def a_hook(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
        if left:  # the second chat: end the task the first one left on the loop, then go on alone
            gate.set()
            await left.pop()
        else:  # the first chat: a task of the chat's own code waits beside it on the sync loop
            left.append(asyncio.get_running_loop().create_task(gate.wait()))
        return message

    user.register_hook("a_process_message_before_send", a_hook)
    idents: list[int] = []

    def two_sync_chats() -> None:  # a thread of its own: a sync loop no other test has used
        idents.append(threading.get_ident())
        for _ in range(2):
            user.initiate_chat(assistant, message="ping", silent=True)

    worker = threading.Thread(target=two_sync_chats)
    worker.start()
    worker.join(60)
    assert len(threads) == 2
    assert not left
    assert threads[0] != idents[0]  # another task shared the loop: the client ran in a worker thread
    assert threads[1] == idents[0]  # that task had ended: called in place, no hop


class BarrierClient(CustomModelClient):
    """Blocks in create until ``parties`` clients are inside it at once."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.barrier: threading.Barrier = kwargs["barrier"]

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        self.barrier.wait()  # a create that blocked the loop would leave the other chat waiting: broken
        return super().create(params)


async def test_concurrent_async_chats_with_sync_clients_never_block_each_other() -> None:
    barrier = threading.Barrier(2, timeout=10)
    threads: list[int] = []
    pairs = []
    for name in ("a", "b"):
        assistant = AssistantAgent(f"assistant_{name}", llm_config=config("BarrierClient"))
        assistant.register_model_client(BarrierClient, barrier=barrier, threads=threads)
        pairs.append((UserProxyAgent(f"user_{name}", human_input_mode="NEVER", code_execution_config=False), assistant))
    results = await asyncio.gather(*(u.a_initiate_chat(a, message="ping", silent=True) for u, a in pairs))
    assert [r.chat_history[-1]["content"] for r in results] == ["Hello from local-llama on cpu: ping\n\nTERMINATE"] * 2
    assert threading.get_ident() not in threads  # each ran in a worker thread, beside the other


def test_a_sync_client_may_run_an_event_loop_of_its_own() -> None:
    class LoopingClient(CustomModelClient):
        def create(self, params: dict[str, Any]) -> SimpleNamespace:
            async def answer() -> str:
                await asyncio.sleep(0)
                return "from a loop"

            self.greeting = asyncio.run(answer())
            return super().create(params)

    assistant = AssistantAgent("assistant", llm_config=config("LoopingClient"))
    assistant.register_model_client(LoopingClient)
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    result = user.initiate_chat(assistant, message="ping", silent=True)
    assert result.chat_history[-1]["content"] == "from a loop from local-llama on cpu: ping\n\nTERMINATE"


def test_usage_is_printed_per_agent() -> None:
    assistant = AssistantAgent("assistant", llm_config=config())
    assistant.register_model_client(CustomModelClient)
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    user.initiate_chat(assistant, message="one", silent=True)
    user.initiate_chat(assistant, message="two", silent=True)
    io = ScriptedIOStream()
    with IOStream.set_default(io):
        assistant.print_usage_summary()
        user.print_usage_summary()
    assert io.output == [
        "Agent 'assistant':\n",
        "Usage (no cached replies): total cost $0.004000\n"
        "  local-llama: cost $0.004000, prompt_tokens 20, completion_tokens 10, total_tokens 30\n",
        "No cost incurred from agent 'user'.\n",
    ]


async def test_tool_calls_from_message_objects() -> None:
    seen: list[dict[str, Any]] = []
    wrapper = OpenAIWrapper(**config("ToolCallingClient"))
    wrapper.register_model_client(ToolCallingClient, seen=seen)
    response = await wrapper.create(HI, tools=[{"type": "function", "function": {"name": "f"}}])
    assert response.message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_7", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
    }
    assert seen[0]["tools"] == [{"type": "function", "function": {"name": "f"}}]


async def test_a_parley_async_client_can_be_registered_by_name_too() -> None:
    wrapper = OpenAIWrapper(**config("AsyncEchoClient"))
    wrapper.register_model_client(AsyncEchoClient, suffix="!")
    response = await wrapper.create(HI)
    assert response.message["content"] == "echo hi!"


def test_an_unregistered_class_fails_at_first_use_saying_what_to_register() -> None:
    assistant = AssistantAgent("assistant", llm_config=config())  # construction is fine
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    with pytest.raises(ConfigError) as info:
        user.initiate_chat(assistant, message="hi", silent=True)
    text = str(info.value)
    assert "config_list[0] names 'CustomModelClient'" in text
    assert "agent.register_model_client(CustomModelClient)" in text
    assert info.value.key == "model_client_cls"
    assert SECRET not in text


@pytest.mark.parametrize(
    ("cls", "needle"),
    [
        (CustomModelClient(config()["config_list"][0]), "pass MyClient, not MyClient()"),
        (type("CustomModelClient", (), {"create": lambda self, params: None}), "lacks message_retrieval, cost"),
        (type("CustomModelClinet", (CustomModelClient,), {}), "Did you mean 'CustomModelClient'?"),
    ],
    ids=["instance", "missing-methods", "misspelled"],
)
def test_bad_registrations_are_explained(cls: Any, needle: str) -> None:
    assistant = AssistantAgent("assistant", llm_config=config())
    with pytest.raises(ConfigError) as info:
        assistant.register_model_client(cls)
    assert needle in str(info.value)


def test_an_agent_without_a_model_cannot_register_a_client() -> None:
    with pytest.raises(ConfigError, match="has no llm_config"):
        ConversableAgent("plain", llm_config=False).register_model_client(CustomModelClient)


def test_a_bad_model_client_cls_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="the class's name as a string"):
        OpenAIWrapper(config_list=[{"model_client_cls": CustomModelClient}])


class OpenAIBackedClient(CustomModelClient):
    """An AutoGen 0.2-style client that calls the openai SDK itself, as many real ones do."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        import openai

        self._oai = openai.OpenAI(api_key=config["api_key"], base_url=config["base_url"], max_retries=0)
        kwargs["made"].append(self)

    def create(self, params: dict[str, Any]) -> Any:
        return self._oai.chat.completions.create(model=params["model"], messages=params["messages"])

    def message_retrieval(self, response: Any) -> list[str]:
        return [c.message.content for c in response.choices]

    def cost(self, response: Any) -> float:
        return 0.0

    @staticmethod
    def get_usage(response: Any) -> dict[str, Any]:
        u = response.usage
        return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "model": response.model}

    def close(self) -> None:
        self._oai.close()


async def test_an_openai_error_inside_a_02_client_falls_back_to_the_next_entry() -> None:
    with (
        ScriptedOpenAIServer([{"error": {"status": 429, "message": f"slow down {FAKE_KEY}"}}] * 2) as busy,
        ScriptedOpenAIServer(["backup answer"]) as backup,
    ):
        made: list[OpenAIBackedClient] = []
        custom = {"model": "gpt-4o-mini", "model_client_cls": "OpenAIBackedClient", "base_url": busy.base_url,
                  "api_key": FAKE_KEY}  # fmt: skip
        wrapper = OpenAIWrapper(
            config_list=[custom, {"model": "gpt-4o-mini", "base_url": backup.base_url, "api_key": FAKE_KEY}]
        )
        wrapper.register_model_client(OpenAIBackedClient, made=made)
        response = await wrapper.create(HI)
        alone = OpenAIWrapper(config_list=[custom])
        alone.register_model_client(OpenAIBackedClient, made=made)
        with pytest.raises(ModelRateLimitError) as info:
            await alone.create(HI)
        for client in made:
            client.close()
    assert response.message["content"] == "backup answer"
    assert "OpenAIBackedClient failed" in str(info.value)
    assert info.value.status_code == 429
    assert SECRET not in str(info.value)


class EditingClient(CustomModelClient):
    """A 0.2-style client that edits the request it is given: a note added, its last message dropped."""

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        sent = params["messages"]
        self.seen.append({"messages": list(sent)})  # what it was asked, before its own edits
        sent.append({"role": "user", "content": "a note the client added"})
        del sent[1]
        message = SimpleNamespace(content=f"answer {len(self.seen)}", function_call=None)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], model=self.model)


class FailingEditingClient(EditingClient):
    """Edits its request, then fails, so the wrapper falls back to the next entry."""

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        super().create(params)
        raise ModelRateLimitError("busy")


def test_a_02_client_that_edits_its_request_changes_neither_the_history_nor_the_next_request() -> None:
    # The request a client gets is its own list: the agent's stored history is never handed out,
    # so edits to params["messages"] touch neither what the agents stored nor their next request.
    bob = ConversableAgent("bob", system_message="sys", llm_config=config("EditingClient"), human_input_mode="NEVER")
    seen: list[dict[str, Any]] = []
    bob.register_model_client(EditingClient, seen=seen)
    alice = ConversableAgent("alice", llm_config=False, human_input_mode="NEVER", default_auto_reply="more")
    result = alice.initiate_chat(bob, message="first", max_turns=3, silent=True)
    assert [m["content"] for m in result.chat_history] == ["first", "answer 1", "more", "answer 2", "more", "answer 3"]
    assert [m["content"] for m in bob.chat_messages[alice]] == [m["content"] for m in result.chat_history]
    assert [m["content"] for m in seen[2]["messages"]] == ["sys", "first", "answer 1", "more", "answer 2", "more"]


async def test_each_entry_of_a_fallback_gets_the_request_unedited_by_the_entry_before() -> None:
    first = {"model": "a", "model_client_cls": "FailingEditingClient"}
    second = {"model": "b", "model_client_cls": "EditingClient"}
    wrapper = OpenAIWrapper(config_list=[first, second])
    seen_first: list[dict[str, Any]] = []
    seen_second: list[dict[str, Any]] = []
    wrapper.register_model_client(FailingEditingClient, seen=seen_first)
    wrapper.register_model_client(EditingClient, seen=seen_second)
    asked: list[Message] = [{"role": "system", "content": "sys"}, *HI]
    response = await wrapper.create(asked)
    assert response.message["content"] == "answer 1"
    assert seen_first[0]["messages"] == seen_second[0]["messages"] == [{"role": "system", "content": "sys"}, *HI]
