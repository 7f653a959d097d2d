"""A two-agent team from YAML, through the openai SDK and the scripted server, on the local executor."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from parley.runtime import (
    CodeExecutionFinishedEvent,
    CodeOutputEvent,
    MessageEvent,
    RunEvent,
    RunFinished,
    RunStarted,
    Runtime,
)
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, PRINT_SLEEP_PRINT, pair_config, write_yaml


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


@pytest.mark.timeout(60)
async def test_events_of_a_two_agent_run_with_one_code_block(tmp_path: Path) -> None:
    replies = [PRINT_SLEEP_PRINT, "Both lines printed. TERMINATE"]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        path = write_yaml(tmp_path / "team.yaml", pair_config(server.base_url, tmp_path / "work"))
        async with Runtime.from_config(path) as runtime:
            events: list[RunEvent] = []
            finished_when_first_output: bool | None = None
            async with aclosing(runtime.run_stream("pair", "Print two lines.")) as stream:
                async for event in stream:
                    events.append(event)
                    if isinstance(event, CodeOutputEvent) and finished_when_first_output is None:
                        finished_when_first_output = any(isinstance(e, CodeExecutionFinishedEvent) for e in events)
    kinds = [e.type for e in events]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_finished"
    assert [e.sequence for e in events] == list(range(len(events)))
    assert len({e.run_id for e in events}) == 1
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert isinstance(events[0], RunStarted)
    assert events[0].target == "pair"
    assert events[0].task == "Print two lines."
    messages = [(e.sender, e.recipient) for e in events if isinstance(e, MessageEvent)]
    assert messages == [("runner", "coder"), ("coder", "runner"), ("runner", "coder"), ("coder", "runner")]
    # the code's events sit between the coder's code message and the runner's result message
    code = [k for k in kinds if k.startswith("code_")]
    assert code[0] == "code_execution_started"
    assert code[-1] == "code_execution_finished"
    assert set(code[1:-1]) == {"code_output"}
    assert kinds.index("code_execution_started") > [i for i, k in enumerate(kinds) if k == "message"][1]
    # the first line came while the block still ran (it sleeps 2 s before the second)
    assert finished_when_first_output is False
    outputs = "".join(e.text for e in events if isinstance(e, CodeOutputEvent))
    assert outputs == "first\nsecond\n"
    assert kinds.count("usage") == 2
    result = events[-1]
    assert isinstance(result, RunFinished)
    assert result.result.stop_reason == "terminated"
    assert result.result.final_output == "Both lines printed."
    assert [m["name"] for m in result.result.messages] == ["runner", "coder", "runner", "coder"]
    assert "exitcode: 0" in result.result.messages[2]["content"]
    assert result.result.total_tokens > 0


@pytest.mark.timeout(60)
async def test_run_returns_the_same_result_as_the_stream_ends_with(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(["All done. TERMINATE"], model="gpt-4o-mini") as server:
        async with Runtime.from_dict(pair_config(server.base_url, tmp_path)) as runtime:
            result = await runtime.run("pair", "Say done.")
    assert result.stop_reason == "terminated"
    assert [m["content"] for m in result.messages] == ["Say done.", "All done. TERMINATE"]
    assert result.error is None
    assert result.duration_s > 0


@pytest.mark.timeout(60)
async def test_an_agent_alone_answers_once(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(["Hello there."], model="gpt-4o-mini") as server:
        async with Runtime.from_dict(pair_config(server.base_url, tmp_path)) as runtime:
            result = await runtime.run("coder", "Greet me.")
            info = runtime.get_agent_info("coder")
    assert result.final_output == "Hello there."
    assert result.stop_reason == "completed"
    assert [(m["name"], m["content"]) for m in result.messages] == [("user", "Greet me."), ("coder", "Hello there.")]
    assert info["id"] == "coder"
    assert info["model"] == "fast"


def test_sync_run(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(["Done. TERMINATE"], model="gpt-4o-mini") as server:
        runtime = Runtime.from_dict(pair_config(server.base_url, tmp_path))
        result = runtime.run_sync("pair", "Go.")
        asyncio.run(runtime.close())
    assert result.stop_reason == "terminated"
