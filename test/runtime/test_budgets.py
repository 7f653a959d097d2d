"""Each budget stops a run with its stop reason, and leaves no process, kernel or container behind."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
import pytest
from coding._docker_env import SANDBOX_IMAGE, our_containers, require_docker
from coding._kernel_env import require_kernel

from parley.runtime import Runtime
from parley.runtime.events import RunFinished, UsageEvent
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, pair_config

HANG = (
    "```python\nimport subprocess, time\nsubprocess.Popen(['sleep', '1000'])\n"
    "print('hanging', flush=True)\ntime.sleep(1000)\n```"
)
CHATTY = ["```python\nprint('step')\n```"] * 20


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


def _children() -> set[int]:
    """This process's live descendants, but for the local executors' shared servers.

    Those are the reaper server (``--serve``) and the warm Python templates the fork server keeps
    (``_warm_python``): they live as long as this process, by design, and run no block themselves.
    """
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            command = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and "--serve" not in command and "_warm_python" not in command:
                out.add(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def _executor(kind: str, work_dir: Path) -> dict[str, Any]:
    if kind == "docker":
        require_docker()
        return {"kind": "docker", "options": {"image": SANDBOX_IMAGE, "work_dir": str(work_dir)}}
    if kind == "ipython-embedded":
        require_kernel()
    return {"kind": kind, "options": {"work_dir": str(work_dir)}}


async def _run(tmp_path: Path, kind: str, replies: list[Any], budget: dict[str, Any]) -> Any:
    before = _children()
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path, executor=_executor(kind, tmp_path / "work"))
        async with Runtime.from_dict(config) as runtime:
            result = await runtime.run("pair", "Go.", budget=budget)
            # the run stopped: its executors are closed already, before the session is
            left = _children() - before
            containers = our_containers() if kind == "docker" else []
    return result, left, containers


EXECUTORS = ["commandline-local", "docker", "ipython-embedded"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", EXECUTORS)
async def test_max_duration_cancels_running_code(tmp_path: Path, kind: str) -> None:
    result, left, containers = await _run(tmp_path, kind, [HANG], {"max_duration_s": 6})
    assert result.stop_reason == "timeout"
    assert left == set()
    assert containers == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", EXECUTORS)
async def test_max_steps_stops_after_that_many_messages(tmp_path: Path, kind: str) -> None:
    result, left, containers = await _run(tmp_path, kind, CHATTY, {"max_steps": 5})
    assert result.stop_reason == "max_steps"
    assert len(result.messages) == 5
    assert "exitcode: 0" in result.messages[2]["content"]  # code really ran before the stop
    assert left == set()
    assert containers == []


@pytest.mark.timeout(120)
async def test_max_tokens_stops_at_the_call_that_reaches_it(tmp_path: Path) -> None:
    result, left, _ = await _run(tmp_path, "commandline-local", CHATTY, {"max_tokens": 60})
    assert result.stop_reason == "budget"
    assert result.total_tokens >= 60
    assert left == set()


@pytest.mark.timeout(120)
async def test_max_cost_stops_at_the_call_that_reaches_it(tmp_path: Path) -> None:
    result, left, _ = await _run(tmp_path, "commandline-local", CHATTY, {"max_cost_usd": 0.00001})
    assert result.stop_reason == "budget"
    assert result.cost_usd >= 0.00001
    assert 0 < len(result.messages) < 40
    assert left == set()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", EXECUTORS)
async def test_cancelling_the_caller_stops_the_run(tmp_path: Path, kind: str) -> None:
    before = _children()
    with ScriptedOpenAIServer([HANG], model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path, executor=_executor(kind, tmp_path / "work"))
        config["budget"] = {}
        async with Runtime.from_dict(config) as runtime:
            running = asyncio.Event()

            async def consume() -> None:
                async for event in runtime.run_stream("pair", "Go."):
                    if event.type == "code_output":
                        running.set()

            task = asyncio.ensure_future(consume())
            await running.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = _children() - before
            containers = our_containers() if kind == "docker" else []
    assert left == set()
    assert containers == []


def _group(base_url: str) -> dict[str, Any]:
    """A group chat whose members have no model: its only model calls are the `auto` speaker selections."""
    quiet = {"kind": "conversable", "human_input_mode": "NEVER", "options": {"default_auto_reply": "noted"}}
    return {
        "models": {"fast": [{"model": "gpt-4o-mini", "base_url": base_url, "api_key_env": KEY_ENV}]},
        "agents": {"lead": {"kind": "user_proxy", "human_input_mode": "NEVER"}, "ann": quiet, "bob": quiet},
        "teams": {
            "panel": {"kind": "group_chat", "members": ["lead", "ann", "bob"], "speaker_selection": "auto",
                      "model": "fast", "max_round": 4},
        },
    }  # fmt: skip


def _pick(body: dict[str, Any]) -> str:
    return "bob" if str(body["messages"][-2].get("name")) == "ann" else "ann"


@pytest.mark.timeout(60)
async def test_a_group_chats_speaker_selection_calls_are_counted_and_reported() -> None:
    with ScriptedOpenAIServer(_pick, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(_group(server.base_url)) as runtime:
            events = [e async for e in runtime.run_stream("panel", "Discuss.")]
        calls = len(server.requests)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    result = finished.result
    usage = [e for e in events if isinstance(e, UsageEvent)]
    assert result.stop_reason == "completed"
    assert calls == 3
    assert [e.agent for e in usage] == ["panel_manager"] * calls
    assert result.total_tokens == sum(e.total_tokens for e in usage) > 0
    assert result.cost_usd == pytest.approx(sum(e.cost_usd for e in usage))
    assert result.cost_usd > 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("limit", [{"max_tokens": 1}, {"max_cost_usd": 1e-9}])
async def test_speaker_selection_calls_count_against_the_budget(limit: dict[str, Any]) -> None:
    with ScriptedOpenAIServer(_pick, model="gpt-4o-mini") as server:
        async with Runtime.from_dict(_group(server.base_url)) as runtime:
            result = await runtime.run("panel", "Discuss.", budget=limit)
    assert result.stop_reason == "budget"
    assert len(server.requests) == 1
    assert result.total_tokens > 0
