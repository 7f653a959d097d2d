"""Pools as an agent's executor: every chat gets a slot of its own for the whole chat, given back at its end."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.coding import ExecutorPool
from parley.exceptions import ConfigError
from parley.testing import ScriptedModelClient

from ._kernel_env import require_kernel


def _chat_script(n: int) -> list[str]:
    """A chat whose code sets its number, then reads it back and looks for any other chat's."""
    return [
        f"```python\nmine = {n}\nimport os\nprint('pid', os.getpid())\n```",
        "```python\nprint('mine', mine, 'others', sorted(k for k in globals() if k.startswith('other')))\n```",
        f"```python\nother_{n} = True\nprint('marked')\n```",
        "TERMINATE",
    ]


def _outputs(history: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(m["content"]) for m in history if str(m.get("content", "")).startswith("exitcode:")]


@pytest.mark.timeout(300)
async def test_32_concurrent_chats_on_4_kernels_each_keep_their_own_state(tmp_path: Path) -> None:
    require_kernel()
    pool = ExecutorPool("ipython-embedded", size=4, options={"timeout": 60}, base_dir=tmp_path)
    try:
        pairs = []
        for n in range(32):
            assistant = AssistantAgent(
                f"assistant{n}", llm_config={"model_client": ScriptedModelClient(_chat_script(n))}
            )
            user = UserProxyAgent(f"user{n}", human_input_mode="NEVER", code_execution_config={"executor": pool})
            pairs.append((user, assistant))
        results = await asyncio.gather(
            *(user.a_initiate_chat(assistant, message="go", silent=True) for user, assistant in pairs)
        )
        pids: set[int] = set()
        for n, result in enumerate(results):
            first, second, third = _outputs(result.chat_history)
            pids.add(int(re.search(r"pid (\d+)", first).group(1)))  # type: ignore[union-attr]
            assert f"mine {n} others []" in second, second  # its own variable; no other chat's
            assert "marked" in third
        assert len(pids) == 4  # 32 chats shared the 4 kernels
        stats = pool.stats()
        assert (stats.leased, stats.idle) == (0, 4)  # every slot was given back when its chat ended
        assert stats.resets == 32
        # A chat after them sees a clean namespace.
        assistant = AssistantAgent(
            "late",
            llm_config={
                "model_client": ScriptedModelClient(
                    [
                        "```python\nprint(sorted(k for k in globals() if k == 'mine' or k.startswith('other')))\n```",
                        "TERMINATE",
                    ]
                )
            },
        )
        user = UserProxyAgent("late_user", human_input_mode="NEVER", code_execution_config={"executor": pool})
        late = await user.a_initiate_chat(assistant, message="go", silent=True)
        assert "Code output: []" in _outputs(late.chat_history)[0]
    finally:
        await pool.a_close()


@pytest.mark.timeout(120)
async def test_a_nested_chat_runs_in_its_outer_chats_slot(tmp_path: Path) -> None:
    pool = ExecutorPool("local", size=2, base_dir=tmp_path)
    writes = "```python\nopen('note.txt', 'w').write('from the outer chat')\nprint('wrote')\n```"
    writer = AssistantAgent("writer", llm_config={"model_client": ScriptedModelClient([writes, "check", "TERMINATE"])})
    reads = "```python\nprint(open('note.txt').read())\n```"
    reader = AssistantAgent("reader", llm_config={"model_client": ScriptedModelClient([reads, "TERMINATE"])})
    inner_user = UserProxyAgent("inner_user", human_input_mode="NEVER", code_execution_config={"executor": pool})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config={"executor": pool})

    async def nested(
        recipient: object, messages: list[dict[str, object]], sender: object, config: object
    ) -> tuple[bool, str | None]:
        if messages[-1].get("content") != "check":
            return False, None
        inner = await inner_user.a_initiate_chat(reader, message="read the note", silent=True)
        return True, _outputs(inner.chat_history)[0]

    user.register_reply([writer], nested, position=0)
    try:
        outer = await user.a_initiate_chat(writer, message="write a note", silent=True)
        replies = _outputs(outer.chat_history)
        assert "wrote" in replies[0]
        assert "from the outer chat" in replies[1]  # the nested chat ran on the outer chat's member
        assert pool.stats().leased == 0  # given back once, when the outer chat ended
    finally:
        await pool.a_close()


def test_executor_pool_by_name_needs_its_dict() -> None:
    with pytest.raises(ConfigError, match="needs the pool under 'pool'"):
        UserProxyAgent("u", code_execution_config={"executor": "pool"})


@pytest.mark.timeout(120)
def test_a_pool_from_its_config_dict(tmp_path: Path) -> None:
    assistant = AssistantAgent(
        "a", llm_config={"model_client": ScriptedModelClient(["```python\nprint(6 * 7)\n```", "TERMINATE"])}
    )
    user = UserProxyAgent(
        "u",
        human_input_mode="NEVER",
        code_execution_config={"executor": "pool", "pool": {"executor": "local", "size": 1, "base_dir": str(tmp_path)}},
    )
    result = user.initiate_chat(assistant, message="go", silent=True)
    assert "42" in _outputs(result.chat_history)[0]


@pytest.mark.timeout(120)
async def test_chats_through_a_dispatcher_each_get_a_session(tmp_path: Path) -> None:
    from parley.coding import ExecutionDispatcher

    def script(n: int) -> list[str]:
        write = f"```python\nopen('mine.txt', 'w').write('{n}')\n```"
        return [write, "```python\nprint('chat', open('mine.txt').read())\n```", "TERMINATE"]

    async with ExecutorPool("local", size=2, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        chats = []
        for n in range(8):
            assistant = AssistantAgent(f"assistant{n}", llm_config={"model_client": ScriptedModelClient(script(n))})
            user = UserProxyAgent(f"user{n}", human_input_mode="NEVER", code_execution_config={"executor": dispatcher})
            chats.append(user.a_initiate_chat(assistant, message="go", silent=True))
        results = await asyncio.gather(*chats)
        for n, result in enumerate(results):
            assert f"chat {n}" in _outputs(result.chat_history)[1]
        assert dispatcher.stats().requests == 16
        assert pool.stats().leased == 0  # every session was released when its chat ended
