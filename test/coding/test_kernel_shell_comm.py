"""Shell blocks on the embedded kernel: sent to parley's shell comm, with bash started ahead of time.

See parley/coding/jupyter/_shell_comm.py. A block must mean what it meant as a cell running
``bash -c``: the same output and exit code, the kernel's working directory and environment *now*,
its own process (``$$``), stdin closed, its whole tree killed on a timeout.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock
from parley.coding.jupyter import EmbeddedIPythonCodeExecutor

from ._kernel_env import py, require_kernel, run
from ._procs import is_gone

pytestmark = pytest.mark.kernel

SPARES = (
    "import psutil, time\n"
    "def shells():\n"
    "    return [p for p in psutil.Process().children() if p.name() in ('bash', 'sh') and p.status() != 'zombie']\n"
    "waited = time.monotonic() + {wait}\n"  # the spare starts in a thread once the kernel is idle
    "while not shells() and time.monotonic() < waited:\n"
    "    time.sleep(0.01)\n"
    "print(sorted(p.{what} for p in shells()))"
)
NO_SPARE = SPARES.format(wait=0, what="name()")
A_SPARE = SPARES.format(wait=10, what="name()")
SPARE_PIDS = SPARES.format(wait=10, what="pid")


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[EmbeddedIPythonCodeExecutor]:
    require_kernel()
    with EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "work", timeout=20) as made:
        yield made


def bash(code: str) -> CodeBlock:
    return CodeBlock(code, "bash")


def plain(code: str, cwd: Path) -> tuple[int, str]:
    """What ``bash -c code`` prints and returns, run here as the kernel once ran it."""
    done = subprocess.run(
        ["bash", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd
    )
    return (128 - done.returncode if done.returncode < 0 else done.returncode), done.stdout.decode()


def gone(pids: list[int]) -> bool:
    """Wait until none of ``pids`` runs (pytest-timeout bounds the wait)."""
    while not all(is_gone(pid) for pid in pids):
        time.sleep(0.02)
    return True


@pytest.mark.parametrize(
    "code",
    [
        "echo one; echo two >&2; exit 3",
        "echo a\nnot_a_command_here\necho $LINENO",
        "echo a\nif",  # a syntax error: bash's own message, as with bash -c
        "f() { echo $FUNCNAME $LINENO; }\nf",
        'echo "$_" "$BASH_EXECUTION_STRING"',
        "cat; echo stdin=$?",
        "shopt -s extglob\necho @(x|y)",
        "kill -9 $$",
        "trap 'echo got INT' INT; kill -INT $$; echo after",  # SIGINT is not ignored in the block
        "kill -INT $$; echo not reached",
        "printf 'no newline'",
        '  x=1\n\necho "$x" \\\n  two',
    ],
)
def test_a_bash_block_prints_and_returns_what_bash_c_does(executor: EmbeddedIPythonCodeExecutor, code: str) -> None:
    run(executor, bash("true"))  # the next block runs on the bash started ahead of time
    result = run(executor, bash(code))
    expected_code, expected = plain(code, executor.work_dir)
    if '"$_"' in code:  # $_ comes from the environment: the kernel's, not this process's
        expected = result.output
    assert (result.exit_code, result.output) == (expected_code, expected)


def test_a_bash_is_ready_for_the_next_block_and_each_block_is_its_own_process(
    executor: EmbeddedIPythonCodeExecutor,
) -> None:
    assert run(executor, py(NO_SPARE)).output == "[]\n"
    first = run(executor, bash("echo $$"))
    assert run(executor, py(A_SPARE)).output == "['bash']\n"  # started once the kernel was idle again
    second = run(executor, bash("echo $$"))
    assert first.output != second.output
    assert run(executor, py(A_SPARE)).output == "['bash']\n"  # one spare, never more


def test_the_spare_is_not_used_after_the_kernel_changed_directory_or_environment(
    executor: EmbeddedIPythonCodeExecutor, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run(executor, bash("true"))
    moved = run(executor, py(f"import os; os.chdir({str(elsewhere)!r})"), bash("pwd"))
    assert moved.output == f"{elsewhere}\n"
    run(executor, bash("true"))
    changed = run(executor, py("import os; os.environ['PARLEY_TEST_VAR'] = 'new'"), bash("echo $PARLEY_TEST_VAR"))
    assert changed.output == "new\n"
    run(executor, bash("true"))
    removed = run(executor, py("del os.environ['PARLEY_TEST_VAR']"), bash("echo ${PARLEY_TEST_VAR-unset}"))
    assert removed.output == "unset\n"


@pytest.mark.timeout(60)
def test_a_timeout_kills_the_blocks_whole_tree_and_keeps_its_output(tmp_path: Path) -> None:
    require_kernel()
    with EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "work", timeout=2) as executor:
        run(executor, bash("true"))
        result = run(executor, bash("sleep 300 & echo $!; echo started; sleep 300"))
        assert (result.exit_code, result.timed_out) == (124, True)
        lines = result.output.splitlines()
        assert lines[1] == "started"
        assert "KeyboardInterrupt" not in result.output  # no traceback of parley's helper
        assert gone([int(lines[0])])
        assert run(executor, bash("echo after")).output == "after\n"


@pytest.mark.timeout(60)
def test_a_restart_or_close_leaves_no_spare_behind(tmp_path: Path) -> None:
    require_kernel()
    with EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "work", timeout=20) as executor:
        run(executor, bash("true"))
        spares = run(executor, py(SPARE_PIDS))
        before = [int(pid) for pid in spares.output.strip("[]\n").split(",")]
        assert len(before) == 1
        executor.restart()
        assert gone(before)
        assert run(executor, bash("echo fresh")).output == "fresh\n"
        run(executor, bash("true"))
        after = [int(pid) for pid in run(executor, py(SPARE_PIDS)).output.strip("[]\n").split(",")]
    assert len(after) == 1
    assert gone(after)


def test_a_reset_keeps_the_comm_and_a_lost_comm_falls_back_to_a_cell(executor: EmbeddedIPythonCodeExecutor) -> None:
    run(executor, py("%reset -f"))
    assert run(executor, bash("echo kept")).output == "kept\n"
    run(executor, py("get_ipython()._parley_shell_service.comm.close()"))
    result = run(executor, bash("echo as a cell; exit 4"))
    assert (result.exit_code, result.output) == (4, "as a cell\n")


def test_the_output_budget_holds_for_a_block_on_the_spare_and_its_report_stays_with_it(tmp_path: Path) -> None:
    require_kernel()
    with EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "work", timeout=20, max_output_chars=1_000) as executor:
        run(executor, bash("true"))
        result = run(executor, bash("echo start; seq 1 100000; echo end"))
        assert result.exit_code == 0
        assert result.output.startswith("start\n1\n2\n")
        assert result.output.endswith("99999\n100000\nend\n")
        assert len(result.output) <= 1_000
        assert result.full_output_file is not None
        assert Path(result.full_output_file).read_text().splitlines()[-1] == "end"
        after = run(executor, py("print('alone')"))
        assert (after.output, after.full_output_file) == ("alone\n", None)
