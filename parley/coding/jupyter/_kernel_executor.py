"""What the two executors that own a kernel share: one kernel, started late, serving one call at a time.

`KernelExecutor` is the base of `EmbeddedIPythonCodeExecutor` (a local kernel process) and
`JupyterCodeExecutor` (a kernel on a Jupyter Kernel Gateway). Everything about running blocks
is the same for both, and written here once:

- The kernel starts at the first run (or `KernelExecutor.start`, or entering the context
  manager), never in the constructor. Calls are served one at a time per event loop.
- Each block runs as a cell (`parley.coding.jupyter._cell.run_cell`); shell blocks through the
  subprocess helper (`parley.coding.jupyter._shell`), defined by the first shell block a kernel
  runs and only called after that. The first block that fails ends the call.
- A timeout interrupts the kernel and keeps its state; a kernel that does not stop, or that died,
  is replaced by a fresh one, and the model is told plainly that all state was lost.

A subclass says how to start its kernel (`KernelExecutor._new_kernel`), how a ``# filename:``
block is saved (`KernelExecutor._save_named`) and what the model is told
(`KernelExecutor._instructions`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from parley._logging import get_logger
from parley._sync import run_sync
from parley.coding._batch import open_batch
from parley.coding._executor_base import ExecutorBase
from parley.coding._options import (
    check_max_output_chars,
    check_max_saved_bytes,
    check_seconds,
    check_work_and_output_dirs,
)
from parley.coding._process import TIMEOUT_EXIT_CODE
from parley.coding.approval import Approve, check_approve
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.jupyter._blocks import SHELLS, SUPPORTED_LANGUAGES, block_source, language_refusal
from parley.coding.jupyter._cell import CellOutcome, KernelChannel, run_cell
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._limit import SETUP_PAYLOAD_SOURCE, install_call, lost_output_note
from parley.coding.jupyter._shell import shell_call, shell_cell
from parley.coding.jupyter._shell_comm import CommChannel, comm_request, service_setup
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.coding.utils import normalize_lang
from parley.exceptions import ConfigError, ExecutorUnavailableError

_log = get_logger("parley.coding.jupyter")

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["KernelExecutor", "OwnedKernel"]


class OwnedKernel(KernelChannel, Protocol):
    """A kernel an executor started and must end: a `KernelChannel` that can also be shut down."""

    async def shutdown(self) -> None:
        """End the kernel, politely first. Idempotent."""
        ...

    def kill(self) -> None:
        """End the kernel now, from any thread, without an event loop. Idempotent."""
        ...

    def describe_exit(self, status: int) -> str:
        """How the kernel ended, for the model: ``exit status 1``, ``killed by SIGKILL`` ..."""
        ...

    def ran_after_death(self) -> bool:
        """After `shutdown`: whether the request sent as the kernel died ran anyway (in a kernel restarted for it)."""
        ...


def _lost(after: str) -> str:
    return (
        f"All state was lost: variables, imports and open files are gone. {after}: run any setup code "
        "again before relying on earlier results."
    )


class KernelExecutor(ExecutorBase):
    """Run code blocks statefully in one kernel that this executor starts, replaces and ends.

    Args:
        timeout: seconds each block may run before the kernel is interrupted.
        kernel_name: the Jupyter kernel spec to start.
        work_dir: the executor's working directory (see each subclass for what lives there).
        output_dir: where images and HTML are saved.
        max_output_chars: the output budget in characters, enforced in the kernel for each
            block's printed text and here for each call's output.
        max_saved_bytes: the most bytes of a block's output the kernel saves to its file.
        startup_timeout: seconds a kernel may take to start and answer.
        approve: the approval step run before each call's blocks (see
            `parley.coding.approval`): a callable, ``"human"``, or None for none.

    Raises:
        ConfigError: an argument is invalid (a non-positive or infinite ``timeout``, an empty
            ``kernel_name``, ``max_output_chars`` under 2, a negative ``max_saved_bytes`` ...).
    """

    SUPPORTED_LANGUAGES: ClassVar[tuple[str, ...]] = SUPPORTED_LANGUAGES
    """The languages this executor runs."""

    _SAVED_WHERE: ClassVar[str] = ""
    """What follows a file's path, in the text, to say which machine the kernel saved it on."""

    def __init__(
        self,
        *,
        timeout: float,
        kernel_name: str,
        work_dir: Path | str | None,
        output_dir: Path | str | None,
        max_output_chars: int,
        max_saved_bytes: int,
        startup_timeout: float,
        approve: Approve | str | None = None,
    ) -> None:
        self._approve = check_approve(approve)
        if not isinstance(kernel_name, str) or not kernel_name.strip():
            raise ConfigError(
                f"kernel_name must be a kernel spec name such as 'python3', got {kernel_name!r}.", key="kernel_name"
            )
        self._timeout = check_seconds("timeout", timeout)
        self._startup_timeout = check_seconds("startup_timeout", startup_timeout)
        self._max_output_chars = check_max_output_chars(max_output_chars)
        self._max_saved_bytes = check_max_saved_bytes(max_saved_bytes)
        self._kernel_name = kernel_name
        self._work_dir, self._output_dir = check_work_and_output_dirs(work_dir, output_dir)
        self._extractor = MarkdownCodeExtractor()
        self._kernel: OwnedKernel | None = None
        self._shell_kernel: OwnedKernel | None = None  # the kernel the shell helper was defined on
        self._shell_comm: tuple[OwnedKernel, str] | None = None  # the kernel with parley's shell comm, and its id
        self._finalizer: weakref.finalize[[], KernelExecutor] | None = None
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
        """The working directory, as given."""
        return self._work_dir

    @property
    def output_dir(self) -> Path:
        """Where images and HTML are saved, as given."""
        return self._output_dir

    # --- what a subclass provides -----------------------------------------------------------------

    async def _new_kernel(self) -> OwnedKernel:
        """Start a kernel and return it once it is ready to execute."""
        raise NotImplementedError

    async def _save_named(self, code: str, work_dir: Path, collector: OutputCollector) -> tuple[int, bool] | None:
        """Save a block whose first line is ``# filename: <name>``; do nothing for other blocks.

        Returns:
            None when the block may run; else ``(exit code, timed out)`` for a block that must
            not run, after telling the model why through ``collector``.
        """
        raise NotImplementedError

    # --- the kernel's life ------------------------------------------------------------------------

    def _serialised(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _setup_source(self) -> str:
        """Source a subclass adds to the setup cell each new kernel runs once, silently (default: none)."""
        return ""

    async def _prepare(self, kernel: OwnedKernel) -> None:
        """Run the setup cell on a new kernel: the output budget (`parley.coding.jupyter._limit`) and more.

        Raises:
            ExecutorUnavailableError: the kernel did not run it (not a Python kernel, or no answer).
        """
        cell = install_call(self._max_output_chars, self._max_saved_bytes, self._SAVED_WHERE) + self._setup_source()
        comm_id = f"parley-shell-{uuid.uuid4().hex}"
        if isinstance(kernel, CommChannel):
            cell += service_setup(comm_id)
        reply = await kernel.reply(await kernel.execute(cell, silent=True), self._startup_timeout)
        content = reply.get("content", {}) if reply is not None else {}
        if content.get("status") != "ok":
            why = (
                f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
                if reply is not None
                else f"no answer within {self._startup_timeout:g} s"
            )
            raise ExecutorUnavailableError(
                f"The kernel {self._kernel_name!r} did not run parley's setup cell ({why}). The kernel must be a "
                "Python (ipykernel) kernel; pass kernel_name= one."
            )
        for entry in content.get("payload") or []:
            if isinstance(entry, dict) and entry.get("source") == SETUP_PAYLOAD_SOURCE and not entry.get("limited"):
                raise ExecutorUnavailableError(
                    f"The kernel {self._kernel_name!r} cannot keep its output within the budget ({entry.get('why')}): "
                    "its sys.stdout and sys.stderr are not ipykernel's streams. Use an ipykernel kernel."
                )
        if isinstance(kernel, CommChannel):
            self._shell_comm = (kernel, comm_id)

    async def _ensure_kernel(self) -> OwnedKernel:
        if self._kernel is None:
            kernel = await self._new_kernel()
            try:
                await self._prepare(kernel)
            except BaseException:
                await kernel.shutdown()
                raise
            self._kernel = kernel
            _log.debug("%s: kernel started", type(self).__name__)
            # An executor dropped without close() still ends its kernel when it is collected.
            self._finalizer = weakref.finalize(self, kernel.kill)
        return self._kernel

    async def _end_processes(self, kernel: OwnedKernel) -> None:
        """End what the code started before a responsive kernel is shut down (default: the kernel's shutdown does)."""

    async def _shutdown_kernel(self, *, responsive: bool = True) -> bool:
        """Shut the current kernel down, if there is one; return whether there was.

        Args:
            responsive: the kernel may still run a cell (it is not known to be wedged), so
                `_end_processes` is tried first.
        """
        kernel, self._kernel, self._shell_kernel, self._shell_comm = self._kernel, None, None, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if kernel is None:
            return False
        try:
            if responsive:
                await self._end_processes(kernel)
        finally:
            await kernel.shutdown()
            _log.debug("%s: kernel shut down", type(self).__name__)
        return True

    def start(self) -> None:
        """Start the kernel now rather than at the first run; the sync form of `a_start`."""
        run_sync(self.a_start())

    async def a_start(self) -> None:
        """Start the kernel if it is not running, and wait until it is ready.

        Raises:
            ExecutorError: the executor is closed, or ``work_dir`` cannot be created.
            ExecutorUnavailableError: the kernel did not start, or its server cannot be reached.
            ConfigError: the kernel spec ``kernel_name`` is unknown, or a server rejected the token.
            MissingDependencyError: the ``jupyter`` extra is not installed.
        """
        self._check_open()
        async with self._serialised():
            await self._ensure_kernel()

    # --- running blocks ---------------------------------------------------------------------------

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
            ExecutorUnavailableError: the kernel did not start, or its server cannot be reached.
            ConfigError: the kernel spec ``kernel_name`` is unknown, or a server rejected the token.
            MissingDependencyError: the ``jupyter`` extra is not installed.
        """
        self._check_open()
        refused = await self._refusal(code_blocks)
        if refused is not None:
            return CodeResult(exit_code=1, output=refused)
        async with self._serialised():
            kernel = await self._ensure_kernel()
            died = await kernel.exit_status()
            work_dir = self._work_dir.absolute()
            with open_batch(work_dir, self._max_output_chars) as batch:
                collector = OutputCollector(batch.budget, self._output_dir)
                if died is not None:  # between runs: killed from outside, or the OOM killer
                    await self._replace_dead(kernel, collector, died)
                for block in batch.blocks(code_blocks):
                    batch.record(*await self._run_block(block, work_dir, collector))
        return self._result(batch.result([*collector.files, *collector.saved_outputs]), collector.saved_outputs)

    def _result(self, result: CodeResult, saved: Sequence[str]) -> CodeResult:
        """Name the kernel's saved files in the result: as the full output's file, or in a line of their own.

        When only the kernel cut the output, the last file it saved is the full output's file. When
        this side cut the call's output too, its own file holds the kernel's markers; the kernel's
        files are named again at the end, as that file may be on another machine than the kernel.
        """
        if not saved:
            return result
        if result.full_output_file is None:
            return dataclasses.replace(result, full_output_file=saved[-1])
        missing = [path for path in saved if path not in result.output]
        if not missing:
            return result
        line = f"[The full output of the blocks cut in the kernel is in {', '.join(missing)}{self._SAVED_WHERE}.]\n"
        return dataclasses.replace(result, output=result.output + ("" if result.output.endswith("\n") else "\n") + line)

    async def _run_block(self, block: CodeBlock, work_dir: Path, collector: OutputCollector) -> tuple[int, bool]:
        lang = normalize_lang(block.language)
        refusal = language_refusal(lang)
        if refusal is not None:
            collector.line(refusal)
            return 1, False
        code = block_source(block.code, lang)
        stopped = await self._save_named(code, work_dir, collector)
        if stopped is not None:
            return stopped
        if lang in SHELLS:
            return await self._run_shell(code, SHELLS[lang], collector)
        return await self._run_cell(code, collector, shell=False)

    async def _run_shell(self, code: str, shell: str, collector: OutputCollector) -> tuple[int, bool]:
        """Run a shell block: through parley's shell comm when the kernel has one, else as a cell.

        The comm (`parley.coding.jupyter._shell_comm`) skips IPython's cell machinery and may use a
        bash started ahead of time. When it does not answer, or the kernel died before taking
        the block, the block runs as a cell, where a dead kernel is replaced. As a cell: only
        the helper's call when this kernel has the helper, else the cell that defines it. The
        call is a tenth of the defining cell, and a cell's size costs every block. When the
        helper is gone all the same (a ``%reset``), the call does nothing but fail, and the
        defining cell runs in its place.
        """
        kernel = await self._ensure_kernel()
        if self._shell_comm is not None and self._shell_comm[0] is kernel:
            comm = (self._shell_comm[1], comm_request(code, shell))
            outcome = await run_cell(kernel, "", collector, timeout=self._timeout, shell=True, comm=comm)
            if outcome.missing_helper:
                self._shell_comm = None  # the kernel lost it: cells from now on
            elif outcome.started or outcome.died is None:
                return await self._settle(kernel, outcome, collector)
        quick = self._kernel is not None and self._shell_kernel is self._kernel
        attempt = await self._attempt(shell_call(code, shell) if quick else shell_cell(code, shell), collector, True)
        if attempt is not None and attempt[1].missing_helper:
            attempt = await self._attempt(shell_cell(code, shell), collector, True)
        if attempt is None:
            return 1, False
        kernel, outcome = attempt
        if outcome.died is None and not outcome.wedged and not outcome.missing_helper:
            self._shell_kernel = kernel
        return await self._settle(kernel, outcome, collector)

    async def _run_cell(self, cell: str, collector: OutputCollector, shell: bool) -> tuple[int, bool]:
        """Run one cell; return (exit code, timed out).

        When the kernel died before the cell was seen to start, it is deleted and the cell runs
        on a fresh kernel, unless the cell reached the kernel after all (a gateway may hand it to
        the kernel it restarted; see `OwnedKernel.ran_after_death`): a cell never runs twice.
        """
        attempt = await self._attempt(cell, collector, shell)
        if attempt is None:
            return 1, False
        return await self._settle(*attempt, collector)

    async def _attempt(
        self, cell: str, collector: OutputCollector, shell: bool
    ) -> tuple[OwnedKernel, CellOutcome] | None:
        """Run one cell, on a fresh kernel if the current one died before taking it; return the kernel and outcome.

        None when the cell reached a kernel that the gateway restarted and that was then deleted: it
        is not run again, and the output already says so.
        """
        kernel = await self._ensure_kernel()
        outcome = await run_cell(kernel, cell, collector, timeout=self._timeout, shell=shell)
        if outcome.died is not None and not outcome.started:
            await self._replace_dead(kernel, collector, outcome.died)  # the old kernel is deleted first
            if kernel.ran_after_death():
                collector.line(
                    "This block reached the kernel the gateway restarted, which was then deleted: it was not run "
                    "again. Its output is lost; files it wrote may be there."
                )
                return None
            kernel = await self._ensure_kernel()
            outcome = await run_cell(kernel, cell, collector, timeout=self._timeout, shell=shell)
        return kernel, outcome

    async def _replace_dead(self, kernel: OwnedKernel, collector: OutputCollector, status: int) -> None:
        """The kernel died between runs: start a fresh one and say state was lost.

        Raises:
            ExecutorUnavailableError: the fresh kernel did not start.
        """
        how = kernel.describe_exit(status)
        after = await self._fresh_kernel(why=f"it died between runs ({how})", strict=True)
        collector.line(f"The kernel had died since the last run ({how}). {_lost(after)}")

    async def _settle(self, kernel: OwnedKernel, outcome: CellOutcome, collector: OutputCollector) -> tuple[int, bool]:
        """Tell the model how the cell ended, replacing a dead or wedged kernel; return (exit code, timed out)."""
        if outcome.report is not None and outcome.report.saved is not None:
            collector.saved_outputs.append(outcome.report.saved)
        lost = lost_output_note(outcome.report, outcome.received, outcome.dropped)
        if lost is not None:
            collector.line(lost)
        if outcome.wedged:
            after = await self._fresh_kernel(
                why="a timed-out block did not stop when interrupted", strict=False, responsive=False
            )
            collector.line(
                f"Timeout after {self._timeout:g} s, and the kernel did not stop when interrupted, so it "
                f"was replaced. {_lost(after)}"
            )
            return TIMEOUT_EXIT_CODE, True
        if outcome.died is not None:
            how = kernel.describe_exit(outcome.died)
            after = await self._fresh_kernel(why=f"it died while running a block ({how})", strict=False)
            collector.line(f"The kernel died ({how}) while running this block. {_lost(after)}")
            return (128 - outcome.died if outcome.died < 0 else outcome.died or 1), False
        if outcome.lost_connection is not None:
            collector.line(
                f"Interrupted by a lost connection: {outcome.lost_connection}. The connection was restored and the "
                "kernel interrupted; its state (variables, imports) is kept, but this block's output after the drop "
                "is lost and it may not have finished. It was not run again: check what it did before running it again."
            )
            return 1, False
        if outcome.timed_out:
            collector.line(
                f"Timeout after {self._timeout:g} s; the kernel was interrupted. Its state (variables, "
                "imports) is kept."
            )
            return TIMEOUT_EXIT_CODE, True
        if outcome.aborted:
            collector.line("Not run: the kernel aborted this block without running it.")
        return outcome.exit_code, False

    async def _fresh_kernel(self, *, why: str, strict: bool, responsive: bool = True) -> str:
        """Replace the kernel by a fresh one; return the sentence that says how that went.

        Raises:
            ExecutorUnavailableError: with ``strict``, the fresh kernel did not start (without
                it, the failure is in the sentence and the next run tries again).
        """
        _log.info("%s: restarting the kernel: %s", type(self).__name__, why)
        await self._shutdown_kernel(responsive=responsive)
        try:
            await self._ensure_kernel()
        except Exception as exc:
            if strict:
                raise
            return f"A fresh kernel could not be started ({exc}); the next run will try again"
        return "A fresh kernel was started"

    # --- restart and close ------------------------------------------------------------------------

    def restart(self) -> None:
        """Restart the kernel, wiping its state; the sync form of `a_restart`."""
        run_sync(self.a_restart())

    async def a_restart(self) -> None:
        """Replace a running kernel by a fresh one (variables and imports are gone).

        Files the code wrote are kept. When no kernel runs yet, there is nothing to wipe and
        nothing starts.

        Raises:
            ExecutorError: the executor is closed.
            ExecutorUnavailableError: the fresh kernel did not start.
        """
        self._check_open()
        async with self._serialised():
            if await self._shutdown_kernel():
                _log.info("%s: restarting the kernel: restart() was called", type(self).__name__)
                await self._ensure_kernel()

    def close(self) -> None:
        """End the kernel and refuse further runs; the sync form of `a_close`. Idempotent."""
        run_sync(self.a_close())

    async def a_close(self) -> None:
        """End the kernel (see the executor's class docstring for how) and refuse further runs. Idempotent."""
        self._closed = True
        await self._shutdown_kernel()

    def __enter__(self) -> Self:
        self.start()
        return self

    async def __aenter__(self) -> Self:
        await self.a_start()
        return self
