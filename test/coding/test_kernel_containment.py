"""What a kernel's code starts lives with the kernel, and ends with it, on both kernel executors.

A block starts a plain child, a child in a new session (``start_new_session=True``) and a
double-forked ``setsid`` daemon, then returns. They keep running while the kernel lives (a
notebook's background server stays up), and all three end when the kernel ends: at ``close()``,
at ``restart()``, and when the kernel dies (``os._exit`` in a cell, or SIGKILL from outside) and
is replaced. The local kernel runs under parley's reaper; the kernel behind the gateway is made
a child subreaper with a watchdog by its setup cell (the test gateway's kernels run on this
machine, so their pids are visible here).
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from ._kernel_env import kernel_pid, py, run
from ._procs import escape_three_ways, is_gone, wait_for_escapees, wait_until_gone
from .conftest import MakeKernelExecutor

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(90)]


def start_escapees(executor: object, tmp_path: Path) -> list[int]:
    pids_file = tmp_path / "pids.txt"
    result = run(executor, py(escape_three_ways(pids_file)))  # type: ignore[arg-type]
    assert (result.exit_code, result.output) == (0, "started\n"), result.output
    pids = wait_for_escapees(pids_file)
    assert not any(is_gone(pid) for pid in pids)
    return pids


def test_close_ends_a_plain_child_a_new_session_and_a_double_forked_daemon(
    kernel_executor_factory: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = kernel_executor_factory()
    pids = start_escapees(executor, tmp_path)
    executor.close()
    assert [pid for pid in pids if not is_gone(pid)] == []


def test_restart_ends_them_and_the_fresh_kernel_works(
    kernel_executor_factory: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = kernel_executor_factory()
    pids = start_escapees(executor, tmp_path)
    executor.restart()
    assert [pid for pid in pids if not is_gone(pid)] == []
    assert run(executor, py("print('fresh')")).output == "fresh\n"


def test_a_kernel_that_dies_in_a_cell_takes_them_with_it(
    kernel_executor_factory: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = kernel_executor_factory()
    pids = start_escapees(executor, tmp_path)
    result = run(executor, py("import os; os._exit(3)"))
    assert "The kernel died" in result.output
    wait_until_gone(pids)


def test_a_kernel_killed_from_outside_takes_them_with_it(
    kernel_executor_factory: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = kernel_executor_factory()
    pids = start_escapees(executor, tmp_path)
    psutil.Process(kernel_pid(executor)).kill()  # the OOM killer, say
    wait_until_gone(pids)
    result = run(executor, py("print('replaced')"))
    assert result.output.startswith("The kernel had died since the last run")
    # A gateway may restart the dead kernel itself and hand it the block before parley sees the
    # death; parley then says so and does not run it a second time (issue 11: never twice).
    reached_restarted = "was not run again" in result.output and "gateway restarted" in result.output
    assert result.output.endswith("replaced\n") or reached_restarted


def test_they_live_with_the_kernel_through_a_timeout_which_keeps_its_state(
    kernel_executor_factory: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = kernel_executor_factory(timeout=2)
    run(executor, py("kept = 'state'"))
    pids = start_escapees(executor, tmp_path)
    timed_out = run(executor, py("import time; time.sleep(1000)"))
    assert (timed_out.exit_code, timed_out.timed_out) == (124, True)
    assert run(executor, py("print(kept)")).output == "state\n"
    # The interrupt went to the kernel's process group, as a notebook's stop button does, and ended
    # the plain child with it; the two that left the group live on with the kernel.
    time.sleep(0.1)
    assert not any(is_gone(pid) for pid in pids[1:])
    executor.close()
    assert [pid for pid in pids if not is_gone(pid)] == []
