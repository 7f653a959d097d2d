"""Run code blocks in the user's own IPython kernel: the notebook the agents are chatting in.

Agent code runs as a cell of the current IPython shell (``IPython.get_ipython()``), in the user's
namespace: variables the agent defines are there for the user's next cells, and the agent's code
sees the user's variables. Its outputs render in the notebook as they happen (under the cell
that started the chat) and also come back in the result.

How it fits parley's sync-over-async rule. Running a cell cannot be moved off the interpreter
it runs in, so the work is one *sync* method, `NotebookCodeExecutor.execute_code_blocks`, which
runs the blocks in the calling thread; `a_execute_code_blocks` calls it directly (no thread
hop), so the event loop waits while the agent's code runs, as the kernel would anyway:

- Called from a notebook cell, it runs on the kernel's main thread, like the cell itself.
- Through parley's sync API in a notebook (``user_proxy.initiate_chat(...)``), the chat runs on
  parley's background loop thread while the cell's thread waits for it (see `parley._sync`), so
  the agent's cells run on that thread. Nothing else touches the shell meanwhile, and ipykernel
  routes output from any thread to the cell that is executing.
- With ``await user_proxy.a_initiate_chat(...)`` in a cell, it runs on the kernel's own loop,
  nested inside the cell.

Timeouts: in the kernel's main thread a timeout is a real SIGINT, as the notebook's stop
button sends. In any other thread it is an asynchronous ``KeyboardInterrupt``, which Python
raises at the thread's next bytecode, so a call blocked in C (``time.sleep``, a socket read)
is only stopped when it returns. Shell blocks are stopped promptly in both cases.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from parley._sync import run_sync
from parley.coding._batch import open_batch
from parley.coding._executor_base import ExecutorBase
from parley.coding._options import check_max_output_chars, check_seconds, check_work_and_output_dirs
from parley.coding._process import TIMEOUT_EXIT_CODE
from parley.coding.approval import Approve, check_approve
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.jupyter._blocks import SHELLS, SUPPORTED_LANGUAGES, block_source, prepare_block
from parley.coding.jupyter._capture import Deadline, capture
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._shell import HELPER_NAME, SHELL_HELPER_SOURCE
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ExecutorUnavailableError

__all__ = ["NotebookCodeExecutor"]


def _current_shell() -> Any:
    ipython = sys.modules.get("IPython")  # not imported means not running under IPython
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        raise ExecutorUnavailableError(
            "NotebookCodeExecutor runs code in the IPython kernel it is created in (a Jupyter notebook or "
            "an IPython shell), and this is plain Python. To run code in a kernel of its own, use "
            "EmbeddedIPythonCodeExecutor (executor 'ipython-embedded'); to run scripts, "
            "LocalCommandLineCodeExecutor (executor 'local')."
        )
    return shell


def _shell_helper() -> Callable[[str, str], int]:
    namespace: dict[str, Any] = {}
    exec(SHELL_HELPER_SOURCE, namespace)  # the same helper the embedded kernel runs
    helper: Callable[[str, str], int] = namespace[HELPER_NAME]
    return helper


class NotebookCodeExecutor(ExecutorBase):
    """Run code blocks in the current IPython kernel, sharing the user's namespace.

    Python blocks (``python``, ``ipython``) run as cells: IPython syntax works, the last
    expression's value is shown, and the outputs render in the notebook as well as coming back
    in the result. Shell blocks (``bash``, ``sh``, ``shell``) run as a subprocess. Blocks run in
    order; the first that fails ends the run. Images (PNG, JPEG, GIF, SVG) and HTML that the
    code displays are also saved to ``output_dir`` and listed in ``output_files``.

    The executor owns no process: `close` only refuses further runs, and `restart` does not
    wipe the user's namespace (that is the user's to do, with ``%reset``).

    Args:
        timeout: seconds each block may run before it is interrupted (see the module docstring
            for what can be interrupted); the result then has exit code 124 and
            ``timed_out=True``. Default 60.
        output_dir: where images and HTML are saved. Default: ``work_dir`` when given, else the
            current directory.
        work_dir: where ``# filename:`` blocks are saved and the full output goes when it is
            cut. Default: ``output_dir``. Created when first needed. Code runs in the kernel's
            current directory, as the user's cells do.
        max_output_chars: the output budget in characters for the result (the notebook shows
            everything). Default 32,000.
        approve: an approval step run before each call's blocks (see `parley.coding.approval`):
            a callable ``(blocks) -> bool | ApprovalDecision``, ``"human"``, or None (default).

    Raises:
        ExecutorUnavailableError: not running inside IPython; the message names the executors
            to use instead.
        ConfigError: an argument is invalid.
    """

    shows_output = True
    """The notebook already shows a block's output in the running cell as it is printed, so a
    console watching the chat must not print it again (it would be captured a second time)."""

    SUPPORTED_LANGUAGES: ClassVar[tuple[str, ...]] = SUPPORTED_LANGUAGES
    """The languages this executor runs."""

    def __init__(
        self,
        timeout: float = 60,
        output_dir: Path | str | None = None,
        *,
        work_dir: Path | str | None = None,
        max_output_chars: int = 32_000,
        approve: Approve | str | None = None,
    ) -> None:
        self._timeout = check_seconds("timeout", timeout)
        self._approve = check_approve(approve)
        self._max_output_chars = check_max_output_chars(max_output_chars)
        self._work_dir, self._output_dir = check_work_and_output_dirs(work_dir, output_dir)
        self._shell = _current_shell()
        self._extractor = MarkdownCodeExtractor()
        self._helper: Callable[[str, str], int] | None = None

    @property
    def timeout(self) -> float:
        """Seconds each block may run before it is interrupted."""
        return self._timeout

    @property
    def work_dir(self) -> Path:
        """Where ``# filename:`` blocks are saved, as given."""
        return self._work_dir

    @property
    def output_dir(self) -> Path:
        """Where images and HTML are saved, as given."""
        return self._output_dir

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` in this thread, as `execute_code_blocks` does (see the module docstring)."""
        return self.execute_code_blocks(code_blocks)

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` as cells of the current kernel, in order, stopping at the first that fails.

        A failing, refused or timed-out block is a result, not an exception.

        Args:
            code_blocks: the blocks to run.

        Returns:
            One result for all blocks: the exit code of the last block run (0 when all
            succeeded, 1 for an error or a refused block, a shell block's own exit code, 124 on
            a timeout); their output, concatenated and cut to the budget; ``output_files``, the
            saved images and HTML, then the full output's file when it was cut.

        Raises:
            ExecutorError: the executor was closed, or the output over the budget cannot be
                saved.
            KeyboardInterrupt: the user interrupted the kernel (not a timeout).
        """
        self._check_open()
        refused = run_sync(self._refusal(code_blocks)) if self._approve is not None else None
        if refused is not None:
            return CodeResult(exit_code=1, output=refused)
        work_dir = self._work_dir.absolute()
        with open_batch(work_dir, self._max_output_chars) as batch:
            collector = OutputCollector(batch.budget, self._output_dir)
            for block in batch.blocks(code_blocks):
                batch.record(*self._run_block(block, work_dir, collector))
        return batch.result(collector.files)

    def _run_block(self, block: CodeBlock, work_dir: Path, collector: OutputCollector) -> tuple[int, bool]:
        lang, refusal = prepare_block(block, work_dir)
        if refusal is not None:
            collector.line(refusal)
            return 1, False
        code = block_source(block.code, lang)
        deadline = Deadline(self._timeout)
        try:
            with capture(self._shell, collector) as copier, deadline:
                if lang in SHELLS:
                    exit_code = self._run_shell(code, SHELLS[lang], collector)
                else:
                    result = self._shell.run_cell(code, store_history=False)
                    exit_code = 0 if result.success else 1
        except KeyboardInterrupt:
            if not deadline.fired:
                raise
            exit_code = 1
        if copier.failure is not None:
            raise copier.failure
        if deadline.fired:
            collector.line(f"Timeout after {self._timeout:g} s; the block was interrupted.")
            return TIMEOUT_EXIT_CODE, True
        return exit_code, False

    def _run_shell(self, code: str, shell: str, collector: OutputCollector) -> int:
        if self._helper is None:
            self._helper = _shell_helper()
        try:
            return self._helper(code, shell)
        except OSError as exc:
            collector.line(f"Not run: could not start {shell!r}: {exc}")
            return 127

    def _instructions(self) -> str:
        from parley.prompts import NOTEBOOK_EXECUTOR_INSTRUCTIONS

        return NOTEBOOK_EXECUTOR_INSTRUCTIONS.format(
            cwd=os.getcwd(),
            work_dir=os.path.abspath(self._work_dir),
            output_dir=os.path.abspath(self._output_dir),
            timeout=f"{self._timeout:g}",
            max_output_chars=f"{self._max_output_chars:,}",
        )

    def restart(self) -> None:
        """Do nothing: the namespace is the user's, so the executor does not wipe it (use ``%reset``)."""

    def close(self) -> None:
        """Refuse further runs. The kernel is the user's and keeps running. Idempotent."""
        self._closed = True
