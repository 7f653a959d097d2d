"""Blocks that SIGSTOP the processes the local executor runs them with, then runs that are cancelled.

A block runs as the same user as its reaper (the run's supervisor) and the process that forked
that reaper (the reaper server for ``bash``, the warm template for ``python``), so it may stop
them. A stopped reaper never reports the block's end, and a stopped server never reaps a killed
reaper. parley continues them (SIGCONT) while it waits and whenever it kills a run, so every way of
ending a run (its own end, a timeout, a cancelled task, a closed dispatcher) ends it without
waiting on a process the block stopped. No time is asserted: pytest-timeout bounds each test, and
the dispatcher's close grace is set far beyond it, so a run that did not end would hang the test.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from parley.coding import CodeBlock, ExecutionDispatcher, ExecutorPool, LocalCommandLineCodeExecutor
from parley.coding import dispatch as dispatch_module
from parley.exceptions import ExecutorError

from ._procs import a_wait_for_pids

pytestmark = pytest.mark.timeout(60)

_LANGUAGES = ["python", "bash"]

_HELPERS = """\
import os, signal, time
def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
reaper = os.getppid()  # bash execs python3, so for both languages: the run's reaper
server = parent(reaper)  # the warm template (python) or the reaper server (bash)
"""


def _block(language: str, code: str) -> CodeBlock:
    code = _HELPERS + textwrap.dedent(code)
    if language == "bash":
        code = f"exec python3 - <<'EOF'\n{code}EOF\n"
    return CodeBlock(code, language)


def _stops_then_hangs(pid_file: Path, stop_reaper: bool) -> str:
    """Writes ``<reaper> <server>`` to ``pid_file``, stops the server (and the reaper), then sleeps."""
    return f"""\
        with open({str(pid_file) + ".tmp"!r}, "w") as out:
            out.write(f"{{reaper}} {{server}}\\n")
        os.replace({str(pid_file) + ".tmp"!r}, {str(pid_file)!r})
        os.kill(server, signal.SIGSTOP)
        if {stop_reaper!r}:
            os.kill(reaper, signal.SIGSTOP)
        time.sleep(300)
    """


def _state(pid: int) -> str | None:
    """The process's state letter from ``/proc`` (``T`` stopped, ``Z`` zombie ...); None once it is reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def _assert_ended_cleanly(reaper: int, server: int) -> None:
    """The server runs again and has reaped the killed reaper (nothing is left stopped or unreaped)."""
    assert _state(server) not in ("T", None), f"the server {server} was left {_state(server)}"
    try:
        left = psutil.Process(reaper).ppid() == server  # else a new process took the pid
    except psutil.NoSuchProcess:
        left = False
    assert not left, f"the killed reaper {reaper} was left {_state(reaper)} below its server"


def _wait_stopped(pid: int) -> None:
    """Poll until ``pid`` is stopped (pytest-timeout bounds it)."""
    while _state(pid) != "T":
        time.sleep(0.01)


@pytest.mark.parametrize("language", _LANGUAGES)
def test_a_block_that_stops_its_supervisor_ends_with_its_own_exit_code(tmp_path: Path, language: str) -> None:
    """Before, the stopped reaper never said the block had ended: the block 'timed out' after the executor's timeout."""
    code = """\
        os.kill(reaper, signal.SIGSTOP)
        print("done", flush=True)
        raise SystemExit(3)
    """
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=30) as executor:
        result = executor.execute_code_blocks([_block(language, code)])
        assert result.exit_code == 3, result.output
        assert result.output.startswith("done\n")
        assert "stopped (SIGSTOP) the process supervising it; parley continued it" in result.output
        assert "Timeout" not in result.output
        assert executor.execute_code_blocks([CodeBlock("echo next", "bash")]).output == "next\n"


@pytest.mark.parametrize("stop_reaper", [False, True], ids=["server", "server-and-reaper"])
@pytest.mark.parametrize("language", _LANGUAGES)
async def test_a_cancelled_run_ends_and_continues_what_its_block_stopped(
    tmp_path: Path, language: str, stop_reaper: bool
) -> None:
    """Cancelling the awaiting task ends the run; the stopped server is continued and reaps the killed reaper.

    Then a second executor in the same process runs a block, which is cancelled too.
    """
    pid_file = tmp_path / "pids"
    async with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=300) as executor:
        task = asyncio.ensure_future(
            executor.a_execute_code_blocks([_block(language, _stops_then_hangs(pid_file, stop_reaper))])
        )
        reaper, server = await a_wait_for_pids(pid_file, 2)
        await asyncio.to_thread(_wait_stopped, server)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    _assert_ended_cleanly(reaper, server)
    second_pids = tmp_path / "second"
    async with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=300) as second:
        task = asyncio.ensure_future(
            second.a_execute_code_blocks([_block(language, _stops_then_hangs(second_pids, False))])
        )
        reaper, server = await a_wait_for_pids(second_pids, 2)
        await asyncio.to_thread(_wait_stopped, server)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    _assert_ended_cleanly(reaper, server)


@pytest.mark.parametrize("stop_reaper", [False, True], ids=["server", "server-and-reaper"])
@pytest.mark.parametrize("language", _LANGUAGES)
def test_a_timed_out_run_ends_and_continues_what_its_block_stopped(
    tmp_path: Path, language: str, stop_reaper: bool
) -> None:
    pid_file = tmp_path / "pids"
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=2) as executor:
        result = executor.execute_code_blocks([_block(language, _stops_then_hangs(pid_file, stop_reaper))])
    assert result.exit_code == 124
    assert "parley continued it" in result.output
    reaper, server = (int(word) for word in pid_file.read_text().split())
    _assert_ended_cleanly(reaper, server)


@pytest.mark.parametrize("stop_reaper", [False, True], ids=["server", "server-and-reaper"])
@pytest.mark.parametrize("language", _LANGUAGES)
async def test_a_dispatcher_closed_during_such_a_run_ends_it_without_its_close_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str, stop_reaper: bool
) -> None:
    """``close()`` returns because the run ended, not because `CLOSE_GRACE_S` ran out (it is set beyond the test)."""
    monkeypatch.setattr(dispatch_module, "CLOSE_GRACE_S", 3600.0)
    pid_file = tmp_path / "pids"
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 300}) as pool:
        dispatcher = ExecutionDispatcher(pool)
        running = asyncio.ensure_future(
            dispatcher.execute("s", [_block(language, _stops_then_hangs(pid_file, stop_reaper))])
        )
        reaper, server = await a_wait_for_pids(pid_file, 2)
        await asyncio.to_thread(_wait_stopped, server)
        await dispatcher.close()
        with pytest.raises(ExecutorError, match="closed while this request ran"):
            await running
        _assert_ended_cleanly(reaper, server)
