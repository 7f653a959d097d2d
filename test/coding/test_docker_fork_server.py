"""The Docker runner's warm interpreter: the cases of its own.

The cases every fork server shares (a block starts from a fresh interpreter's state, exits,
tracebacks, leaving) run on the local and the Docker executor in ``test_fork_server.py``. The
cases here are the Docker fork path's own: a timeout kills the forked block and what it started,
a block killing its template, or its reaper, leaves nothing and is followed by a block that works,
and ``keep_background`` keeps background processes until `restart`. The containment, timeout and
output-budget contracts run on the fork path already (it is the default).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

from .test_docker_executor import processes

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


@pytest.fixture(params=[True, False], ids=["fork-server", "fresh-python3"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _run(executor: DockerCommandLineCodeExecutor, code: str) -> tuple[int, str]:
    result = executor.execute_code_blocks([CodeBlock(code=textwrap.dedent(code), language="python")])
    return result.exit_code, result.output


_FORKED = "print(b'_warm_python' in open('/proc/self/cmdline', 'rb').read())"


def test_a_timeout_kills_the_forked_block_and_keeps_its_output(docker_executor: MakeDocker, fork_server: bool) -> None:
    executor = docker_executor(fork_server=fork_server, timeout=2)
    code = """\
        import subprocess, time
        subprocess.Popen(["sleep", "1011"])
        print("started", flush=True)
        time.sleep(60)
    """
    result = executor.execute_code_blocks([CodeBlock(textwrap.dedent(code), "python")])
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert processes(executor, "sleep 1011") == []
    assert _run(executor, _FORKED) == (0, f"{fork_server}\n")


# Kills this block's template: the parent of its reaper (its own parent).
_KILL_TEMPLATE = """\
import os, signal, subprocess, time
def parent(pid):
    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
subprocess.Popen(['setsid', 'sleep', '1012'])
print('killing the template', flush=True)
os.kill(parent(os.getppid()), signal.SIGKILL)
time.sleep(20)
"""


def test_a_block_that_kills_its_template_ends_and_leaves_nothing(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=30)
    result = executor.execute_code_blocks([CodeBlock(_KILL_TEMPLATE, "python")])
    assert result.exit_code == 137, result.output
    assert not result.timed_out
    assert result.output.startswith("killing the template\n")
    assert processes(executor, "sleep 1012") == []
    assert _run(executor, _FORKED) == (0, "True\n")  # a new template serves the next block


def test_background_processes_are_kept_with_keep_background_and_end_at_restart(docker_executor: MakeDocker) -> None:
    executor = docker_executor(keep_background=True)
    started = _run(executor, "import subprocess; subprocess.Popen(['sleep', '1013']); print('ok')")
    assert started == (0, "ok\n")
    assert _run(executor, _FORKED) == (0, "True\n")
    assert len(processes(executor, "sleep 1013")) == 1
    executor.restart()
    assert processes(executor, "sleep 1013") == []


_LIMITS = """\
import os, resource
print(resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE),
      os.getpriority(os.PRIO_PROCESS, 0))
"""

# Changes the limits and priority of this block's template: the parent of its reaper.
_TAMPER_TEMPLATE = """\
import os, resource
template = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])
resource.prlimit(template, resource.RLIMIT_NOFILE, (64, 64))
resource.prlimit(template, resource.RLIMIT_CORE, (4096, 4096))
os.setpriority(os.PRIO_PROCESS, template, 15)
print('tampered')
"""


def test_limits_a_block_sets_on_its_template_do_not_reach_later_blocks(docker_executor: MakeDocker) -> None:
    """Every later block in the container is a fork of the template: what a block sets on it stays there.

    The template is the block's grandparent and of its user, so ``prlimit`` and ``setpriority``
    reach it; it then forks nothing more, and the next blocks run with the limits they had.
    """
    executor = docker_executor(timeout=30)
    fresh = _run(executor, _LIMITS)
    assert _run(executor, _TAMPER_TEMPLATE) == (0, "tampered\n")
    after = [_run(executor, _LIMITS) for _ in range(3)]
    assert fresh[0] == 0, fresh
    assert "(64, 64)" not in fresh[1]
    assert after == [fresh] * 3
