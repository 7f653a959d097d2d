"""A streaming model (SSE from the scripted server, through the openai SDK): its tokens come as
events before the message, and the console shows them once, as they come, under the speaker."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from parley.runtime import Runtime
from parley.runtime.console import ConsoleDisplay
from parley.runtime.events import MessageEvent, ModelTokensEvent, RunEvent
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, pair_config

ANSWER = "The answer is forty two, said slowly. TERMINATE"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


async def streamed_run(tmp_path: Path) -> list[RunEvent]:
    with ScriptedOpenAIServer([ANSWER], model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path / "work")
        config["agents"]["coder"]["llm_options"] = {"stream": True}
        async with Runtime.from_dict(config) as runtime:
            return [e async for e in runtime.run_stream("pair", "What is six times seven?")]


async def test_tokens_stream_as_events_and_the_console_shows_them_once_under_the_speaker(tmp_path: Path) -> None:
    events = await streamed_run(tmp_path)
    tokens = [e for e in events if isinstance(e, ModelTokensEvent)]
    reply = next(e for e in events if isinstance(e, MessageEvent) and e.sender == "coder")
    assert len(tokens) > 3
    assert {t.agent for t in tokens} == {"coder"}
    assert "".join(t.text for t in tokens) == ANSWER
    assert max(t.sequence for t in tokens) < reply.sequence
    assert reply.content == ANSWER
    # the console (and so `parley replay`) shows them as they come, once, under the speaker
    out = io.StringIO()
    display = ConsoleDisplay(out)
    reply_at = next(i for i, e in enumerate(events) if isinstance(e, MessageEvent) and e.sender == "coder")
    for event in events[:reply_at]:
        display(event)
    assert out.getvalue().endswith(f"coder:\n{ANSWER}")  # shown before the message is sent
    for event in events[reply_at:]:
        display(event)
    lines = out.getvalue().splitlines()
    assert lines[1:5] == ["runner -> coder:", "What is six times seven?", "coder:", ANSWER]
    assert lines[5] == "(to runner)"
    assert out.getvalue().count(ANSWER) == 1
