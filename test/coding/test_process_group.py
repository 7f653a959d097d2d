"""run_in_process_group: the runner under every command-line executor, used directly."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from parley.coding._process import ProcessRegistry, ProcessResult, ProcessStartError, run_in_process_group

from ._procs import hang_with_grandchild, is_gone, wait_for_pids


async def run_python(
    code: str, tmp_path: Path, *, timeout: float = 30, registry: ProcessRegistry | None = None
) -> tuple[ProcessResult, bytes]:
    chunks: list[bytes] = []
    result = await run_in_process_group(
        [sys.executable, "-u", "-c", code],
        cwd=tmp_path,
        env=None,
        timeout=timeout,
        on_output=chunks.append,
        registry=registry,
    )
    return result, b"".join(chunks)


async def test_exit_code_and_merged_output(tmp_path: Path) -> None:
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(7)"
    result, output = await run_python(code, tmp_path)
    assert result == ProcessResult(exit_code=7, timed_out=False)
    assert output == b"out\nerr\n"


async def test_runs_in_cwd_with_stdin_closed(tmp_path: Path) -> None:
    result, output = await run_python("import os, sys\nprint(os.getcwd())\nprint(repr(sys.stdin.read()))", tmp_path)
    assert result.exit_code == 0
    assert output.decode().splitlines() == [str(tmp_path), "''"]


async def test_missing_program_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError, match="cannot start '/nonexistent/program'") as info:
        await run_in_process_group(
            ["/nonexistent/program"], cwd=tmp_path, env=None, timeout=5, on_output=lambda _: None
        )
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.timeout(30)
async def test_an_error_in_on_output_kills_the_tree_and_propagates(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"

    def explode(chunk: bytes) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await run_in_process_group(
            [sys.executable, "-c", hang_with_grandchild(pid_file)],
            cwd=tmp_path,
            env=None,
            timeout=60,
            on_output=explode,
        )
    assert all(is_gone(pid) for pid in wait_for_pids(pid_file, 2))


@pytest.mark.timeout(30)
def test_registry_kill_all_from_another_thread(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    registry = ProcessRegistry()
    results: list[ProcessResult] = []

    def run() -> None:
        result, _ = asyncio.run(run_python(hang_with_grandchild(pid_file), tmp_path, timeout=60, registry=registry))
        results.append(result)

    thread = threading.Thread(target=run)
    thread.start()
    pids = wait_for_pids(pid_file, 2)
    registry.kill_all()
    assert all(is_gone(pid) for pid in pids)
    thread.join()
    assert results == [ProcessResult(exit_code=128 + 9, timed_out=False, reaper_killed=True)]
    registry.kill_all()  # nothing left to kill
