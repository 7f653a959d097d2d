"""Live output: every executor hands a running block's output to the listener before the block ends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from parley.coding import CodeBlock
from parley.coding.live_output import listen

from .conftest import MakeExecutor

PRINT_SLEEP_PRINT = "import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second', flush=True)"


@pytest.mark.timeout(90)
async def test_first_line_arrives_while_the_block_still_runs(executor_factory: MakeExecutor) -> None:
    executor: Any = executor_factory(timeout=30)
    pieces: list[str] = []
    first_seen = asyncio.Event()

    def listener(text: str) -> None:
        pieces.append(text)
        if "first" in "".join(pieces):
            first_seen.set()

    try:
        with listen(listener):
            run = asyncio.ensure_future(executor.a_execute_code_blocks([CodeBlock(PRINT_SLEEP_PRINT, "python")]))
        await asyncio.wait_for(first_seen.wait(), 60)
        running_when_first_arrived = not run.done()
        result = await run
    finally:
        await executor.a_close()
    assert running_when_first_arrived
    assert result.exit_code == 0
    assert "".join(pieces).replace("\r", "") == "first\nsecond\n" == result.output


async def test_no_listener_outside_the_with_block(executor_factory: MakeExecutor) -> None:
    executor: Any = executor_factory(timeout=30)
    seen: list[str] = []
    try:
        with listen(seen.append):
            await executor.a_execute_code_blocks([CodeBlock("print('inside')", "python")])
        await executor.a_execute_code_blocks([CodeBlock("print('outside')", "python")])
    finally:
        await executor.a_close()
    assert "".join(seen) == "inside\n"


def test_a_listener_whose_output_is_captured_back_is_not_called_again(tmp_path: Path) -> None:
    """In a notebook, what the console prints is captured into the same budget: no endless echo."""
    from parley.coding._output import OutputBudget

    seen: list[str] = []
    budget: OutputBudget | None = None

    def echo(text: str) -> None:
        seen.append(text)
        assert budget is not None
        budget.feed_text(text)  # the console's print, captured back as the block's output

    with listen(echo):
        budget = OutputBudget(1000, tmp_path / "spill.txt")
    budget.feed_text("hello\n")
    budget.feed_text("again\n")
    assert seen == ["hello\n", "again\n"]
    assert budget.total_chars == 2 * len("hello\nagain\n")
