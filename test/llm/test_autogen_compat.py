"""AutoGen 0.2's model-layer surface: OpenAIWrapper's call forms, providers, config helpers, module paths."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from parley.exceptions import ConfigError, ModelConnectionError
from parley.llm import OpenAIWrapper
from parley.llm.completion import Completion
from parley.testing import ScriptedOpenAIServer

Entry = Callable[..., dict[str, Any]]


def test_sync_create_returns_a_completion_with_choices_usage_and_cost(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(["4"]) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server, price=[1.0, 2.0])])
        response = wrapper.create(messages=[{"role": "user", "content": "2+2="}], cache_seed=None, temperature=0)
    assert isinstance(response, Completion)
    assert response.choices[0].message.content == "4"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0
    assert response.cost > 0
    assert wrapper.extract_text_or_completion_object(response) == ["4"]
    assert wrapper.total_usage_summary is not None
    assert wrapper.total_usage_summary["total_cost"] == response.cost
    assert server.requests[0]["temperature"] == 0


async def test_a_create_returns_tool_calls_as_the_message_object(entry_for: Entry) -> None:
    reply = {"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}
    with ScriptedOpenAIServer([reply]) as server:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)])
        response = await wrapper.a_create(messages=[{"role": "user", "content": "add"}])
    (message,) = wrapper.extract_text_or_completion_object(response)
    assert not isinstance(message, str)
    assert message is not None
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.name == "add"
    assert response.choices[0].finish_reason == "tool_calls"


def test_the_wrapper_cache_answers_the_second_call(entry_for: Entry, tmp_path: Path) -> None:
    from parley.cache import Cache

    with ScriptedOpenAIServer(["one", "two"]) as server, Cache.disk(7, tmp_path) as cache:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)], cache=cache)
        first = wrapper.create(messages=[{"role": "user", "content": "hi"}])
        second = wrapper.create(messages=[{"role": "user", "content": "hi"}])
        uncached = wrapper.create(messages=[{"role": "user", "content": "hi"}], cache_seed=None)
    assert first == second
    assert second.cached
    assert uncached.choices[0].message.content == "two"
    assert server.request_count == 2


def test_prompt_asks_for_messages_instead() -> None:
    wrapper = OpenAIWrapper(config_list=[{"model": "m", "api_key": "k", "base_url": "http://127.0.0.1:9/v1"}])
    with pytest.raises(ConfigError, match="messages="):
        wrapper.create(prompt="1+1=")


def test_an_entry_without_model_sends_none(entry_for: Entry) -> None:
    entry = entry_for("http://x")
    del entry["model"]
    with ScriptedOpenAIServer(["ok"]) as server:
        entry["base_url"] = server.base_url
        response = OpenAIWrapper(config_list=[entry]).create(messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "ok"
    assert "model" not in server.requests[0]


def test_an_empty_model_gets_a_message_saying_what_to_do() -> None:
    with pytest.raises(ConfigError, match='leave "model" out'):
        OpenAIWrapper(config_list=[{"model": "", "api_key": "k"}])


async def test_an_openai_compatible_provider_uses_its_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    wrapper = OpenAIWrapper(config_list=[{"model": "llama3", "api_type": "ollama", "max_retries": 0, "timeout": 5}])
    with pytest.raises(ModelConnectionError, match="localhost:11434/v1"):
        await wrapper.create([{"role": "user", "content": "hi"}])


def test_an_unsupported_api_type_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError, match="groq") as info:
        OpenAIWrapper(config_list=[{"model": "m", "api_type": "grok"}])
    assert info.value.suggestions == ("groq",)


def test_config_list_openai_aoai_reads_key_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.oai import config_list_openai_aoai

    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "key_openai.txt").write_text("k1\nk2")
    (tmp_path / "key_aoai.txt").write_text("az1")
    (tmp_path / "base_aoai.txt").write_text("https://x.openai.azure.com")
    assert config_list_openai_aoai(key_file_path=tmp_path) == [
        {"api_key": "k1"},
        {"api_key": "k2"},
        {"api_key": "az1", "base_url": "https://x.openai.azure.com", "api_type": "azure", "api_version": "2024-02-01"},
    ]


def test_config_list_from_dotenv_reads_keys_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.oai import config_list_from_dotenv

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GROQ_KEY_FOR_TEST", raising=False)
    env = tmp_path / ".env"
    env.write_text('# keys\nexport OPENAI_API_KEY="sk-one"\nGROQ_KEY_FOR_TEST=gk\n')
    monkeypatch.setenv("OPENAI_API_KEY", "")  # set but blank: the file does not override it
    entries = config_list_from_dotenv(env, {"llama3": {"api_key_env_var": "GROQ_KEY_FOR_TEST", "api_type": "groq"}})
    monkeypatch.delenv("GROQ_KEY_FOR_TEST")
    assert entries == [{"api_key": "gk", "api_type": "groq", "model": "llama3"}]


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("parley.oai", ["OpenAIWrapper", "ModelClient", "config_list_from_dotenv", "get_config_list"]),
        ("parley.oai.openai_utils", ["DEFAULT_AZURE_API_VERSION", "is_valid_api_key", "config_list_openai_aoai"]),
        ("parley.oai.client", ["OpenAIWrapper", "LEGACY_CACHE_DIR", "LEGACY_DEFAULT_CACHE_SEED", "TOOL_ENABLED"]),
        ("parley.agentchat.conversable_agent", ["ConversableAgent", "register_function"]),
        ("parley.cache", ["Cache", "AbstractCache", "DiskCache", "RedisCache", "InMemoryCache"]),
        ("parley.cache.in_memory_cache", ["InMemoryCache"]),
        (
            "parley.code_utils",
            ["extract_code", "content_str", "infer_lang", "create_virtual_env", "UNKNOWN", "WIN32", "PATH_SEPARATOR"],
        ),
        ("parley.function_utils", ["get_function_schema", "load_basemodels_if_needed", "serialize_to_str"]),
        ("parley.io.base", ["IOStream"]),
        ("parley.io.console", ["IOConsole"]),
        ("parley.io.websockets", ["IOWebsockets"]),
        ("parley", ["config_list_openai_aoai", "DEFAULT_MODEL", "get_config_list"]),
    ],
)
def test_autogen_module_paths_reexport_parleys_objects(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is not None


def test_code_utils_platform_flags_describe_this_platform() -> None:
    # 0.2's executor tests import WIN32 from autogen.code_utils to pick the shells they try.
    from parley.code_utils import PATH_SEPARATOR, WIN32

    assert WIN32 is (sys.platform == "win32")
    assert os.sep == PATH_SEPARATOR


def test_in_memory_cache_keeps_values_and_is_a_cache() -> None:
    from parley.cache import AbstractCache, Cache, InMemoryCache

    with InMemoryCache(seed="s") as cache:
        cache.set("key", {"v": 1})
        assert cache.get("key") == {"v": 1}
        assert cache.get("other", "default") == "default"
    assert isinstance(cache, Cache)
    assert isinstance(cache, AbstractCache)


def test_iowebsockets_prints_and_reads_over_a_real_websocket() -> None:
    from websockets.sync.client import connect

    from parley.io import IOStream, IOWebsockets

    seen: list[str] = []

    def on_connect(stream: IOWebsockets) -> None:
        seen.append(stream.input("name?"))
        IOStream.get_default().print("hello", seen[0])

    with IOWebsockets.run_server_in_thread(on_connect=on_connect, port=0) as uri, connect(uri) as ws:
        assert ws.recv(timeout=10) == "name?"
        ws.send("ada")
        assert ws.recv(timeout=10) == "hello ada\n"
    assert seen == ["ada"]


# ---- Azure OpenAI through the SDK's Azure client, against the scripted server's Azure route ----------------


def test_an_azure_entry_reaches_the_deployment_route_with_its_api_version_and_key(tmp_path: Path) -> None:
    from parley import AssistantAgent, UserProxyAgent, config_list_from_json

    with ScriptedOpenAIServer(["Hello from Azure. TERMINATE"], api_key="az-key") as server:
        # A config file holding an Azure entry, as 0.2's OAI_CONFIG_LIST does.
        (tmp_path / "OAI_CONFIG_LIST").write_text(
            json.dumps(
                [
                    {
                        "model": "gpt-4o",
                        "api_type": "azure",
                        "api_key": "az-key",
                        "base_url": server.azure_endpoint,
                        "api_version": "2024-02-01",
                    }
                ]
            )
        )
        config_list = config_list_from_json("OAI_CONFIG_LIST", file_location=str(tmp_path))
        assistant = AssistantAgent("assistant", llm_config={"config_list": config_list})
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        result = user.initiate_chat(assistant, message="Hi", silent=True)
        paths, headers = server.request_paths, server.request_headers
    assert result.chat_history[-1]["content"] == "Hello from Azure. TERMINATE"
    assert paths == ["/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01"]
    assert headers[0]["api-key"] == "az-key"
    assert "authorization" not in headers[0]


def test_azure_ad_token_provider_authenticates_with_a_bearer_token() -> None:
    from parley.oai import OpenAIWrapper

    with ScriptedOpenAIServer(["ok"], api_key="entra-token") as server:
        wrapper = OpenAIWrapper(
            config_list=[
                {
                    "model": "gpt-4.1",
                    "api_type": "azure",
                    "azure_endpoint": server.azure_endpoint,
                    "api_version": "2024-06-01",
                    "azure_ad_token_provider": lambda: "entra-token",
                }
            ]
        )
        completion = wrapper.create(messages=[{"role": "user", "content": "Hi"}])
        paths, headers = server.request_paths, server.request_headers
    assert wrapper.extract_text_or_completion_object(completion) == ["ok"]
    assert paths == ["/openai/deployments/gpt-41/chat/completions?api-version=2024-06-01"]  # no dots in a deployment
    assert headers[0]["authorization"] == "Bearer entra-token"
