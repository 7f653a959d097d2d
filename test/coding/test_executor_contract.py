"""Semantics every executor shares, run against each one through the ``executor_factory`` fixture.

Only behaviour stated in DESIGN.md ("Execution semantics") belongs here; executor-specific
details (exact exit codes, file names) are tested in each executor's own module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.coding import CodeBlock, CodeExecutor

from .conftest import MakeExecutor


def py(code: str) -> CodeBlock:
    return CodeBlock(code, "python")


def run(executor: CodeExecutor, *blocks: CodeBlock) -> tuple[int, str]:
    result = executor.execute_code_blocks(list(blocks))
    return result.exit_code, result.output


def test_is_a_code_executor(executor_factory: MakeExecutor) -> None:
    executor = executor_factory()
    assert isinstance(executor, CodeExecutor)
    assert executor.code_extractor.extract_code_blocks("```python\nprint(1)\n```") == [py("print(1)")]


def test_printed_output_comes_back(executor_factory: MakeExecutor) -> None:
    assert run(executor_factory(), py("print('hello, world')")) == (0, "hello, world\n")


def test_failing_block_is_a_result_with_nonzero_exit_code(executor_factory: MakeExecutor) -> None:
    exit_code, output = run(executor_factory(), py("print('before')\nraise ValueError('boom')"))
    assert exit_code != 0
    assert "before" in output
    assert "ValueError" in output
    assert "boom" in output


def test_multiple_blocks_run_in_order_and_stop_at_the_first_failure(executor_factory: MakeExecutor) -> None:
    exit_code, output = run(
        executor_factory(),
        py("print('one')"),
        py("print('two')"),
        py("raise SystemExit(2)"),
        py("print('four')"),
    )
    assert exit_code != 0
    assert output.index("one") < output.index("two")
    assert "four" not in output


@pytest.mark.timeout(30)
def test_timeout_gives_124_and_keeps_partial_output(executor_factory: MakeExecutor) -> None:
    executor = executor_factory(timeout=1)
    result = executor.execute_code_blocks([py("import time\nprint('partial', flush=True)\ntime.sleep(60)")])
    assert result.exit_code == 124
    assert result.timed_out
    assert "partial" in result.output
    assert "Timeout after 1 s" in result.output


def test_output_budget_keeps_head_and_tail_and_saves_the_rest(executor_factory: MakeExecutor) -> None:
    executor = executor_factory(max_output_chars=1000)
    code = "print('HEAD')\nfor i in range(20_000):\n    print(i)\nprint('TAIL')"
    result = executor.execute_code_blocks([py(code)])
    assert result.exit_code == 0
    assert result.output.startswith("HEAD\n")
    assert result.output.endswith("TAIL\n")
    assert len(result.output) < 1000 + 400
    assert "characters cut" in result.output
    assert result.full_output_file is not None
    assert result.full_output_file in result.output_files
    full = Path(result.full_output_file).read_text()
    assert full.startswith("HEAD\n0\n1\n")
    assert "\n19999\nTAIL\n" in full


def test_small_output_is_not_cut(executor_factory: MakeExecutor) -> None:
    result = executor_factory(max_output_chars=1000).execute_code_blocks([py("print('x' * 900)")])
    assert result.output == "x" * 900 + "\n"
    assert result.full_output_file is None


@pytest.mark.parametrize("absolute", [False, True])
def test_files_outside_work_dir_are_refused(executor_factory: MakeExecutor, tmp_path: Path, absolute: bool) -> None:
    executor = executor_factory(work_dir=tmp_path / "work")
    name = str(tmp_path / "outside.py") if absolute else "../outside.py"
    exit_code, output = run(executor, py(f"# filename: {name}\nprint('ran')"))
    assert exit_code != 0
    assert "outside" in output
    assert "ran" not in output
    assert not (tmp_path / "outside.py").exists()


@pytest.mark.parametrize(("language", "code"), [("json", '{"a": 1}'), ("yaml", "a: 1"), ("text", "hello")])
def test_unsupported_languages_are_not_executed(executor_factory: MakeExecutor, language: str, code: str) -> None:
    exit_code, output = run(executor_factory(), CodeBlock(code, language))
    assert exit_code != 0
    assert language in output
    assert "python" in output  # names what it does run
