"""Each budget stops a run with its stop reason, and leaves no process, kernel or container behind."""

from __future__ import annotations

import asyncio
import subprocess
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


def _code_left(kind: str) -> list[str]:
    """The processes still running the HANG block's code: its ``sleep 1000``, on the host or in a container."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and p.cmdline()[:2] == ["sleep", "1000"]:
                found.append(f"host: {p.pid}")
        except psutil.NoSuchProcess:
            continue
    if kind == "docker":
        for line in our_containers():
            top = subprocess.run(["docker", "top", line.split()[0]], capture_output=True, text=True, timeout=30)
            found += [f"container: {row}" for row in top.stdout.splitlines() if row.rstrip().endswith("sleep 1000")]
    return found


async def _until_code_gone(kind: str, within_s: float = 30.0) -> list[str]:
    """What is left of the code once it ended, waiting up to ``within_s`` seconds (an interrupt
    sent as the run stopped may land a moment later on a loaded machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while (left := _code_left(kind)) and loop.time() < deadline:  # noqa: ASYNC110 - processes, not an event
        await asyncio.sleep(0.2)
    return left


async def _run(tmp_path: Path, kind: str, replies: list[Any], budget: dict[str, Any]) -> Any:
    """Run until ``budget`` stops the run; then what is left of its code, and, once the runtime
    closed, every process and container left."""
    before = _children()
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path, executor=_executor(kind, tmp_path / "work"))
        async with Runtime.from_dict(config) as runtime:
            result = await runtime.run("pair", "Go.", budget=budget)
            # the run stopped: its code is gone already; its executors stay for the session's next run
            assert await _until_code_gone(kind) == []
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
            assert await _until_code_gone(kind) == []
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


KEEP_AND_HANG = "```python\nx = 41\nimport time\nprint('hanging', flush=True)\ntime.sleep(1000)\n```"
USE_IT = "```python\nprint(x + 1)\n```"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stop", ["timeout", "cancelled"])
async def test_a_stopped_run_keeps_the_sessions_kernel_and_its_variables(tmp_path: Path, stop: str) -> None:
    require_kernel()
    replies = [KEEP_AND_HANG, USE_IT, "done"]
    with ScriptedOpenAIServer(replies, model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path, executor=_executor("ipython-embedded", tmp_path / "work"))
        config["teams"]["pair"]["max_turns"] = 2
        async with Runtime.from_dict(config) as runtime:
            if stop == "timeout":
                first = await runtime.run("pair", "Go.", session_id="s", budget={"max_duration_s": 6})
                assert first.stop_reason == "timeout"
            else:
                running = asyncio.Event()

                async def consume() -> None:
                    async for event in runtime.run_stream("pair", "Go.", session_id="s"):
                        if event.type == "code_output":
                            running.set()

                task = asyncio.ensure_future(consume())
                await running.wait()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            second = await runtime.run("pair", "Again.", session_id="s")
    outputs = [m["content"] for m in second.messages if str(m.get("content", "")).startswith("exitcode")]
    assert outputs == ["exitcode: 0 (execution succeeded)\nCode output: 42\n"]
