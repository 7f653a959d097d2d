"""The Docker executor's persistent runner: one process per container runs every block, contained per run.

The contract suites (test_executor_contract.py, test_containment_contract.py) and the Docker
suites run on it by default; these cases cover what is the runner's own: that it serves the
blocks, that code killing it or its own reaper is reported and leaves nothing behind, and that an
image without python3 keeps a ``docker exec`` per block.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

from ._docker_env import SANDBOX_IMAGE, require_docker
from .test_docker_executor import container, processes, py

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

# Prints the pid of the runner this process runs below (the topmost ancestor whose command line
# names it: a reaper forked from it has the same; a python block's template is between), and
# whether there is one.
_ANCESTORS = """\
import os
def parent(pid):
    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
def cmd(pid):
    return open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()
runner, pid = 0, parent(os.getpid())
while pid > 1:
    runner = pid if 'parley-runner' in cmd(pid) else runner
    pid = parent(pid)
print(runner, runner > 0)
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
        time.sleep(0.3)  # the runner relays the line before it dies
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
        ["docker", "run", "--network", "none", "--name", name, SANDBOX_IMAGE, "sh", "-c", "rm -f /usr/bin/python3*"],
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


# With keep_background: leaves a sleeper, and a background process that kills the runner a moment
# after the block has ended.
_KILL_RUNNER_LATER = (
    _ANCESTORS
    + """\
import subprocess
subprocess.Popen(['sleep', '1010'])
subprocess.Popen(['sh', '-c', f'sleep 0.5; kill -9 {runner}'])
"""
)


def _runner_running(executor: DockerCommandLineCodeExecutor) -> bool:
    return any("parley-runner" in row[-1] for row in container(executor.container_name).top()["Processes"])


@pytest.mark.timeout(90)
def test_a_runner_killed_between_blocks_is_told_to_the_next_block_with_kept_processes(
    docker_executor: MakeDocker,
) -> None:
    executor = docker_executor(keep_background=True)
    first = executor.execute_code_blocks([py(_KILL_RUNNER_LATER)])
    assert first.exit_code == 0, first.output
    while _runner_running(executor):  # the background process kills it (bounded by the test's timeout)
        time.sleep(0.1)
    second = executor.execute_code_blocks([py("print('next')")])
    assert second.exit_code == 0, second.output
    assert second.output.startswith("[State lost: the runner that runs blocks in the container had ended since")
    assert "the background processes kept from earlier blocks ended with it" in second.output
    assert second.output.endswith("\nnext\n")
    assert processes(executor, "sleep 1010") == []
    third = executor.execute_code_blocks([py("print('third')")])
    assert third.output == "third\n"  # told once


@pytest.mark.timeout(90)
def test_a_runner_killed_between_blocks_without_kept_processes_loses_nothing_to_tell(
    docker_executor: MakeDocker,
) -> None:
    executor = docker_executor()
    assert executor.execute_code_blocks([py(_KILL_RUNNER_LATER)]).exit_code == 0
    # Without keep_background the block's end ended the killer too, so kill the runner from here.
    kill = (
        "import os; [os.kill(int(p), 9) for p in os.listdir('/proc') if p.isdigit() "
        "and b'parley-' + b'runner' in open(f'/proc/{p}/cmdline', 'rb').read()]"
    )
    assert container(executor.container_name).exec_run(["python3", "-c", kill]).exit_code == 0
    while _runner_running(executor):
        time.sleep(0.1)
    assert executor.execute_code_blocks([py("print('next')")]).output == "next\n"
