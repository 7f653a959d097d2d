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

from parley.agentchat._terminal import visible_controls

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["HIGHLIGHT_LIMIT", "IOConsole", "IOStream", "ScriptedIOStream"]

HIGHLIGHT_LIMIT = 16_384
"""The longest text, in characters, whose fenced code `IOConsole` colours; longer text is printed plain.

Highlighting costs about 25 µs per character of code (pygments and rich), so a 1 MB block from a
model would hold the console, and the event loop with it, for half a minute.
"""

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
    r"""The terminal: plain `input`, and printing through rich with fenced code highlighted.

    What is printed comes from models and from model-written code, so it is shown, never obeyed:
    every control character in it (escape sequences, bells, carriage returns, C1 controls,
    bidirectional overrides) is written as a visible escape such as ``\x1b``, streamed tokens
    included (see `parley.agentchat._terminal`). Rich markup in it (``[bold]``, ``[link=...]``)
    is shown as typed. The only styling is parley's own: syntax colours for fenced code, added
    when the console is a terminal and the text is at most `HIGHLIGHT_LIMIT` characters.

    rich is imported on first print, so creating an IOConsole costs nothing.

    Args:
        console: the rich ``Console`` to write to, for example
            ``Console(file=f, force_terminal=True)`` to keep the colours in a file. Default: a
            console on ``sys.stdout`` (looked up at each print), with colours when it is a terminal.
    """

    def __init__(self, console: Console | None = None) -> None:
        self._console = console

    def _rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(soft_wrap=True, highlight=False, markup=False, emoji=False)
        return self._console

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Print like the builtin, control characters made visible; fenced code is highlighted.

        ``end`` is written as given (it is the caller's, not the model's).
        """
        text = visible_controls(sep.join(str(o) for o in objects))
        console = self._rich()
        file = console.file
        fenced = "```" in text or "~~~" in text
        if not fenced or len(text) > HIGHLIGHT_LIMIT or not console.is_terminal:
            if file is sys.stdout:  # through the builtin, as AutoGen 0.2 does (tests and tools patch it)
                print(text, end=end, sep=sep, flush=flush)
                return
            file.write(text + end)
        else:
            for renderable in _highlighted(text):
                console.print(renderable, end="", soft_wrap=True)  # lines as written, never re-wrapped
            file.write(end)
        if flush:
            file.flush()

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Read a line from the terminal (hidden with ``password=True``); the prompt is shown like `print`.

        A hidden read with no prompt asks ``"Password: "``, as AutoGen 0.2 does.
        """
        prompt = visible_controls(prompt)
        if password:
            import getpass

            return getpass.getpass(prompt or "Password: ")
        return input(prompt)


def _highlighted(text: str) -> Iterable[Any]:
    """Split ``text`` into rich `Text` runs and `Syntax` objects for its fenced code blocks.

    Runs are `Text`, never ``str``, so no console setting can read them as markup or emoji.
    """
    from markdown_it import MarkdownIt
    from rich.syntax import Syntax
    from rich.text import Text

    # Lines as markdown-it counts them: split at "\n" only (splitlines also splits at U+2028 ...).
    *body, last = text.split("\n")
    lines = [line + "\n" for line in body] + ([last] if last else [])
    pos = 0
    # Only the fences matter: without inline parsing, markdown-it does a quarter of the work.
    for token in MarkdownIt("commonmark").disable(["inline", "text_join"]).parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, stop = token.map
        if start > pos:
            yield Text("".join(lines[pos:start]))
        yield Text("".join(lines[start : start + 1]))
        lang = (token.info.split() or ["text"])[0]
        # ANSI colours are the terminal's own palette, so they read on light and dark themes alike
        # (a fixed theme such as monokai draws near-white names, invisible on a light terminal).
        yield Syntax(token.content.rstrip("\n"), lang, theme="ansi_dark", background_color="default")
        yield Text("\n" + "".join(lines[stop - 1 : stop]) if stop - 1 > start else "\n")
        pos = stop
    if pos < len(lines):
        yield Text("".join(lines[pos:]))


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
