"""Executor pools and dispatchers in a config: one per runtime, a slot per session, real kernels.

Two sessions on one pool of IPython kernels keep separate variables across their runs; closing
a session gives its slot back, reset, so a third session can run on a pool of two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from coding._kernel_env import require_kernel

from parley.exceptions import RuntimeConfigError
from parley.runtime import Runtime
from parley.testing import ScriptedOpenAIServer

from ._teams import KEY_ENV, pair_config

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-runtime")


def _code(body: dict[str, Any]) -> str:
    """Set x to the task's number, or print x: the model's code for the task in the last user message."""
    task = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    if str(task).startswith("exitcode"):
        return "done"
    if task.startswith("set "):
        return f"```python\nx = {int(task.split()[1])}\nprint('set', x)\n```"
    return "```python\nprint('x is', globals().get('x', 'unset'))\n```"


def _executor(kind: str, base: Path) -> dict[str, Any]:
    pool = {"executor": "ipython-embedded", "size": 2, "base_dir": str(base), "acquire_timeout": 60}
    if kind == "pool":
        return {"kind": "pool", "options": pool}
    return {"kind": "dispatcher", "options": {"pool": pool, "batch_window_ms": 5}}


def _outputs(result: Any) -> list[str]:
    return [
        m["content"].split("Code output: ")[1].strip()
        for m in result.messages
        if "Code output: " in str(m.get("content"))
    ]


@pytest.mark.parametrize("kind", ["pool", "dispatcher"])
async def test_sessions_share_a_pool_each_in_its_own_slot_released_when_it_closes(tmp_path: Path, kind: str) -> None:
    require_kernel()
    with ScriptedOpenAIServer(_code, model="gpt-4o-mini") as server:
        config = pair_config(server.base_url, tmp_path, executor=_executor(kind, tmp_path / "pool"))
        config["teams"]["pair"]["max_turns"] = 2
        async with Runtime.from_dict(config) as runtime:
            await runtime.run("pair", "set 1", session_id="a")
            await runtime.run("pair", "set 2", session_id="b")
            a = await runtime.run("pair", "show", session_id="a")
            b = await runtime.run("pair", "show", session_id="b")
            assert _outputs(a) == ["x is 1"]  # each session's kernel kept its own variables
            assert _outputs(b) == ["x is 2"]
            await runtime.close_session("a")  # its slot goes back, reset: a third session fits in a pool of 2
            c = await runtime.run("pair", "show", session_id="c")
            assert _outputs(c) == ["x is unset"]


def test_a_pool_entry_is_checked_with_its_path() -> None:
    bad = {
        "executors": {
            "p": {"kind": "pool", "options": {"executor": "ipython-embedded", "sise": 2}},
            "d": {"kind": "dispatcher", "options": {"pool": {"executor": "local"}, "batch_windw_ms": 5}},
            "e": {"kind": "dispatcher", "options": {"batch_window_ms": 5}},
        }
    }
    with pytest.raises(RuntimeConfigError) as info:
        Runtime.from_dict(bad)
    problems = dict(info.value.problems)
    assert "'sise'" in problems["executors.p.options"]
    assert "Did you mean 'size'?" in problems["executors.p.options"]
    assert problems["executors.d.options"].endswith("Did you mean 'batch_window_ms'?")
    assert "needs its pool under options.pool" in problems["executors.e.options"]
