"""Run code blocks in an IPython kernel that this executor owns (AutoGen 0.2's ``EmbeddedIPythonCodeExecutor``).

The kernel keeps its state between blocks and calls, as a notebook does: variables, imports and
open files survive until `EmbeddedIPythonCodeExecutor.restart`. Where parley differs from
AutoGen 0.2:

- The constructor starts nothing. The kernel starts at the first run (or `start`, or entering
  the context manager); readiness is awaited once then, not before every run (0.2 loses about
  200 ms a call there). `close` and interpreter exit shut the kernel down.
- A timeout interrupts the kernel: the state and the output printed so far are kept, the exit
  code is 124. 0.2 returned a bare error and left the code running.
- A kernel that dies (``os._exit``, a crash, the OOM killer) is detected and replaced by a fresh
  one, and the result tells the model plainly that its state was lost.
- Shell blocks (``bash``, ``sh``, ``shell``) run as a subprocess started from the kernel, a few
  milliseconds, not through IPython's ``!`` (at least 100 ms). ``!pip install`` and other IPython
  syntax still work in Python blocks. Other languages are refused, never run as Python.
- Errors come back as the kernel's traceback without ANSI colour codes; output has a budget; a
  ``# filename:`` first line saves the block inside ``work_dir`` and paths outside are refused.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from parley._sync import run_sync
from parley.coding._batch import create_work_dir, open_batch
from parley.coding._executor_base import ExecutorBase
from parley.coding._options import check_max_output_chars, check_seconds, check_work_and_output_dirs
from parley.coding._process import TIMEOUT_EXIT_CODE
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.jupyter._blocks import SHELLS, SUPPORTED_LANGUAGES, prepare_block
from parley.coding.jupyter._cell import CellOutcome, run_cell
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._kernel import LocalKernel, describe_exit
from parley.coding.jupyter._shell import shell_cell
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EmbeddedIPythonCodeExecutor"]


def _lost(after: str) -> str:
    return (
        f"All state was lost: variables, imports and open files are gone. {after}: run any setup code "
        "again before relying on earlier results."
    )


class EmbeddedIPythonCodeExecutor(ExecutorBase):
    """Run code blocks statefully in a local IPython kernel (jupyter-client and ipykernel).

    Python blocks (``python``, ``ipython``) run as notebook cells: IPython syntax such as
    ``!pip install x`` and ``%timeit`` works, and the last expression's value is shown. Shell
    blocks run as a subprocess started from the kernel, in its working directory. Blocks run in
    order; the first that fails ends the run.

    Outputs are collected for each block until the kernel is idle: printed text (stdout and
    stderr, interleaved), results and displays as text, errors as the traceback. Images (PNG,
    JPEG, GIF, SVG) and HTML displays are saved to ``output_dir`` and listed in
    ``output_files``. Matplotlib figures come back as PNG displays.

    One kernel serves one call at a time: concurrent calls from one event loop queue up. The
    executor is a sync and async context manager; `close` (or garbage collection, or
    interpreter exit) ends the kernel and everything its code started.

    Needs the ``jupyter`` extra: ``pip install 'parley[jupyter]'``. POSIX only.

    Args:
        timeout: seconds each block may run. Then the kernel is interrupted, keeping its state
            and the output so far, and the result has exit code 124 and ``timed_out=True``.
            Default 60.
        kernel_name: the Jupyter kernel spec to start. Default ``"python3"``.
        output_dir: where images and HTML are saved. Default: ``work_dir`` when given, else the
            current directory (as in AutoGen 0.2). Created when first needed.
        work_dir: the kernel's working directory, where ``# filename:`` blocks are saved and the
            full output goes when it is cut. Default: ``output_dir``. Created at start.
        max_output_chars: the output budget in characters; longer output keeps its head and
            tail, and the whole of it is saved to ``output_<random hex>.txt`` in ``work_dir``.
            Default 32,000.
        startup_timeout: seconds the kernel may take to start and answer. Default 60.

    Raises:
        ConfigError: an argument is invalid (a non-positive or infinite ``timeout``, an empty
            ``kernel_name``, ``max_output_chars`` under 2 ...).
    """

    SUPPORTED_LANGUAGES: ClassVar[tuple[str, ...]] = SUPPORTED_LANGUAGES
    """The languages this executor runs."""

    def __init__(
        self,
        timeout: float = 60,
        kernel_name: str = "python3",
        output_dir: Path | str | None = None,
        *,
        work_dir: Path | str | None = None,
        max_output_chars: int = 32_000,
        startup_timeout: float = 60,
    ) -> None:
        if not isinstance(kernel_name, str) or not kernel_name.strip():
            raise ConfigError(
                f"kernel_name must be a kernel spec name such as 'python3', got {kernel_name!r}.", key="kernel_name"
            )
        self._timeout = check_seconds("timeout", timeout)
        self._startup_timeout = check_seconds("startup_timeout", startup_timeout)
        self._max_output_chars = check_max_output_chars(max_output_chars)
        self._kernel_name = kernel_name
        self._work_dir, self._output_dir = check_work_and_output_dirs(work_dir, output_dir)
        self._extractor = MarkdownCodeExtractor()
        self._kernel: LocalKernel | None = None
        self._finalizer: weakref.finalize[[], EmbeddedIPythonCodeExecutor] | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @property
    def timeout(self) -> float:
        """Seconds each block may run before the kernel is interrupted."""
        return self._timeout

    @property
    def kernel_name(self) -> str:
        """The kernel spec this executor starts."""
        return self._kernel_name

    @property
    def work_dir(self) -> Path:
        """The kernel's working directory, as given."""
        return self._work_dir

    @property
    def output_dir(self) -> Path:
        """Where images and HTML are saved, as given."""
        return self._output_dir

    def _serialised(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _ensure_kernel(self) -> LocalKernel:
        if self._kernel is None:
            work_dir = self._work_dir.absolute()
            create_work_dir(work_dir)
            kernel = LocalKernel(self._kernel_name, work_dir)
            await kernel.start(self._startup_timeout)
            self._kernel = kernel
            # An executor dropped without close() still ends its kernel when it is collected.
            self._finalizer = weakref.finalize(self, kernel.kill)
        return self._kernel

    async def _shutdown_kernel(self) -> bool:
        """Shut the current kernel down, if there is one; return whether there was."""
        kernel, self._kernel = self._kernel, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if kernel is None:
            return False
        await kernel.shutdown()
        return True

    def start(self) -> None:
        """Start the kernel now rather than at the first run; the sync form of `a_start`."""
        run_sync(self.a_start())

    async def a_start(self) -> None:
        """Start the kernel if it is not running, and wait until it is ready.

        Raises:
            ExecutorError: the executor is closed, or ``work_dir`` cannot be created.
            ExecutorUnavailableError: the kernel did not start (the message quotes its log).
            ConfigError: no kernel spec is named ``kernel_name``.
            MissingDependencyError: jupyter-client is not installed.
        """
        self._check_open()
        async with self._serialised():
            await self._ensure_kernel()

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks``; the sync form of `a_execute_code_blocks` (works inside a running loop)."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` in the kernel in order, stopping at the first that fails.

        A failing, refused or timed-out block is a result, not an exception; so is a kernel that
        died (the result says its state was lost). Calls are served one at a time. Cancelling the
        awaiting task interrupts the kernel.

        Args:
            code_blocks: the blocks to run.

        Returns:
            One result for all blocks: the exit code of the last block run (0 when all
            succeeded, 1 for an error or a refused block, a shell block's own exit code, 124 on
            a timeout); their output, concatenated and cut to the budget; ``output_files``, the
            saved images and HTML, then the full output's file when it was cut.

        Raises:
            ExecutorError: the executor was closed, ``work_dir`` cannot be created, or the
                output over the budget cannot be saved.
            ExecutorUnavailableError: the kernel did not start.
            ConfigError: no kernel spec is named ``kernel_name``.
            MissingDependencyError: jupyter-client is not installed.
        """
        self._check_open()
        async with self._serialised():
            died = await (await self._ensure_kernel()).exit_status()
            work_dir = self._work_dir.absolute()
            with open_batch(work_dir, self._max_output_chars) as batch:
                collector = OutputCollector(batch.budget, self._output_dir)
                if died is not None:  # between runs: killed from outside, or the OOM killer
                    await self._replace_dead(collector, died)
                for block in batch.blocks(code_blocks):
                    batch.record(*await self._run_block(block, work_dir, collector))
        return batch.result(collector.files)

    async def _run_block(self, block: CodeBlock, work_dir: Path, collector: OutputCollector) -> tuple[int, bool]:
        lang, refusal = prepare_block(block, work_dir)
        if refusal is not None:
            collector.line(refusal)
            return 1, False
        shell = lang in SHELLS
        cell = shell_cell(block.code, SHELLS[lang]) if shell else block.code
        outcome = await run_cell(await self._ensure_kernel(), cell, collector, timeout=self._timeout, shell=shell)
        if outcome.died is not None and not outcome.started:  # it never ran: run it on a fresh kernel
            await self._replace_dead(collector, outcome.died)
            outcome = await run_cell(await self._ensure_kernel(), cell, collector, timeout=self._timeout, shell=shell)
        return await self._settle(outcome, collector)

    async def _replace_dead(self, collector: OutputCollector, status: int) -> None:
        """The kernel died between runs: start a fresh one and say state was lost.

        Raises:
            ExecutorUnavailableError: the fresh kernel did not start.
        """
        after = await self._fresh_kernel(strict=True)
        collector.line(f"The kernel had died since the last run ({describe_exit(status)}). {_lost(after)}")

    async def _settle(self, outcome: CellOutcome, collector: OutputCollector) -> tuple[int, bool]:
        """Tell the model how the cell ended, replacing a dead or wedged kernel; return (exit code, timed out)."""
        if outcome.wedged:
            after = await self._fresh_kernel(strict=False)
            collector.line(
                f"Timed out after {self._timeout:g} s, and the kernel did not stop when interrupted, so it "
                f"was replaced. {_lost(after)}"
            )
            return TIMEOUT_EXIT_CODE, True
        if outcome.died is not None:
            after = await self._fresh_kernel(strict=False)
            how = describe_exit(outcome.died)
            collector.line(f"The kernel died ({how}) while running this block. {_lost(after)}")
            return (128 - outcome.died if outcome.died < 0 else outcome.died or 1), False
        if outcome.timed_out:
            collector.line(
                f"Timed out after {self._timeout:g} s; the kernel was interrupted. Its state (variables, "
                "imports) is kept."
            )
            return TIMEOUT_EXIT_CODE, True
        if outcome.aborted:
            collector.line("Not run: the kernel aborted this block without running it.")
        return outcome.exit_code, False

    async def _fresh_kernel(self, *, strict: bool) -> str:
        """Replace the kernel by a fresh one; return the sentence that says how that went.

        Raises:
            ExecutorUnavailableError: with ``strict``, the fresh kernel did not start (without
                it, the failure is in the sentence and the next run tries again).
        """
        await self._shutdown_kernel()
        try:
            await self._ensure_kernel()
        except Exception as exc:
            if strict:
                raise
            return f"A fresh kernel could not be started ({exc}); the next run will try again"
        return "A fresh kernel was started"

    def _instructions(self) -> str:
        from parley.prompts import IPYTHON_EXECUTOR_INSTRUCTIONS

        return IPYTHON_EXECUTOR_INSTRUCTIONS.format(
            work_dir=os.path.abspath(self._work_dir),
            output_dir=os.path.abspath(self._output_dir),
            timeout=f"{self._timeout:g}",
            max_output_chars=f"{self._max_output_chars:,}",
        )

    def restart(self) -> None:
        """Restart the kernel, wiping its state; the sync form of `a_restart`."""
        run_sync(self.a_restart())

    async def a_restart(self) -> None:
        """Replace a running kernel by a fresh one (variables and imports are gone).

        Files in ``work_dir`` are kept. When no kernel runs yet, there is nothing to wipe and
        nothing starts.

        Raises:
            ExecutorError: the executor is closed.
            ExecutorUnavailableError: the fresh kernel did not start.
        """
        self._check_open()
        async with self._serialised():
            if await self._shutdown_kernel():
                await self._ensure_kernel()

    def close(self) -> None:
        """Shut the kernel down (it gets up to 1 s, then its process tree is killed). Idempotent."""
        run_sync(self.a_close())

    async def a_close(self) -> None:
        """Async form of `close`."""
        self._closed = True
        await self._shutdown_kernel()

    def __enter__(self) -> Self:
        self.start()
        return self

    async def __aenter__(self) -> Self:
        await self.a_start()
        return self
