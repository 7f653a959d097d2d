"""The lifecycle every executor shares: ``with`` and ``async with`` close it, and closed it refuses to run.

What closing does differs (kill process trees, stop a container, shut a kernel down, or only
refuse further runs), so each executor writes its own `ExecutorLifecycle.close` and documents
it; the protocol around it is written once here.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from parley.exceptions import ExecutorError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ExecutorLifecycle"]


class ExecutorLifecycle:
    """Mixin for an executor: a sync and async context manager that closes it on exit.

    A subclass defines `close`, which must be idempotent and set ``_closed``; it calls
    `_check_open` before running anything. `a_close` calls `close` in the event loop's thread;
    an executor whose close waits on I/O overrides it (running `close` in a worker thread, or
    writing the async form first and `close` as its sync shell).
    """

    _closed: bool = False

    def close(self) -> None:
        """Release what the executor holds and refuse further runs. Idempotent."""
        raise NotImplementedError

    async def a_close(self) -> None:
        """Async form of `close`."""
        self.close()

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
