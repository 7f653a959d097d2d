"""The Docker executor's sandbox limits hold, and the container stays usable after hitting them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker


def py(code: str) -> CodeBlock:
    return CodeBlock(textwrap.dedent(code), "python")


@pytest.mark.timeout(90)
def test_pids_limit_stops_a_loop_of_2000_sleeping_processes(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=30)
    result = executor.execute_code_blocks(
        [
            py("""
            import subprocess
            started = []
            try:
                for _ in range(2000):
                    started.append(subprocess.Popen(['sleep', '600'], stdout=subprocess.DEVNULL))
            except OSError as exc:
                print(f'stopped after {len(started)} processes: {exc}')
                raise SystemExit(3)
            print('all 2000 started')
            """)
        ]
    )
    assert result.exit_code == 3, result.output
    assert "Resource temporarily unavailable" in result.output
    started = int(result.output.split("stopped after ")[1].split()[0])
    assert 200 < started < 256
    # The sleepers were killed with the block, so the container is usable, forks included.
    after = executor.execute_code_blocks([CodeBlock("for i in 1 2 3; do sleep 0 & done; wait; echo usable", "sh")])
    assert (after.exit_code, after.output) == (0, "usable\n")


@pytest.mark.timeout(90)
def test_a_shell_loop_of_2000_background_sleeps_is_stopped_too(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=30)
    result = executor.execute_code_blocks([CodeBlock("for i in $(seq 2000); do sleep 600 & done; echo all", "sh")])
    assert result.exit_code != 0
    assert "Cannot fork" in result.output
    assert "all" not in result.output
    after = executor.execute_code_blocks([CodeBlock("sleep 0 & wait; echo usable", "sh")])
    assert (after.exit_code, after.output) == (0, "usable\n")


@pytest.mark.timeout(90)
def test_a_block_that_fills_the_pids_limit_and_hangs_is_killed_in_place(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=3)
    result = executor.execute_code_blocks(
        [
            py("""
            import subprocess, time
            started = 0
            try:
                while True:
                    subprocess.Popen(['sleep', '600'])
                    started += 1
            except OSError as exc:
                print(f'full after {started}: {exc}', flush=True)
            time.sleep(60)
            """)
        ]
    )
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("full after ")
    assert "Timeout after 3 s; the block's processes were killed.\n" in result.output
    # The kill forks nothing (shell builtins only), so it usually works in the full container; when
    # Docker cannot even start it there, the container is removed with the processes instead.
    stays = result.output.endswith("were killed.\n")
    assert stays or "so the container was removed with them" in result.output
    after = executor.execute_code_blocks([CodeBlock("sleep 0 & wait; echo usable", "sh")])
    assert (after.exit_code, after.output) == (0, "usable\n")


def test_with_the_network_off_only_loopback_exists(docker_executor: MakeDocker) -> None:
    result = docker_executor().execute_code_blocks([py("import os; print(sorted(os.listdir('/sys/class/net')))")])
    assert result.output == "['lo']\n"


@pytest.mark.timeout(90)
def test_allocating_2_gb_under_a_512_mb_limit_fails_and_says_so(docker_executor: MakeDocker) -> None:
    executor = docker_executor(mem_limit="512m", timeout=60)
    result = executor.execute_code_blocks(
        [py("print('allocating', flush=True)\ndata = b'x' * (2 * 1024**3)\nprint('allocated', len(data))")]
    )
    assert result.exit_code == 137
    assert result.output.startswith("allocating\n")
    assert "allocated " not in result.output
    assert "Killed: out of memory" in result.output
    assert "memory limit (512m)" in result.output
    again = executor.execute_code_blocks([py("print('still here')")])
    assert (again.exit_code, again.output) == (0, "still here\n")


def test_cpus_limit_is_applied(docker_executor: MakeDocker) -> None:
    cgroup_v2_or_v1 = "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    result = docker_executor(cpus=0.5).execute_code_blocks([CodeBlock(cgroup_v2_or_v1, "sh")])
    quota, *period = result.output.split()  # v2: "50000 100000"; v1: the quota, per 100000 µs
    assert int(quota) / int(period[0] if period else 100_000) == 0.5
