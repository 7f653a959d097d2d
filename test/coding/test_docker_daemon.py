"""A Docker daemon that stops answering costs a block its timeout plus a few seconds, never the event loop.

The real daemon is frozen with SIGSTOP for a few seconds (other users of this machine's daemon
wait meanwhile, so the window is kept short). It is always resumed: by the fixture when the test
ends however it ends, and by a watchdog process of its own should this process die first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

_WATCHDOG_S = 20  # the daemon is resumed after this many seconds whatever happens here


def _dockerd_pid() -> int:
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "dockerd":
                return int(entry.name)
    pytest.fail("no dockerd process runs here (the Docker tests need a local daemon)")


@pytest.fixture
def freeze_daemon() -> Iterator[Callable[[], Callable[[], None]]]:
    """``freeze()`` stops dockerd and returns ``resume()``; the daemon is resumed after the test in any case."""
    frozen: list[int] = []
    watchdogs: list[subprocess.Popen[bytes]] = []

    def resume() -> None:
        while frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen.pop(), signal.SIGCONT)

    def freeze() -> Callable[[], None]:
        pid = _dockerd_pid()
        watchdogs.append(
            subprocess.Popen(["sh", "-c", f"sleep {_WATCHDOG_S}; kill -CONT {pid}"], start_new_session=True)
        )
        frozen.append(pid)
        os.kill(pid, signal.SIGSTOP)
        return resume

    try:
        yield freeze
    finally:
        resume()
        for watchdog in watchdogs:
            os.killpg(watchdog.pid, signal.SIGKILL)
            watchdog.wait()


@pytest.mark.timeout(90)
async def test_a_frozen_daemon_costs_a_block_its_timeout_and_says_so(
    docker_executor: MakeDocker, freeze_daemon: Callable[[], Callable[[], None]]
) -> None:
    executor = docker_executor(timeout=2)
    assert (await executor.a_execute_code_blocks([CodeBlock("print('up')", "python")])).output == "up\n"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    other = asyncio.create_task(ticker())
    resume = freeze_daemon()
    try:
        result = await executor.a_execute_code_blocks([CodeBlock("print('frozen?')", "python")])
        during = ticks
    finally:
        resume()
        other.cancel()
    assert (result.exit_code, result.timed_out) == (124, True)
    assert "the Docker daemon did not answer when asked to kill the block's processes" in result.output
    assert "limit of processes" not in result.output  # not blamed on the pids limit
    assert "The next block runs in a fresh container" not in result.output
    assert "The next block will try to reach the Docker daemon again" in result.output
    # The other task kept running all along (5 s of 10 ms ticks; a stalled loop gives a handful).
    assert during > 100
    after = await executor.a_execute_code_blocks([CodeBlock("print('back')", "python")])
    assert (after.exit_code, after.output) == (0, "back\n")
