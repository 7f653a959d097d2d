"""OpenTelemetry spans: a two-agent chat with one tool call and one code block, through the real
openai SDK against the scripted server, recorded with the SDK's in-memory exporter.

The global tracer provider can be set once per process. This module sets an SDK provider (or
adds its exporter to one already set) for the session and lets it be; "no provider" is tested in
fresh subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

import parley
from parley import AssistantAgent, UserProxyAgent, register_function
from parley.testing import ScriptedOpenAIServer

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed: pip install 'pyparley[test]'")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SECRET = "sk-test-secret-0123456789"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exp = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    yield exp
    exp.shutdown()  # later spans of the session are dropped, not kept in memory


def script(request: dict[str, Any]) -> Any:
    last = request["messages"][-1]
    if last.get("role") == "tool":
        return "Now with code:\n```python\nprint(2 + 3)\n```"
    if str(last.get("content") or "").startswith("exitcode: 0"):
        return "The sum is 5. TERMINATE"
    return {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_add"}]}


def add(a: Annotated[int, "first"], b: Annotated[int, "second"]) -> int:
    return a + b


def run_chat(base_url: str, work_dir: Path) -> Any:
    config = {"config_list": [{"model": "gpt-4o-mini", "base_url": base_url, "api_key": SECRET}], "temperature": 0}
    assistant = AssistantAgent("assistant", llm_config=config)
    proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": str(work_dir)}},
    )
    register_function(add, caller=assistant, executor=proxy, description="Add two integers.")
    return proxy.initiate_chat(assistant, message="What is 2 + 3? The secret word is parsnip.", silent=True)


def by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


@pytest.mark.timeout(60)
def test_two_agent_chat_spans_with_attributes_and_parents(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    exporter.clear()
    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        result = run_chat(server.base_url, tmp_path)
    assert result.chat_history[-1]["content"] == "The sum is 5. TERMINATE"
    spans = exporter.get_finished_spans()
    ids = {s.context.span_id: s for s in spans}

    (chat,) = by_name(spans, "parley.chat")
    assert chat.name == "parley.chat user_proxy -> assistant"
    assert chat.parent is None
    assert chat.attributes is not None
    assert chat.attributes["parley.chat.sender"] == "user_proxy"
    assert chat.attributes["parley.chat.recipient"] == "assistant"

    turns = by_name(spans, "invoke_agent")
    # assistant (tool call), proxy (tool result), assistant (code), proxy (runs it), assistant (done),
    # proxy (sees TERMINATE and ends the chat)
    assert [t.attributes["gen_ai.agent.name"] for t in sorted(turns, key=lambda s: s.start_time or 0)] == [  # type: ignore[index]
        "assistant", "user_proxy", "assistant", "user_proxy", "assistant", "user_proxy",
    ]  # fmt: skip
    assert all(t.parent is not None and t.parent.span_id == chat.context.span_id for t in turns)
    assert all(t.attributes["gen_ai.operation.name"] == "invoke_agent" for t in turns)  # type: ignore[index]

    models = by_name(spans, "chat ")
    assert len(models) == 3
    for span in models:
        attrs = dict(span.attributes or {})
        assert span.name == "chat gpt-4o-mini"
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["gen_ai.request.temperature"] == 0
        assert isinstance(attrs["gen_ai.usage.input_tokens"], int)
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert isinstance(attrs["gen_ai.usage.output_tokens"], int)
        assert attrs["gen_ai.usage.output_tokens"] > 0
        parent = ids[span.parent.span_id]  # type: ignore[union-attr]
        assert parent.attributes["gen_ai.agent.name"] == "assistant"  # type: ignore[index]
    usage = result.cost["usage_including_cached_inference"]["gpt-4o-mini"]
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in models) == usage["prompt_tokens"]  # type: ignore[index,misc]
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in models) == usage["completion_tokens"]  # type: ignore[index,misc]

    (tool,) = by_name(spans, "execute_tool")
    assert tool.name == "execute_tool add"
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "call_add",
        "gen_ai.tool.type": "function",
    }
    assert ids[tool.parent.span_id].attributes["gen_ai.agent.name"] == "user_proxy"  # type: ignore[union-attr,index]

    (code,) = by_name(spans, "execute_code")
    attrs = dict(code.attributes or {})
    assert code.name == "execute_code LocalCommandLineCodeExecutor"
    assert attrs["parley.code.executor"] == "LocalCommandLineCodeExecutor"
    assert attrs["parley.code.language"] == "python"
    assert attrs["parley.code.blocks"] == 1
    assert attrs["parley.code.exit_code"] == 0
    assert attrs["parley.code.timed_out"] is False
    assert isinstance(attrs["parley.code.duration_ms"], float)
    assert attrs["parley.code.duration_ms"] > 0
    assert ids[code.parent.span_id].attributes["gen_ai.agent.name"] == "user_proxy"  # type: ignore[union-attr,index]

    # no content unless asked for, and never the key
    everything = json.dumps([dict(s.attributes or {}) for s in spans], default=str)
    assert "parsnip" not in everything
    assert SECRET not in everything
    assert "print(2 + 3)" not in everything


@pytest.mark.timeout(60)
def test_content_is_recorded_only_when_asked(
    exporter: InMemorySpanExporter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    exporter.clear()
    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        run_chat(server.base_url, tmp_path)
    spans = exporter.get_finished_spans()
    first = min(by_name(spans, "chat "), key=lambda s: s.start_time or 0)
    sent = json.loads(str(first.attributes["gen_ai.input.messages"]))  # type: ignore[index]
    assert sent[-1]["content"] == "What is 2 + 3? The secret word is parsnip."
    (tool,) = by_name(spans, "execute_tool")
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"a": 2, "b": 3}  # type: ignore[index]
    assert tool.attributes["gen_ai.tool.call.result"] == "5"  # type: ignore[index]
    (code,) = by_name(spans, "execute_code")
    assert code.attributes["parley.code.output"] == "5\n"  # type: ignore[index]


@pytest.mark.timeout(60)
def test_a_failed_model_call_is_an_error_span(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    from parley.exceptions import ModelRateLimitError

    exporter.clear()
    reply = {"error": {"status": 429, "message": "slow down"}}
    with ScriptedOpenAIServer([reply, reply], model="gpt-4o-mini") as server:
        config = {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": SECRET}]}
        assistant = AssistantAgent("assistant", llm_config={**config, "max_retries": 0})
        proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
        with pytest.raises(ModelRateLimitError):
            proxy.initiate_chat(assistant, message="hi", silent=True)
    spans = exporter.get_finished_spans()
    (model,) = by_name(spans, "chat ")
    assert model.status.status_code is trace.StatusCode.ERROR
    assert model.attributes["error.type"] == "ModelRateLimitError"  # type: ignore[index]
    (chat,) = by_name(spans, "parley.chat")
    assert chat.status.status_code is trace.StatusCode.ERROR


NO_PROVIDER = textwrap.dedent(
    """
    import sys
    from parley import AssistantAgent, UserProxyAgent
    from parley.testing import FunctionModelClient

    def chat():
        model = FunctionModelClient(lambda m, t=None, p=None: "done TERMINATE")
        a = AssistantAgent("a", llm_config=model)
        u = UserProxyAgent("u", human_input_mode="NEVER", code_execution_config=False)
        u.initiate_chat(a, message="hi", silent=True)

    chat()
    print("imported otel:", "opentelemetry" in sys.modules)
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    chat()  # the API is imported, but no provider is set
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    chat()  # a provider is made but not set globally
    print("spans before:", len(exporter.get_finished_spans()))
    trace.set_tracer_provider(provider)
    chat()
    print("spans after:", sorted(s.name for s in exporter.get_finished_spans()))
    provider_names = {s.attributes.get("gen_ai.provider.name") for s in exporter.get_finished_spans()}
    print("provider:", provider_names - {None})
    """
)


@pytest.mark.timeout(60)
def test_no_provider_no_spans_and_no_import_then_spans_with_no_switch(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(parley.__file__).parent.parent)}  # the parley under test
    out = subprocess.run(
        [sys.executable, "-c", NO_PROVIDER],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=50,
        check=True,
    )
    assert out.stdout.splitlines() == [
        "imported otel: False",
        "spans before: 0",
        "spans after: ['chat function', 'invoke_agent a', 'invoke_agent u', 'parley.chat u -> a']",
        "provider: {'FunctionModelClient'}",
    ]
    assert out.stderr == ""
