"""Blocks that SIGSTOP the processes that run them in a Docker container, then a cancelled run.

In the container a block runs as the same user as the persistent runner, its warm templates and
each run's reaper, so it may stop them. The runner continues a stopped template or reaper; a run
cancelled while the runner itself is stopped is ended through the daemon (the runner is given up
and a fresh one serves the next block), so the cancelled block does not run on into the next one.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

_CHAIN = """\
import os, signal, time
def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
chain, pid = [], os.getppid()
while pid > 1:  # the reaper, the template (fork runs), the runner
    chain.append(pid)
    pid = parent(pid)
reaper, runner = chain[0], chain[-1]
"""


def _python(code: str) -> CodeBlock:
    return CodeBlock(_CHAIN + textwrap.dedent(code), "python")


@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "fresh-python3"])
def test_a_block_that_stops_its_reaper_ends_with_its_own_exit_code(
    docker_executor: MakeDocker, fork_server: bool
) -> None:
    """Before, the stopped reaper never reported the block's end: it 'timed out' after the executor's timeout."""
    executor = docker_executor(fork_server=fork_server, timeout=30)
    code = """\
        os.kill(reaper, signal.SIGSTOP)
        print("done", flush=True)
        raise SystemExit(3)
    """
    result = executor.execute_code_blocks([_python(code)])
    assert (result.exit_code, result.output) == (3, "done\n")


@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "fresh-python3"])
async def test_a_run_cancelled_after_its_block_stopped_the_runner_does_not_run_into_the_next(
    docker_executor: MakeDocker, fork_server: bool
) -> None:
    """Before, the kill went to the stopped runner and was never read: the next block waited for its timeout."""
    executor = docker_executor(fork_server=fork_server, timeout=30)
    await executor.a_execute_code_blocks([CodeBlock("print('warm')", "python")])
    stopping = """\
        os.kill(runner, signal.SIGSTOP)
        open("stopped.tmp", "w").close()
        os.replace("stopped.tmp", "stopped")
        time.sleep(300)
    """
    task = asyncio.ensure_future(executor.a_execute_code_blocks([_python(stopping)]))
    marker = executor.work_dir / "stopped"
    while not marker.exists():  # noqa: ASYNC110 - a file the block writes; pytest-timeout bounds the wait
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = await executor.a_execute_code_blocks([CodeBlock("print('after')", "python")])
    assert (after.exit_code, after.output) == (0, "after\n")
