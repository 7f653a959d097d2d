"""The team files in examples/ run against the scripted server, on the local executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from parley.runtime import MessageEvent, Runtime, ToolCallEvent, ToolResultEvent
from parley.testing import ScriptedOpenAIServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _pointed_at(name: str, base_url: str, tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    for entries in data["models"].values():
        for entry in entries:
            entry["base_url"] = base_url
    for ex in data.get("executors", {}).values():
        ex["options"]["work_dir"] = str(tmp_path / "coding")
    return data


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-examples")
    monkeypatch.syspath_prepend(str(EXAMPLES))


@pytest.mark.timeout(60)
async def test_coder_reviewer(tmp_path: Path) -> None:
    replies = [
        "```python\nprint(sum(i * i for i in range(1, 11)))\n```",
        "The code is right; run it.",
        "385 is right. TERMINATE",
    ]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(_pointed_at("coder_reviewer.yaml", server.base_url, tmp_path)) as runtime:
            result = await runtime.run("review", "Print the sum of the squares of 1 to 10.")
    assert [m["name"] for m in result.messages] == ["runner", "coder", "reviewer", "runner", "coder"]
    assert result.messages[3]["content"] == "exitcode: 0 (execution succeeded)\nCode output: 385\n"
    assert result.stop_reason == "terminated"


@pytest.mark.timeout(60)
async def test_tools_group(tmp_path: Path) -> None:
    replies: list[Any] = [
        {"content": None, "tool_calls": [{"name": "word_count", "arguments": {"text": "to be or not to be"}}]},
        "There are 6 words. TERMINATE",
    ]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(_pointed_at("tools_group.yaml", server.base_url, tmp_path)) as runtime:
            events = [e async for e in runtime.run_stream("desk", "How many words are in 'to be or not to be'?")]
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [(c.agent, c.name) for c in calls] == [("clerk", "word_count")]
    assert [r.content for r in results] == ["6"]
    assert [e.sender for e in events if isinstance(e, MessageEvent)] == ["clerk", "analyst", "clerk", "analyst"]
    assert events[-1].result.final_output == "There are 6 words."  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
async def test_sequence_with_carryover(tmp_path: Path) -> None:
    requests: list[list[dict[str, Any]]] = []

    def script(body: dict[str, Any]) -> str:
        requests.append(body["messages"])
        return "Facts: created by Guido van Rossum; first released in 1991." if len(requests) == 1 else "A paragraph."

    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(_pointed_at("sequence.yaml", server.base_url, tmp_path)) as runtime:
            result = await runtime.run("brief", "The history of Python.")
    assert result.final_output == "A paragraph."
    writer_task = requests[1][-1]["content"]
    assert writer_task.startswith("Write the paragraph.")
    assert "first released in 1991" in writer_task  # the researcher's summary, carried over
