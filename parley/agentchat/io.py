"""The IO stream: every print and every human input in parley goes through one of these.

Tests and notebooks swap the stream with `IOStream.set_default` (a context manager, safe with
concurrent chats because it uses a context variable); `ScriptedIOStream` answers input prompts
from a list and records everything printed.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["IOConsole", "IOStream", "ScriptedIOStream"]

_default: contextvars.ContextVar[IOStream | None] = contextvars.ContextVar("parley_iostream", default=None)


@runtime_checkable
class IOStream(Protocol):
    """Where agents print and where they ask a human for input."""

    _global_default: ClassVar[IOStream | None] = None

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Print ``objects`` like the builtin `print`."""
        ...

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Ask the human for a line of input and return it (without the newline)."""
        ...

    @staticmethod
    def set_global_default(stream: IOStream) -> None:
        """Make ``stream`` the default for every context that has not set its own."""
        IOStream._global_default = stream

    @staticmethod
    def get_global_default() -> IOStream:
        """The process-wide default stream (an `IOConsole` unless changed)."""
        if IOStream._global_default is None:
            IOStream._global_default = IOConsole()
        return IOStream._global_default

    @staticmethod
    def get_default() -> IOStream:
        """The stream for the current context: the one `set_default` set, else the global default."""
        stream = _default.get()
        return stream if stream is not None else IOStream.get_global_default()

    @staticmethod
    @contextmanager
    def set_default(stream: IOStream | None) -> Iterator[None]:
        """Use ``stream`` as the default inside a ``with`` block (for this context only)."""
        token = _default.set(stream)
        try:
            yield
        finally:
            _default.reset(token)


class IOConsole(IOStream):
    """The terminal: plain `input`, and printing through rich with fenced code highlighted.

    rich is imported on first print, so creating an IOConsole costs nothing.
    """

    def __init__(self) -> None:
        self._console: Console | None = None

    def _rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(soft_wrap=True, highlight=False, markup=False, emoji=False)
        return self._console

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Print like the builtin; fenced code blocks in the text are syntax-highlighted."""
        text = sep.join(str(o) for o in objects)
        console = self._rich()
        if ("```" not in text and "~~~" not in text) or not console.is_terminal:
            sys.stdout.write(text + end)
        else:
            for renderable in _highlighted(text):
                console.print(renderable, end="")
            sys.stdout.write(end)
        if flush:
            sys.stdout.flush()

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Read a line from the terminal (hidden with ``password=True``)."""
        if password:
            import getpass

            return getpass.getpass(prompt)
        return input(prompt)


def _highlighted(text: str) -> Iterable[Any]:
    """Split ``text`` into plain runs and rich `Syntax` objects for its fenced code blocks."""
    from markdown_it import MarkdownIt
    from rich.syntax import Syntax

    lines = text.splitlines(keepends=True)
    pos = 0
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, stop = token.map
        if start > pos:
            yield "".join(lines[pos:start])
        yield "".join(lines[start : start + 1])
        lang = (token.info.split() or ["text"])[0]
        yield Syntax(token.content.rstrip("\n"), lang, background_color="default")
        yield "\n" + "".join(lines[stop - 1 : stop]) if stop - 1 > start else "\n"
        pos = stop
    if pos < len(lines):
        yield "".join(lines[pos:])


class ScriptedIOStream(IOStream):
    """An IOStream for tests and demos: answers prompts from a script and records all output.

    Args:
        inputs: the answers to give, in order, one per `input` call.
        echo: also write printed text to stdout (default False).

    Attributes:
        output: everything printed, in order, as one string per print call.
        prompts: every prompt that was asked.

    Raises:
        EOFError: from `input` when the script has no answers left (as the builtin does at EOF).
    """

    def __init__(self, inputs: Iterable[str] = (), *, echo: bool = False) -> None:
        self._inputs = list(inputs)
        self._lock = threading.Lock()
        self.echo = echo
        self.output: list[str] = []
        self.prompts: list[str] = []

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Record (and optionally echo) the printed text."""
        text = sep.join(str(o) for o in objects) + end
        with self._lock:
            self.output.append(text)
        if self.echo:
            sys.stdout.write(text)

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Return the next scripted answer."""
        with self._lock:
            self.prompts.append(prompt)
            if not self._inputs:
                raise EOFError(f"ScriptedIOStream has no input left for prompt {prompt!r}")
            return self._inputs.pop(0)

    @property
    def text(self) -> str:
        """Everything printed so far, joined."""
        return "".join(self.output)


def _use_iostream_for_approvals() -> None:
    """Make ``approve="human"`` on executors ask through the current IOStream (see `parley.coding.approval`)."""
    from parley.coding.approval import set_default_human_io

    set_default_human_io(IOStream.get_default)


_use_iostream_for_approvals()
