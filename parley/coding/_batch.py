"""One call to an executor: the blocks in order under one output budget, and the result they make.

Every executor runs a call the same way, whatever runs each block (a process, a container, a
kernel):

- each block's output starts on a line of its own;
- the first block that fails (a nonzero exit code) ends the call;
- the output is cut to ``max_output_chars``, the whole of it (up to ``max_saved_bytes``)
  spilled to ``output_<random hex>.txt`` in ``work_dir`` (see `parley.coding._output`);
- a spill file that cannot be written is an `ExecutorError`, not a result.

`open_batch` holds that once; the executor runs each block that `Batch.blocks` hands it and
`Batch.record` s how it ended::

    with open_batch(work_dir, max_output_chars) as batch:
        for block in batch.blocks(code_blocks):
            batch.record(*await self._run_block(block, work_dir, batch.budget))
    return batch.command_line_result()
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from parley.coding._output import DEFAULT_MAX_SAVED_BYTES, BudgetedOutput, OutputBudget
from parley.coding.base import CodeBlock, CodeResult, CommandLineCodeResult
from parley.exceptions import ExecutorError

__all__ = ["Batch", "create_work_dir", "open_batch"]


def create_work_dir(work_dir: Path) -> None:
    """Create ``work_dir`` and its parents if missing.

    Raises:
        ExecutorError: it cannot be created (the message quotes the OS error).
    """
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExecutorError(f"Cannot create work_dir {work_dir}: {exc}") from exc


class Batch:
    """One call's output budget and how its last block ended; made by `open_batch`.

    Attributes:
        budget: the budget every block writes its output to.
        exit_code: the exit code of the last block run (0 before any).
        timed_out: whether the last block run timed out.
        code_file: the last file a block was written to, or None.
    """

    def __init__(self, budget: OutputBudget) -> None:
        self.budget = budget
        self.exit_code = 0
        self.timed_out = False
        self.code_file: Path | None = None
        self.output: BudgetedOutput | None = None  # set when the batch closes without an error

    def blocks(self, code_blocks: Iterable[CodeBlock]) -> Iterator[CodeBlock]:
        """Yield ``code_blocks`` in order, each starting on a new line, until one has failed.

        A block has failed when `record` was given a nonzero exit code for it.
        """
        for block in code_blocks:
            if not self.budget.ends_with_newline:
                self.budget.feed_text("\n")
            yield block
            if self.exit_code != 0:
                return

    def record(self, exit_code: int, timed_out: bool, code_file: Path | None = None) -> None:
        """Note how the block just run ended, and the file it was written to (if any)."""
        self.exit_code, self.timed_out = exit_code, timed_out
        self.code_file = code_file or self.code_file

    def result(self, files: Sequence[str] = ()) -> CodeResult:
        """The call's result, after `open_batch` has closed.

        Args:
            files: files the blocks produced (images, HTML), listed in ``output_files`` before
                the full output's file.

        Raises:
            RuntimeError: the batch is still open, or closed by an error.
        """
        if self.output is None:
            raise RuntimeError("the batch has no result: it is still open, or it was closed by an error")
        spilled = str(self.output.full_output_file) if self.output.full_output_file else None
        return CodeResult(
            exit_code=self.exit_code,
            output=self.output.text,
            output_files=(*files, spilled) if spilled else tuple(files),
            timed_out=self.timed_out,
            full_output_file=spilled,
        )

    def command_line_result(self) -> CommandLineCodeResult:
        """The call's result with ``code_file``, for a command-line executor; see `result`."""
        result = self.result()
        return CommandLineCodeResult(
            exit_code=result.exit_code,
            output=result.output,
            output_files=result.output_files,
            timed_out=result.timed_out,
            full_output_file=result.full_output_file,
            code_file=str(self.code_file) if self.code_file else None,
        )


@contextmanager
def open_batch(
    work_dir: Path, max_output_chars: int, max_saved_bytes: int = DEFAULT_MAX_SAVED_BYTES
) -> Iterator[Batch]:
    """Collect one call's output under the budget; on leaving, cut it to the budget.

    Args:
        work_dir: the absolute directory the full output is spilled to when it is cut.
        max_output_chars: the output budget in characters (at least 2).
        max_saved_bytes: the most bytes of the full output saved to the spill file (default
            256 MiB); see `OutputBudget`.

    Raises:
        ExecutorError: the output over the budget cannot be saved to its file. Any
            `OSError` raised inside the block is taken for this one: executors report their
            other I/O failures as results.
    """
    spill_path = work_dir / f"output_{os.urandom(8).hex()}.txt"
    batch = Batch(OutputBudget(max_output_chars, spill_path, max_saved_bytes))
    try:
        with batch.budget:
            yield batch
            batch.output = batch.budget.finish()
    except OSError as exc:
        raise ExecutorError(f"Cannot save the output over budget to {spill_path}: {exc}") from exc
