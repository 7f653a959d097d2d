"""Soak: thousands of blocks leave nothing behind (no file descriptor, thread or child process grows).

After a warm-up, the executor runs a mix of blocks that stress what could leak: plain output,
failures, background processes and double forks that the block leaves running, output over the
budget, and timeouts. The process's open file descriptors, its threads and its child processes
must be exactly as many after the soak as after the warm-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from parley.coding import CodeBlock, CodeExecutor, LocalCommandLineCodeExecutor

from ._kernel_env import require_kernel


def footprint() -> tuple[int, int, int]:
    """(open file descriptors, threads, child processes) of this process."""
    me = psutil.Process()
    return len(os.listdir("/proc/self/fd")), threading.active_count(), len(me.children(recursive=True))


_MIX: list[CodeBlock] = [
    CodeBlock("print('hello')", "python"),
    CodeBlock("raise SystemExit(3)", "python"),
    CodeBlock("sleep 1000 &\necho left a sleeper", "bash"),
    CodeBlock(
        "import os\nif os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '1000'])\nprint('forked')",
        "python",
    ),
    CodeBlock("print('x' * 5000)", "python"),
    CodeBlock("echo $((6 * 7))", "bash"),
]


def soak(executor: CodeExecutor, blocks: int, every_timeout: int, slow: Callable[[], CodeBlock]) -> None:
    for i in range(blocks):
        block = slow() if every_timeout and i % every_timeout == every_timeout - 1 else _MIX[i % len(_MIX)]
        result = executor.execute_code_blocks([block])
        assert result.exit_code in (0, 3, 124), result.output


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_2000_local_blocks_leave_nothing_behind(tmp_path: Path) -> None:
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=1, max_output_chars=1000) as executor:
        soak(executor, 60, 0, lambda: _MIX[0])
        before = footprint()
        soak(executor, 2000, 250, lambda: CodeBlock("import time\ntime.sleep(5)", "python"))
        after = footprint()
    assert all(a <= b for a, b in zip(after, before, strict=True)), (
        f"(fds, threads, children) grew from {before} to {after}"
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_300_kernel_blocks_leave_nothing_behind(tmp_path: Path) -> None:
    require_kernel()
    from parley.coding.jupyter import EmbeddedIPythonCodeExecutor

    kernel_mix = [
        CodeBlock("print('hello')", "python"),
        CodeBlock("x = [i for i in range(1000)]\nlen(x)", "python"),
        CodeBlock("raise ValueError('boom')", "python"),
        CodeBlock("echo $((6 * 7))", "bash"),
        CodeBlock("print('y' * 5000)", "python"),
    ]
    with EmbeddedIPythonCodeExecutor(work_dir=tmp_path, timeout=2, max_output_chars=1000) as executor:
        for block in kernel_mix * 4:
            executor.execute_code_blocks([block])
        before = footprint()
        for i in range(300):
            result = executor.execute_code_blocks([kernel_mix[i % len(kernel_mix)]])
            assert result.exit_code in (0, 1), result.output
        after = footprint()
    assert all(a <= b for a, b in zip(after, before, strict=True)), (
        f"(fds, threads, children) grew from {before} to {after}"
    )
