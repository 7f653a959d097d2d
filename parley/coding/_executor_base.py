"""What every built-in executor shares around running code: its extractor, its capability, its lifecycle.

- ``with`` and ``async with`` close the executor on exit, and a closed executor refuses to run
  (`ExecutorBase._check_open`). What closing does differs (kill process trees, stop a container,
  shut a kernel down, or only refuse further runs), so each executor writes and documents its
  own `ExecutorBase.close`.
- `ExecutorBase.code_extractor` is the Markdown extractor, and `ExecutorBase.user_capability`
  wraps the instructions each executor writes (`ExecutorBase._instructions`).
- The approval step (``approve=``, see `parley.coding.approval`) runs before any block of a
  call: `ExecutorBase._refusal` gives the text of a refused call, or None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from parley.coding.approval import Approve, decide
from parley.coding.base import CodeBlock
from parley.coding.capability import ExecutorCapability
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ExecutorError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ExecutorBase"]


class ExecutorBase:
    """Base of the built-in executors: a sync and async context manager that closes on exit.

    A subclass sets ``_extractor`` in its constructor, defines `close` (idempotent, setting
    ``_closed``) and `_instructions`, and calls `_check_open` before running anything. `a_close`
    calls `close` in the event loop's thread; an executor whose close waits on I/O overrides it
    (running `close` in a worker thread, or writing the async form first and `close` as its
    sync shell).
    """

    _closed: bool = False
    _extractor: MarkdownCodeExtractor
    _approve: Approve | None = None

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        """The extractor for the Markdown code blocks this executor runs."""
        return self._extractor

    @property
    def user_capability(self) -> ExecutorCapability:
        """Adds this executor's usage instructions to an LLM agent's system message (once).

        Example: ``executor.user_capability.add_to_agent(assistant)``.
        """
        return ExecutorCapability(self._instructions())

    def _instructions(self) -> str:
        """This executor's usage instructions for the model, from `parley.prompts`, filled in."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor holds and refuse further runs. Idempotent."""
        raise NotImplementedError

    async def a_close(self) -> None:
        """Async form of `close`; it runs in a worker thread, since closing may wait for processes."""
        await asyncio.to_thread(self.close)

    async def _refusal(self, code_blocks: Sequence[CodeBlock]) -> str | None:
        """Run the approval step on a call's blocks: the text for the model when it refused, else None."""
        decision = await decide(self._approve, code_blocks, type(self).__name__)
        if decision.approved:
            return None
        what = "this block" if len(code_blocks) == 1 else "these blocks"
        why = decision.reason or "no reason given"
        return f"Not run: the approval step refused {what} ({why}). Nothing was executed.\n"

    def _check_open(self) -> None:
        """Raise `ExecutorError` when the executor is closed."""
        if self._closed:
            raise ExecutorError(f"This {type(self).__name__} is closed; create a new one to run code.")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.a_close()
