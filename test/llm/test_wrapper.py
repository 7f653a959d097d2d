"""OpenAIWrapper: config-list fallback, custom clients, llm_config forms, usage tracking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from parley.exceptions import (
    ConfigError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    redact_config,
)
from parley.llm import ModelClient, ModelResponse, OpenAIWrapper, Usage, UsageSummary
from parley.llm.types import Message, ToolSpec
from parley.testing import FunctionModelClient, ScriptedModelClient, ScriptedOpenAIServer

from .conftest import SECRET

HI: list[Message] = [{"role": "user", "content": "hi there"}]
Entry = Callable[..., dict[str, Any]]


async def test_one_entry_answers_and_its_usage_is_tracked(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["Hello!"]) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server, model="gpt-4o")])
        assert isinstance(wrapper, ModelClient)
        response = await wrapper.create(HI)
    assert response.message["content"] == "Hello!"
    assert wrapper.usage_summary == UsageSummary.of([response])
    assert wrapper.total_usage_summary == wrapper.actual_usage_summary == wrapper.usage_summary.view("total")
    assert wrapper.total_usage_summary is not None
    assert wrapper.total_usage_summary["gpt-4o"]["total_tokens"] == 5


async def test_a_dead_base_url_falls_back_to_a_working_one(entry_for: Entry, closed_port: int) -> None:
    dead = entry_for(f"http://127.0.0.1:{closed_port}/v1")
    with ScriptedOpenAIServer(["from the second entry"]) as server:
        wrapper = OpenAIWrapper(config_list=[dead, entry_for(server)])
        response = await wrapper.create(HI)
        assert server.request_count == 1
    assert response.message["content"] == "from the second entry"
    assert list(wrapper.usage_summary.models()) == ["gpt-4o-mini"]


@pytest.mark.parametrize(
    "fault",
    [
        {"error": {"status": 401, "message": "bad key"}},
        {"error": {"status": 429, "message": "slow down"}},
        {"error": {"status": 503, "message": "overloaded"}},
        {"raw_json": {"choices": []}},
        {"raw": "{"},
    ],
)
async def test_model_errors_fall_back_to_the_next_entry(entry_for: Entry, fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault]) as failing, ScriptedOpenAIServer(["ok"]) as working:
        wrapper = OpenAIWrapper(config_list=[entry_for(failing), entry_for(working)])
        assert (await wrapper.create(HI)).message["content"] == "ok"
        assert (failing.request_count, working.request_count) == (1, 1)


async def test_when_every_entry_fails_the_error_lists_them(entry_for: Entry, closed_port: int) -> None:
    dead = f"http://127.0.0.1:{closed_port}/v1"
    with ScriptedOpenAIServer([{"error": {"status": 429, "message": "slow down"}}]) as limited:
        wrapper = OpenAIWrapper(config_list=[entry_for(dead, model="gpt-4o"), entry_for(limited)])
        with pytest.raises(ModelRateLimitError) as info:
            await wrapper.create(HI)
    message = str(info.value)
    assert message.startswith("All 2 config entries failed:")
    first, second = message.splitlines()[1:]
    assert first.startswith(f"  [0] ModelConnectionError: Cannot reach the model server at {dead}")
    assert first.endswith(f"[config entry: {{'model': 'gpt-4o', 'api_key': 'sk-...6789', 'base_url': '{dead}'}}]")
    assert second.startswith(f"  [1] ModelRateLimitError: The model server at {limited.base_url} is rate limiting")
    assert "slow down" in second
    assert info.value.status_code == 429
    assert SECRET not in message + repr(info.value)
    assert wrapper.usage_summary.is_empty()


async def test_a_single_failing_entry_raises_its_own_error(entry_for: Entry, closed_port: int) -> None:
    wrapper = OpenAIWrapper(config_list=[entry_for(f"http://127.0.0.1:{closed_port}/v1")])
    with pytest.raises(ModelConnectionError, match="Cannot reach the model server"):
        await wrapper.create(HI)


async def test_errors_that_are_not_model_errors_do_not_fall_back() -> None:
    def broken(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> str:
        raise ValueError("a bug in the client")

    backup = ScriptedModelClient(["never used"])
    wrapper = OpenAIWrapper(config_list=[{"model_client": FunctionModelClient(broken)}, {"model_client": backup}])
    with pytest.raises(ValueError, match="a bug in the client"):
        await wrapper.create(HI)
    assert backup.calls == []


async def test_in_process_clients_in_a_config_list_with_fallback() -> None:
    first = ScriptedModelClient([{"error": {"status": 401, "message": "nope"}}], model="a")
    second = ScriptedModelClient(["from b"], model="b", cost_per_call=0.5)
    wrapper = OpenAIWrapper(config_list=[{"model_client": first}, {"model_client": second}])
    response = await wrapper.create(HI, params={"temperature": 0})
    assert (response.message["content"], response.model) == ("from b", "b")
    assert wrapper.usage_summary.total_cost() == 0.5
    assert [e["model"] for e in wrapper.config_list] == ["a", "b"]


async def test_a_model_client_named_by_import_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_clients.py").write_text(
        "from parley.testing import ScriptedModelClient\n"
        "class Echo(ScriptedModelClient):\n"
        "    def __init__(self):\n"
        "        super().__init__(['echo'], model='echo')\n"
        "SHARED = ScriptedModelClient(['shared'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert (await OpenAIWrapper(model_client="my_clients:Echo").create(HI)).message["content"] == "echo"
    assert (await OpenAIWrapper(model_client="my_clients:SHARED").create(HI)).message["content"] == "shared"
    with pytest.raises(ConfigError, match="must be a ModelClient"):
        OpenAIWrapper(config_list=[{"model_client": 42}])
    with pytest.raises(ConfigError, match="Did you mean 'Echo'"):
        OpenAIWrapper(model_client="my_clients:Ecko")


async def test_base_config_merges_under_entries_and_agent_keys_are_not_sent(entry_for: Entry) -> None:
    tools: list[ToolSpec] = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with ScriptedOpenAIServer(["a", "b"]) as server:
        wrapper = OpenAIWrapper(
            config_list=[entry_for(server, temperature=0.7)],
            temperature=0,
            seed=1,
            cache_seed=None,
            functions=[{"name": "f"}],
            tools=tools,
        )
        await wrapper.create(HI)
        await wrapper.create(HI, tools=tools, params={"max_tokens": 5, "cache": None, "cache_seed": None})
        first, second = server.requests
    assert first == {"model": "gpt-4o-mini", "messages": HI, "temperature": 0.7, "seed": 1}
    assert second == {**first, "max_tokens": 5, "tools": tools}


def test_from_llm_config_accepts_the_autogen_forms(entry_for: Entry) -> None:
    entry = entry_for("http://127.0.0.1:9/v1")
    wrapper = OpenAIWrapper.from_llm_config({"config_list": [entry], "temperature": 0, "cache_seed": None})
    assert [e["model"] for e in wrapper.config_list] == ["gpt-4o-mini"]
    assert wrapper.config_list[0]["temperature"] == 0
    assert OpenAIWrapper.from_llm_config(entry).config_list == [redact_config(entry)]
    assert OpenAIWrapper.from_llm_config(wrapper) is wrapper
    single = OpenAIWrapper.from_llm_config({"model": "gpt-4o", "api_key": "k", "timeout": 30})
    assert single.config_list == [{"model": "gpt-4o", "api_key": "***", "timeout": 30}]


async def test_from_llm_config_wraps_a_model_client_and_tracks_its_usage() -> None:
    def fn(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> ModelResponse:
        return ModelResponse({"role": "assistant", "content": "hi"}, Usage(3, 4, 7), cost=0.25, model="custom")

    wrapper = OpenAIWrapper.from_llm_config(FunctionModelClient(fn))
    await wrapper.create(HI)
    await wrapper.create(HI)
    assert wrapper.actual_usage_summary == {
        "total_cost": 0.5,
        "custom": {"cost": 0.5, "prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14},
    }


@pytest.mark.parametrize(
    ("llm_config", "needle"),
    [
        (False, "Use False for an agent with no model"),
        ("gpt-4o", "must be a dict, a ModelClient or an OpenAIWrapper"),
        ({"temperature": 0}, 'needs "config_list"'),
        ({"config_list": []}, "config_list is empty"),
        ({"config_list": ["gpt-4o"]}, "config_list[0] must be a dict"),
        ({"config_list": [{"model": "m", "base_ulr": "http://x"}]}, "Did you mean 'base_url'"),
    ],
)
def test_bad_llm_configs_are_explained(llm_config: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        OpenAIWrapper.from_llm_config(llm_config)
    assert needle in str(info.value)


async def test_cached_responses_count_in_total_only_and_print_usage() -> None:
    replies = iter([False, True])

    def fn(messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]) -> ModelResponse:
        cached = next(replies)
        return ModelResponse(
            {"role": "assistant", "content": "x"}, Usage(10, 5, 15), cost=0.25, model="m", cached=cached
        )

    wrapper = OpenAIWrapper(model_client=FunctionModelClient(fn))
    lines: list[str] = []
    wrapper.print_usage_summary(print_fn=lines.append)
    assert lines == ["No model usage recorded."]
    await wrapper.create(HI)
    await wrapper.create(HI)
    assert wrapper.usage_summary.total_cost("total") == 0.5
    assert wrapper.usage_summary.total_cost("actual") == 0.25
    lines.clear()
    wrapper.print_usage_summary(print_fn=lines.append)
    assert lines == [
        "Usage excluding cached replies: total cost $0.250000\n"
        "  m: cost $0.250000, prompt_tokens 10, completion_tokens 5, total_tokens 15\n"
        "Usage including cached replies: total cost $0.500000\n"
        "  m: cost $0.500000, prompt_tokens 20, completion_tokens 10, total_tokens 30"
    ]
    lines.clear()
    wrapper.print_usage_summary("total", print_fn=lines.append)
    assert lines[0].startswith("Usage including cached replies")
    wrapper.clear_usage_summary()
    assert wrapper.total_usage_summary is None
    assert wrapper.actual_usage_summary is None


def test_construction_does_no_io_and_repr_hides_the_key(entry_for: Entry, closed_port: int) -> None:
    wrapper = OpenAIWrapper(config_list=[entry_for(f"http://127.0.0.1:{closed_port}/v1")])
    assert SECRET not in repr(wrapper)
    assert "sk-...6789" in repr(wrapper)


async def test_a_missing_key_in_one_entry_falls_back(entry_for: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedOpenAIServer(["ok"]) as server:
        keyless = entry_for(server)
        del keyless["api_key"]
        wrapper = OpenAIWrapper(config_list=[keyless, entry_for(server)])
        assert (await wrapper.create(HI)).message["content"] == "ok"
        with pytest.raises(ModelAuthenticationError, match="OPENAI_API_KEY"):
            await OpenAIWrapper(config_list=[keyless]).create(HI)


async def test_aclose_closes_the_http_clients(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["a", "b"]) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        await wrapper.create(HI)
        await wrapper.aclose()
        assert (await wrapper.create(HI)).message["content"] == "b"  # a fresh client on next use
        await wrapper.aclose()


def test_errors_carry_the_model_error_base() -> None:
    assert issubclass(ModelResponseError, ModelError)
