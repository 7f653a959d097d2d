"""The Docker executor's persistent runner: one process per container runs every block, contained per run.

The contract suites (test_executor_contract.py, test_containment_contract.py) and the Docker
suites run on it by default; these cases cover what is the runner's own: that it serves the
blocks, that code killing it or its own reaper is reported and leaves nothing behind, and that an
image without python3 keeps a ``docker exec`` per block.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

from ._docker_env import SANDBOX_IMAGE, require_docker
from .test_docker_executor import container, processes, py

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

# Prints the command lines of this process's parent and grandparent.
_ANCESTORS = """\
import os
def parent(pid):
    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
def cmd(pid):
    return open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()
reaper = parent(os.getpid())
runner = parent(reaper)
print(runner, 'parley-runner' in cmd(runner))
"""

# Kills the runner (the process whose command line names it) after starting a detached sleeper.
_KILL_RUNNER = """\
import os, signal, subprocess, time
subprocess.Popen(['setsid', 'sleep', '1006'])
for pid in os.listdir('/proc'):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        continue
    if b'parley-runner' in cmd and b'KILL_RUNNER' not in cmd:
        print('killing the runner', flush=True)
        os.kill(int(pid), signal.SIGKILL)
time.sleep(20)
"""


def test_every_block_runs_below_the_same_runner(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    first = executor.execute_code_blocks([py(_ANCESTORS)])
    second = executor.execute_code_blocks([py(_ANCESTORS)])
    assert first.exit_code == 0, first.output
    assert first.output.split()[1] == "True"
    assert first.output == second.output  # the same runner pid: it stays between blocks


@pytest.mark.timeout(90)
def test_a_block_that_kills_the_runner_is_reported_and_the_next_block_gets_a_new_one(
    docker_executor: MakeDocker,
) -> None:
    executor = docker_executor(timeout=30)
    runner_before = executor.execute_code_blocks([py(_ANCESTORS)]).output
    result = executor.execute_code_blocks([py(_KILL_RUNNER.replace("KILL_RUNNER", "KILL_" + "RUNNER"))])
    assert result.exit_code == 137, result.output
    assert not result.timed_out
    assert result.output.startswith("killing the runner\n")
    assert "The runner that runs blocks in the container ended during this block" in result.output
    assert "the next block starts a new runner" in result.output
    assert processes(executor, "sleep 1006") == []  # what the block left was ended
    after = executor.execute_code_blocks([py(_ANCESTORS)])
    assert after.exit_code == 0
    assert after.output.split()[1] == "True"
    assert after.output != runner_before  # a new runner


@pytest.mark.timeout(60)
def test_a_block_that_kills_its_own_reaper_leaves_nothing_behind(docker_executor: MakeDocker) -> None:
    executor = docker_executor(runner=True)
    block = py("""
        import os, signal, subprocess, time
        subprocess.Popen(['setsid', 'sleep', '1007'])
        subprocess.Popen(['sleep', '1008'])
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(20)
        """)
    result = executor.execute_code_blocks([block])
    assert result.exit_code == 137, result.output
    assert processes(executor, "sleep 100") == []
    assert executor.execute_code_blocks([py("print('still here')")]).output == "still here\n"


@pytest.fixture(scope="module")
def image_without_python() -> Iterator[str]:
    """The test image with python3 removed, built here and removed after."""
    require_docker()
    name, tag = f"parley-nopython-{uuid.uuid4().hex[:8]}", f"parley-sandbox-nopython:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "--name", name, SANDBOX_IMAGE, "sh", "-c", "rm -f /usr/bin/python3*"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        subprocess.run(["docker", "commit", name, tag], check=True, capture_output=True, timeout=60)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


@pytest.mark.timeout(120)
def test_an_image_without_python3_gets_a_docker_exec_per_block(
    docker_executor: MakeDocker, image_without_python: str
) -> None:
    executor = docker_executor(image=image_without_python, runner=True, timeout=5)
    first = executor.execute_code_blocks([CodeBlock("echo one; setsid sleep 1009 &", "sh")])
    assert (first.exit_code, first.output) == (0, "one\n")
    second = executor.execute_code_blocks([CodeBlock("ls /proc | grep -c '^[0-9]' >/dev/null; echo two", "sh")])
    assert (second.exit_code, second.output) == (0, "two\n")
    commands = [row[-1] for row in container(executor.container_name).top()["Processes"]]
    assert not any("parley-runner" in c or "sleep 1009" in c for c in commands)
    timed = executor.execute_code_blocks([CodeBlock("echo slow; sleep 60", "sh")])
    assert (timed.exit_code, timed.timed_out) == (124, True)
    assert timed.output.startswith("slow\n")
