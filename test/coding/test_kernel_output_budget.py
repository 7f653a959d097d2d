"""The output budget kept inside the kernel: big output on both kernel executors, and output lost on the way.

A kernel behind a Jupyter Kernel Gateway sends its output through the gateway, which drops IOPub
messages over its rate limit (1 MB/s, the server's default, which the test gateway keeps). Before
the kernel kept the budget, a 10 MB write came back as the gateway's notice alone with exit 0.
Each test runs on the local kernel and on one behind the session's real gateway
(``kernel_executor_factory``); the saved file is beside the kernel, in its working directory,
which the test gateway keeps on this machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.coding import CodeBlock, CodeResult

from ._kernel_env import py, run
from .conftest import MakeKernelExecutor

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(120)]

TEN_MB = 10_000_000
BUDGET = 32_000  # the default max_output_chars


def saved_file(result: CodeResult) -> Path:
    """The file the marker names, checked to be the result's full output file, beside the kernel."""
    found = re.findall(r"The full output is in (\S+output_[0-9a-f]{16}\.txt)", result.output)
    assert len(found) == 1, result.output[:2000]
    assert result.full_output_file == found[0]
    assert found[0] in result.output_files
    return Path(found[0])


def assert_cut_in_the_kernel(result: CodeResult, head: str, tail: str) -> Path:
    """Exit 0, head and tail around one marker, all within the budget; return the saved file."""
    assert result.exit_code == 0, result.output[-2000:]
    assert not result.timed_out
    assert len(result.output) <= BUDGET  # head, marker and tail: only the budget crossed the wire
    assert result.output.startswith(head)
    assert result.output.endswith(tail)
    assert "characters cut: the output had" in result.output
    assert "lost" not in result.output
    return saved_file(result)


def test_ten_mb_in_one_write_keeps_head_and_tail_and_saves_it_all(kernel_executor_factory: MakeKernelExecutor) -> None:
    executor = kernel_executor_factory()
    code = "import sys\n_ = sys.stdout.write('<' + 'x' * (10_000_000 - 2) + '>')"
    result = run(executor, py(code))
    saved = assert_cut_in_the_kernel(result, "<xxxx", "xxxx>")
    assert saved.stat().st_size == TEN_MB
    with saved.open("rb") as f:
        assert f.read(5) == b"<xxxx"
        f.seek(-5, 2)
        assert f.read() == b"xxxx>"


def test_100_000_prints_keep_head_and_tail_and_save_them_all(kernel_executor_factory: MakeKernelExecutor) -> None:
    executor = kernel_executor_factory()
    result = run(executor, py("for i in range(100_000):\n    print(f'{i:>99}')"))
    saved = assert_cut_in_the_kernel(result, f"{0:>99}\n{1:>99}\n", f"{99_998:>99}\n{99_999:>99}\n")
    assert saved.stat().st_size == TEN_MB
    assert saved.read_text() == "".join(f"{i:>99}\n" for i in range(100_000))


def test_a_shell_block_printing_ten_mb_is_cut_in_the_kernel(kernel_executor_factory: MakeKernelExecutor) -> None:
    executor = kernel_executor_factory()
    script = "echo start\nhead -c 10000000 /dev/zero | tr '\\0' z\necho\necho end"
    result = run(executor, CodeBlock(script, "bash"))
    saved = assert_cut_in_the_kernel(result, "start\nzzzz", "zzzz\nend\n")
    assert saved.stat().st_size == len("start\n") + TEN_MB + len("\nend\n")


def test_the_saved_copy_stops_at_max_saved_bytes_and_the_result_says_so(
    kernel_executor_factory: MakeKernelExecutor,
) -> None:
    executor = kernel_executor_factory(max_saved_bytes=100_000, max_output_chars=2_000)
    result = run(executor, py("for i in range(1_000_000):\n    print(i)"))
    assert result.exit_code == 0
    assert result.output.endswith("999998\n999999\n")
    assert len(result.output) <= 2_000
    [path] = re.findall(r"The first 100,000 bytes of it are in (\S+output_[0-9a-f]{16}\.txt)", result.output)
    assert "(the saved copy stops at max_saved_bytes, 100,000 bytes)" in result.output
    assert result.full_output_file == path
    assert Path(path).read_text() == "".join(f"{i}\n" for i in range(1_000_000)).encode()[:100_000].decode()


def test_big_output_then_an_error_shows_head_marker_tail_then_the_traceback(
    kernel_executor_factory: MakeKernelExecutor,
) -> None:
    executor = kernel_executor_factory()
    result = run(executor, py("print('x' * 10_000_000)\nprint('last line')\nraise ValueError('after the prints')"))
    assert result.exit_code == 1
    assert len(result.output) <= BUDGET
    marker = result.output.index("characters cut: the output had")
    assert result.output.index("last line\n") > marker
    assert result.output.index("ValueError") > result.output.index("last line\n")
    assert saved_file(result).stat().st_size == TEN_MB + len("\nlast line\n")


def test_the_budget_holds_again_after_restart_and_reset(kernel_executor_factory: MakeKernelExecutor) -> None:
    executor = kernel_executor_factory()
    code = "print('y' * 10_000_000)"
    run(executor, py("%reset -f"))
    assert_cut_in_the_kernel(run(executor, py(code)), "yyyy", "yyyy\n")
    executor.restart()
    assert_cut_in_the_kernel(run(executor, py(code)), "yyyy", "yyyy\n")


def test_the_budget_holds_on_the_kernel_that_replaced_a_dead_one(kernel_executor_factory: MakeKernelExecutor) -> None:
    executor = kernel_executor_factory()
    died = run(executor, py("import os; os._exit(1)"))
    assert "A fresh kernel was started" in died.output
    assert_cut_in_the_kernel(run(executor, py("print('z' * 10_000_000)")), "zzzz", "zzzz\n")
