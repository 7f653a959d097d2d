"""Live code output: hand each piece of a running block's output to a listener as it arrives.

An executor collects a block's output under its budget (`parley.coding._output.OutputBudget`)
and returns it when the block ends. Someone watching the run (the agentchat console, the
runtime's event stream) wants it sooner: a block that prints, sleeps and prints again should
show its first line while it still sleeps.

The listener of the running context is set with `listen`. Every built-in executor (local,
Docker, the kernel executors) feeds its output budget as the output arrives, and the budget
captures the listener when it is created, so the listener sees the text, in order, while the
block runs. The listener is a context variable: concurrent chats each see their own blocks only.
With no listener set, nothing extra happens.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["OutputListener", "current_listener", "listen"]

OutputListener = Callable[[str], object]
"""Called with each piece of a running block's output (text, in order) as it arrives.

It runs on the event loop's thread and must not block; an exception it raises is swallowed, so
a faulty watcher never changes what the block's result holds.
"""

_listener: contextvars.ContextVar[OutputListener | None] = contextvars.ContextVar("parley_live_output", default=None)


@contextmanager
def listen(listener: OutputListener | None) -> Iterator[None]:
    """Send the output of blocks run inside the ``with`` block to ``listener`` as it arrives.

    Args:
        listener: called with each piece of output text; None stops listening.

    Only this context (this task and the tasks it starts) is affected.
    """
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def current_listener() -> OutputListener | None:
    """The listener set by the innermost `listen` of this context, or None."""
    return _listener.get()
