"""Nothing a Docker block starts outlives it, however it detaches; unless background processes are kept.

Each case starts a long ``sleep`` with a distinct length the way a model's code might hide it: a
new session, ``nohup``, a double fork, a new session with a cleared environment. A second block
then lists the container's processes through /proc.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

from .test_docker_executor import container, processes

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

# How a block hides a background process; each sleeps for a length of its own, to be found by.
DETACHED = {
    "setsid": CodeBlock("setsid sleep 1001 &\necho started", "sh"),
    "nohup": CodeBlock("nohup sleep 1002 >/dev/null 2>&1 &\necho started", "sh"),
    "double-fork": CodeBlock(
        textwrap.dedent("""\
        import os, sys
        if os.fork() == 0:
            if os.fork() == 0:
                os.execvp('sleep', ['sleep', '1003'])
            os._exit(0)
        os.wait()
        print('started')
        """),
        "python",
    ),
    "setsid-env-i": CodeBlock("setsid env -i sleep 1004 &\necho started", "sh"),
    "new-session": CodeBlock(
        "import subprocess\nsubprocess.Popen(['sleep', '1005'], start_new_session=True)\nprint('started')", "python"
    ),
}
_SLEEPS = {
    "setsid": "sleep 1001",
    "nohup": "sleep 1002",
    "double-fork": "sleep 1003",
    "setsid-env-i": "sleep 1004",
    "new-session": "sleep 1005",
}


@pytest.mark.parametrize("how", sorted(DETACHED))
def test_a_detached_process_ends_with_its_block(docker_executor: MakeDocker, how: str) -> None:
    executor = docker_executor()
    result = executor.execute_code_blocks([DETACHED[how]])
    assert (result.exit_code, result.output) == (0, "started\n")
    assert processes(executor, _SLEEPS[how]) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", sorted(DETACHED))
def test_a_detached_process_ends_with_a_timed_out_block(docker_executor: MakeDocker, how: str) -> None:
    executor = docker_executor(timeout=2)
    wait = "\nimport time; time.sleep(60)" if DETACHED[how].language == "python" else "\nsleep 60"
    hang = CodeBlock(DETACHED[how].code + wait, DETACHED[how].language)
    result = executor.execute_code_blocks([hang])
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert processes(executor, _SLEEPS[how]) == []


@pytest.mark.parametrize("runner", [True, False], ids=["runner", "exec-per-block"])
def test_the_container_keeps_only_its_own_processes(docker_executor: MakeDocker, runner: bool) -> None:
    executor = docker_executor(runner=runner)
    assert executor.execute_code_blocks(list(DETACHED.values())).exit_code == 0
    commands = [row[-1] for row in container(executor.container_name).top()["Processes"]]
    # The persistent runner and its warm python3 (for python blocks), while they serve.
    runners = [c for c in commands if "parley-runner" in c or "_warm_python" in c]
    assert len([c for c in runners if "parley-runner" in c]) == (1 if runner else 0)
    assert len([c for c in runners if "parley-runner" not in c]) <= (1 if runner else 0)
    assert sorted(set(commands) - set(runners)) == ["/sbin/docker-init -- sleep infinity", "sleep infinity"]


# --- keep_background -------------------------------------------------------------------------------

_SERVER = CodeBlock("python3 -m http.server 8765 --bind 127.0.0.1 >server.log 2>&1 &\necho serving", "sh")
_QUERY = CodeBlock(
    textwrap.dedent("""\
    import time, urllib.request
    for _ in range(200):
        try:
            print(urllib.request.urlopen('http://127.0.0.1:8765/server.log', timeout=5).status)
            break
        except OSError:
            time.sleep(0.05)
    else:
        print('no answer')
    """),
    "python",
)


def test_with_keep_background_a_server_answers_the_next_block_until_restart(docker_executor: MakeDocker) -> None:
    executor = docker_executor(keep_background=True)
    assert executor.execute_code_blocks([_SERVER]).output == "serving\n"
    assert executor.execute_code_blocks([_QUERY]).output == "200\n"
    assert len(processes(executor, "http.server")) == 1
    executor.restart()
    assert processes(executor, "http.server") == []


def test_with_keep_background_close_ends_them_even_when_the_container_stays(docker_executor: MakeDocker) -> None:
    executor = docker_executor(keep_background=True, stop_container=False)
    assert executor.execute_code_blocks([DETACHED["setsid-env-i"]]).output == "started\n"
    kept = container(executor.container_name)
    try:
        assert any("sleep 1004" in row[-1] for row in kept.top()["Processes"])
        executor.close()
        assert [row[-1] for row in kept.top()["Processes"] if "sleep 1004" in row[-1]] == []
    finally:
        kept.remove(force=True)


@pytest.mark.timeout(60)
def test_with_keep_background_a_timeout_kills_the_blocks_own_processes_only(docker_executor: MakeDocker) -> None:
    executor = docker_executor(keep_background=True, timeout=2)
    # Redirected: a kept process holding the block's output would hold the block open (up to 2 s).
    assert executor.execute_code_blocks([CodeBlock("setsid sleep 1001 >/dev/null 2>&1 &", "sh")]).exit_code == 0
    result = executor.execute_code_blocks([CodeBlock("setsid env -i sleep 1004 &\necho again\nsleep 60", "sh")])
    assert (result.exit_code, result.timed_out) == (124, True)
    assert processes(executor, "sleep 100") == ["sleep 1001"]  # the earlier block's process lives


# --- one call at a time ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_concurrent_calls_run_one_after_the_other(docker_executor: MakeDocker, tmp_path: Path) -> None:
    executor = docker_executor()

    def block(name: str) -> CodeBlock:
        return CodeBlock(f"echo {name}-start >> log; sleep 1; echo {name}-end >> log; echo {name}", "sh")

    results = await asyncio.gather(*(executor.a_execute_code_blocks([block(name)]) for name in "abc"))
    assert [(r.exit_code, r.output) for r in results] == [(0, "a\n"), (0, "b\n"), (0, "c\n")]
    lines = (tmp_path / "work" / "log").read_text().split()
    assert sorted(zip(lines[::2], lines[1::2], strict=True)) == [("a-start", "a-end"), ("b-start", "b-end"),
                                                                   ("c-start", "c-end")]  # fmt: skip
