"""ExecutorPool slots: many keys sharing few Docker containers, each key in a directory of its own.

Runs on the real daemon and the test image. Concurrency is shown by blocks that can only finish
together (each waits for the others' marks in the container's /tmp), never by timing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor, ExecutorPool
from parley.exceptions import ConfigError

from ._docker_env import SANDBOX_IMAGE, require_docker
from .test_docker_executor import container
from .test_docker_runner import image_without_python

__all__ = ["image_without_python"]  # a fixture used here

pytestmark = pytest.mark.docker

_OPTIONS = {"image": SANDBOX_IMAGE, "timeout": 60}


def py(code: str) -> CodeBlock:
    return CodeBlock(code, "python")


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[ExecutorPool]:
    require_docker()
    async with ExecutorPool("docker", size=1, slots_per_member=3, options=_OPTIONS, base_dir=tmp_path / "pool") as made:
        yield made


def _together(n: int, count: int) -> str:
    """A block that marks itself in /tmp and ends only when ``count`` blocks have marked (or after 30 s, failing)."""
    return (
        "import os, time\n"
        f"open('/tmp/mark-{n}', 'w').close()\n"
        f"open('mine-{n}', 'w').close()\n"
        "for _ in range(3000):\n"
        f"    if len([f for f in os.listdir('/tmp') if f.startswith('mark-')]) >= {count}:\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "else:\n"
        "    raise SystemExit('the other slots never ran at the same time')\n"
        "print(os.getcwd(), sorted(f for f in os.listdir('.') if not f.startswith('tmp_code_')))\n"
    )


@pytest.mark.timeout(120)
async def test_slots_of_one_container_run_at_once_each_in_its_own_directory(pool: ExecutorPool) -> None:
    async def chat(n: int) -> str:
        async with pool.acquire(f"chat-{n}") as executor:
            result = await executor.a_execute_code_blocks([py(_together(n, 3))])
            assert result.exit_code == 0, result.output
            return result.output.strip()

    outputs = await asyncio.gather(*(chat(n) for n in range(3)))
    directories = sorted(line.split()[0] for line in outputs)
    assert directories == ["/workspace/slot-1", "/workspace/slot-2", "/workspace/slot-3"]
    for n, line in enumerate(outputs):
        assert line.endswith(f"['mine-{n}']")  # no slot sees another's files
    stats = pool.stats()
    assert (stats.size, stats.slots_per_member, stats.leased, stats.idle) == (1, 3, 3, 0)


@pytest.mark.timeout(120)
async def test_a_slots_reset_empties_only_its_directory_and_a_key_keeps_its_slot(pool: ExecutorPool) -> None:
    where = "import os; print(os.getcwd(), sorted(f for f in os.listdir('.') if not f.startswith('tmp_code_')))"
    async with pool.acquire("a") as a, pool.acquire("b") as b:
        await a.a_execute_code_blocks([py("open('a.txt', 'w').write('a')")])
        await b.a_execute_code_blocks([py("open('b.txt', 'w').write('b')")])
        b_first = (await b.a_execute_code_blocks([py(where)])).output
    await pool.release("a")
    async with pool.acquire("b") as b:
        assert (await b.a_execute_code_blocks([py(where)])).output == b_first  # same slot, files kept
    assert b_first.strip().endswith("['b.txt']")
    async with pool.acquire("c") as c, pool.acquire("d") as d:
        seen = {(await e.a_execute_code_blocks([py(where)])).output.split()[1] for e in (c, d)}
    assert seen == {"[]"}  # the slot "a" left was emptied; the third was never used


@pytest.mark.timeout(120)
async def test_a_docker_kill_mid_chat_replaces_the_container_and_tells_every_holder(
    pool: ExecutorPool, tmp_path: Path
) -> None:
    async with pool.acquire("a") as a, pool.acquire("b") as b:
        await b.a_execute_code_blocks([py("open('/tmp/state', 'w').write('b was here')")])
        host = a.executor
        assert isinstance(host, DockerCommandLineCodeExecutor)
        name = host.container_name
        first = container(name).id
        started = Path(a.work_dir or "") / "started"

        def kill_when_started() -> None:
            while not started.exists():  # bounded by pytest-timeout
                time.sleep(0.02)
            container(name).kill()

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        result = await a.a_execute_code_blocks(
            [py("import pathlib, time; pathlib.Path('started').touch(); time.sleep(50)")]
        )
        killer.join()
        assert result.exit_code == 137
        assert "The container stopped while this block ran" in result.output
        assert "The next block runs in a fresh container" in result.output
        assert pool.lost("a")
        again = await a.a_execute_code_blocks([py("print('fresh')")])
        assert (again.exit_code, again.output) == (0, "fresh\n")
        assert container(name).id != first
        told = await b.a_execute_code_blocks([py("import os; print(os.path.exists('/tmp/state'))")])
        assert told.output.startswith("[The container had stopped since this slot's last block")
        assert told.output.endswith("False\n")
        assert pool.lost("b")
    assert pool.stats().failures >= 2


def test_slots_are_for_the_docker_executor(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="slots_per_member applies to the 'docker' executor") as caught:
        ExecutorPool("local", size=2, slots_per_member=4)
    assert caught.value.key == "slots_per_member"
    with pytest.raises(ConfigError, match="slots_per_member must be a positive int"):
        ExecutorPool("docker", slots_per_member=0)
    pool = ExecutorPool.from_config({"executor": "docker", "size": 2, "slots_per_member": 8, "docker": _OPTIONS})
    assert pool.size == 2


def test_slots_keeping_background_processes_without_the_runner_are_refused_before_any_io(tmp_path: Path) -> None:
    options = {**_OPTIONS, "keep_background": True, "runner": False}
    with pytest.raises(ConfigError, match=r"need the persistent runner, and runner=False turns it off") as caught:
        ExecutorPool("docker", size=1, slots_per_member=2, options=options, base_dir=tmp_path / "pool")
    assert caught.value.key == "runner"
    assert "keep_background=False, or slots_per_member=1" in str(caught.value)
    assert not (tmp_path / "pool").exists()
    ExecutorPool("docker", size=1, slots_per_member=1, options=options)  # one slot: its reset is the container's


@pytest.mark.timeout(180)
async def test_slots_keeping_background_processes_on_an_image_without_python3_are_refused_at_start(
    tmp_path: Path, image_without_python: str
) -> None:
    options = {**_OPTIONS, "image": image_without_python, "keep_background": True, "timeout": 10}
    pool = ExecutorPool("docker", size=1, slots_per_member=2, options=options, base_dir=tmp_path / "pool")
    with pytest.raises(ConfigError, match=r"the image '.*' cannot run it \(no python3 3\.9 or later\)") as caught:
        await pool.a_start()
    assert caught.value.key == "keep_background"
    await pool.a_close()
    # Without keep_background the same slots work, one docker exec per block.
    options["keep_background"] = False
    working = ExecutorPool("docker", size=1, slots_per_member=2, options=options, base_dir=tmp_path / "p2")
    async with working, working.acquire("a") as executor:
        result = await executor.a_execute_code_blocks([CodeBlock("echo here", "sh")])
    assert (result.exit_code, result.output) == (0, "here\n")
