"""Data types and protocols for code extraction and execution (AutoGen 0.2's ``coding.base``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AsyncCodeExecutor",
    "CodeBlock",
    "CodeExecutor",
    "CodeExtractor",
    "CodeResult",
    "CommandLineCodeResult",
    "IPythonCodeResult",
]


@dataclass(frozen=True)
class CodeBlock:
    """A block of code found in a message.

    Attributes:
        code: the source, without the fences.
        language: the lower-cased language tag (``"python"``, ``"bash"`` ...), inferred when the
            fence had none.
    """

    code: str
    language: str


@dataclass(frozen=True)
class CodeResult:
    """The result of running code blocks. A failing block is a result, not an exception.

    Attributes:
        exit_code: 0 on success; the failing block's exit code otherwise; 124 on a timeout.
        output: what the code printed (stdout and stderr interleaved), cut to the executor's
            output budget (head and tail kept, with a marker saying how much was cut).
        output_files: files the run produced that the caller should see (images, HTML, the
            full output when it was cut), as paths.
        timed_out: True when a block ran past the executor's timeout and was killed.
        full_output_file: the file holding the whole output when ``output`` was cut, else None.
    """

    exit_code: int
    output: str
    output_files: Sequence[str] = field(default_factory=tuple)
    timed_out: bool = False
    full_output_file: str | None = None


@dataclass(frozen=True)
class CommandLineCodeResult(CodeResult):
    """A `CodeResult` from a command-line executor.

    Attributes:
        code_file: the file the last executed block was written to, or None.
    """

    code_file: str | None = None


IPythonCodeResult = CodeResult
"""AutoGen 0.2's name for a kernel executor's result; a `CodeResult` (images in ``output_files``)."""


@runtime_checkable
class CodeExtractor(Protocol):
    """Finds code blocks in a message's content."""

    def extract_code_blocks(self, message: str | list[dict[str, Any]] | None) -> list[CodeBlock]:
        """Return the code blocks in ``message``, in order; an empty list when there are none."""
        ...


@runtime_checkable
class CodeExecutor(Protocol):
    """Runs code blocks. Three members, as in AutoGen 0.2, so a 0.2 executor plugs in unchanged."""

    @property
    def code_extractor(self) -> CodeExtractor:
        """The extractor that finds the blocks this executor can run."""
        ...

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        """Run ``code_blocks`` in order, stopping at the first failure, and return one result."""
        ...

    def restart(self) -> None:
        """Restart the executor, dropping any state it keeps between calls."""
        ...


@runtime_checkable
class AsyncCodeExecutor(CodeExecutor, Protocol):
    """A `CodeExecutor` that also runs blocks without blocking the event loop.

    Cancelling the task that awaits `a_execute_code_blocks` stops the running code (every
    built-in executor does this), so one chat's code never holds up another chat's turn.
    """

    async def a_execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        """Async form of `execute_code_blocks`."""
        ...
