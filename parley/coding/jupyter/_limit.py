"""The output budget enforced inside the kernel, where the output is made, so only the budget crosses the wire.

A kernel behind a Jupyter server sends its output through the server, which drops IOPub messages
over its rate limit (``IOPub data rate exceeded``: 1 MB/s by default): a 10 MB ``print`` came back
as the server's notice alone, and 100,000 prints kept 2 MB of 10 MB. Cutting the output on this
side is too late, so the kernel cuts it. `LIMIT_SOURCE` is Python *source*, run once in each kernel
by the executor's setup cell (`install_call`), because the kernel's interpreter need not have
parley installed. It:

- passes every write to the kernel's ``sys.stdout`` and ``sys.stderr`` stream objects through one
  budget per cell (``print``, ``sys.stdout.write``, shell blocks, and output written straight to
  file descriptors 1 and 2, which ipykernel forwards through the same objects);
- sends the first part of a cell's output at once, holds the rest back while it may still fit,
  and once the output exceeds the budget saves the *whole* output to ``output_<random hex>.txt``
  in the kernel's starting directory (up to ``max_saved_bytes``) and keeps only the tail;
- at the end of the cell, or before a traceback or display so the order is kept, sends what it
  held back, or a marker naming the file followed by the tail;
- reports in the cell's ``execute_reply`` (a ``payload`` entry, which the server does not rate
  limit) how many characters it sent and which file it saved, so the executor can tell output
  that was lost on the way (`OutputReport`).

Output within ``max_output_chars`` is never cut. Cut output keeps head, marker and tail within
``max_output_chars``, leaving a sixteenth of it, and room for the traceback that follows, so the
executor's own budget for the whole call rarely cuts again; a budget too small for the marker
keeps half for the head and half for the tail and lets the marker overflow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

__all__ = ["LIMIT_SOURCE", "PAYLOAD_SOURCE", "SETUP_PAYLOAD_SOURCE", "OutputReport", "install_call", "lost_output_note"]

PAYLOAD_SOURCE = "parley.output"
"""The ``source`` of the payload entry a cell's reply carries (see `OutputReport`)."""

SETUP_PAYLOAD_SOURCE = "parley.setup"
"""The ``source`` of the payload entry the setup cell's reply carries: ``{"limited": bool, "why": str}``."""

_SAVED_NAME = re.compile(r"output_[0-9a-f]{16}\.txt")

LIMIT_SOURCE = r'''
import collections, functools, os, re, sys, threading

_COLOUR = re.compile("\x1b\\[[0-9;]*m")
_MAX_NUMBER = 10 ** 15
_ERROR_CHARS = 100


def _message_id(stream):
    try:
        return (stream.parent_header or {}).get("msg_id")
    except Exception:
        return None


class Limit:
    """One budget per cell for the kernel's stdout and stderr."""

    def __init__(self, shell, budget, max_saved, where, out):
        self.shell = shell
        self.lock = threading.RLock()
        self.directory = os.getcwd()
        self.out = out
        self.depth = 0
        self.active = False
        self.configure(budget, max_saved, where)

    def configure(self, budget, max_saved, where):
        self.budget, self.max_saved, self.where = budget, max_saved, where

    # --- a cell's life -------------------------------------------------------------------------

    def start(self, *args):
        with self.lock:
            self.depth += 1
            if self.depth > 1:  # a cell run from a cell: one budget for both
                return
            self.active = True
            self.cell = _message_id(self.out[0])
            self.path = os.path.join(self.directory, "output_" + os.urandom(8).hex() + ".txt")
            longest = max(len(self.marker(_MAX_NUMBER, _MAX_NUMBER, _MAX_NUMBER, True, "")),
                          len(self.marker(_MAX_NUMBER, _MAX_NUMBER, 0, False, "x" * _ERROR_CHARS)))
            room = self.budget - longest - self.budget // 16
            self.room = room if room >= 2 else self.budget
            self.head_max = self.room // 2
            self.total = self.sent = self.counted = 0
            self.kept, self.held, self.held_len = [], [], 0
            self.file, self.is_cut, self.saved, self.saved_cut, self.error = None, False, 0, False, ""
            self.tail, self.tail_len, self.tail_max = collections.deque(), 0, 0
            self.closed, self.late = False, 0

    def finish(self, *args):
        report = self.end()
        if report is None:
            return
        try:
            self.shell.payload_manager.write_payload(report)
        except Exception:
            pass

    def end(self):
        """End a cell's budget; return its report, or None for a nested cell's end."""
        with self.lock:
            self.depth = max(0, self.depth - 1)
            if self.depth or not self.active:
                return None
            self.settle()
            self.active = False
            opened, self.file = self.file, None
            if opened is not None:
                try:
                    opened.close()
                except OSError as exc:
                    self.saved_cut, self.error = True, str(exc)[:_ERROR_CHARS]
            report = {"source": "parley.output", "sent": self.counted, "total": self.total,
                      "saved": self.path if opened is not None else None,
                      "saved_bytes": self.saved, "saved_cut": self.saved_cut}
            self.kept, self.held, self.tail = [], [], collections.deque()
        return report

    # --- writes --------------------------------------------------------------------------------

    def write(self, stream, base, text):
        if not isinstance(text, str) or not text:
            return base(text)
        with self.lock:
            if not self.active:
                return base(text)
            self.total += len(text)
            if self.is_cut:
                self.save(text)
                if self.closed:
                    self.late += len(text)
                else:
                    self.add_tail((stream, base, text))
            else:
                now = 0 if self.held else max(0, min(len(text), self.head_max - self.sent))
                if now:
                    self.forward(stream, base, text[:now])
                rest = text[now:]
                if self.sent + self.held_len + len(rest) > self.budget:
                    self.cut([(stream, base, rest)], 0)
                elif rest:
                    self.held.append((stream, base, rest))
                    self.held_len += len(rest)
        return len(text)

    def forward(self, stream, base, text):
        base(text)
        self.sent += len(text)
        if _message_id(stream) == self.cell:
            self.counted += len(text)
        if not self.is_cut:
            self.kept.append(text)

    def cut(self, pieces, reserve):
        """Start saving the whole output to the file; keep ``pieces`` (and what was held) for the tail."""
        self.is_cut = True
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            self.file = os.fdopen(os.open(self.path, flags, 0o600), "wb", buffering=1 << 16)
        except OSError as exc:
            self.error = str(exc)[:_ERROR_CHARS]
        pieces = self.held + pieces
        self.save("".join(self.kept))
        for piece in pieces:
            self.save(piece[2])
        self.kept, self.held, self.held_len = [], [], 0
        self.tail_max = self.room - self.sent - reserve
        for piece in pieces:
            self.add_tail(piece)

    def save(self, text):
        if self.file is None or self.saved_cut or not text:
            return
        data = text.encode("utf-8", "replace")
        room = self.max_saved - self.saved
        if len(data) > room:
            data = data[:room].decode("utf-8", "ignore").encode("utf-8")
            self.saved_cut = True
        try:
            self.file.write(data)
        except OSError as exc:
            self.saved_cut, self.error = True, str(exc)[:_ERROR_CHARS]
            return
        self.saved += len(data)

    def add_tail(self, piece):
        if piece is not None:
            self.tail.append(piece)
            self.tail_len += len(piece[2])
        keep = max(0, self.tail_max)
        while self.tail_len > keep:
            stream, base, text = self.tail[0]
            excess = self.tail_len - keep
            if len(text) <= excess:
                self.tail.popleft()
                self.tail_len -= len(text)
            else:
                self.tail[0] = (stream, base, text[excess:])
                self.tail_len -= excess

    # --- sending what was held -----------------------------------------------------------------

    def settle(self, reserve=0):
        """Send what is held: at the end of a cell, or before a display or a traceback of ``reserve`` characters."""
        with self.lock:
            if not self.active:
                return
            if not self.is_cut and self.held and self.sent + self.held_len + reserve > self.budget:
                self.cut([], reserve)  # the traceback would not fit after all of it: keep the end instead
            if not self.is_cut:
                for piece in self.held:
                    self.forward(*piece)
                self.held, self.held_len = [], 0
                self.head_max = max(self.head_max, self.sent)
            elif not self.closed:
                self.tail_max = min(self.tail_max, self.room - self.sent - reserve)
                self.add_tail(None)
                cut = self.total - self.sent - self.tail_len
                self.forward(*self.out, self.marker(cut, self.total, self.saved, self.saved_cut, self.error))
                for piece in self.tail:
                    self.forward(*piece)
                self.tail, self.tail_len, self.closed = collections.deque(), 0, True
            elif self.late:
                self.forward(*self.out, "\n[... %s more characters cut; the output so far is in %s%s ...]\n"
                             % (format(self.late, ","), self.path, self.where))
                self.late = 0

    def marker(self, cut, total, saved, saved_cut, error):
        where = self.path + self.where
        if error:
            kept = "It could not be saved to %s: %s" % (where, error)
        elif saved_cut:
            kept = ("The first %s bytes of it are in %s (the saved copy stops at max_saved_bytes, %s bytes)"
                    % (format(saved, ","), where, format(self.max_saved, ",")))
        else:
            kept = "The full output is in %s" % where
        return ("\n[... %s characters cut: the output had %s characters, over the budget of %s. %s ...]\n"
                % (format(cut, ","), format(total, ","), format(self.budget, ","), kept))


def _limited_class(base):
    base_write = base.write

    class Limited(base):
        """The kernel's own stream class, whose ``write`` goes through the budget.

        ``write`` is a property so it wins over an instance attribute: IPython's history tee sets
        one around each cell and puts back what it found.
        """

        _parley_limited = True

        @property
        def write(self):
            outer = self.__dict__.get("_parley_outer")
            return outer if outer is not None else self.__dict__["_parley_write"]

        @write.setter
        def write(self, value):
            if value is self.__dict__["_parley_write"] or getattr(value, "__func__", None) is base_write:
                value = None
            self.__dict__["_parley_outer"] = value

    Limited.__name__ = Limited.__qualname__ = base.__name__
    return Limited


def _wrap(stream, limit):
    if getattr(type(stream), "_parley_limited", False):
        return
    base = type(stream)
    bound = base.write.__get__(stream)
    stream.__dict__.pop("write", None)
    stream.__dict__["_parley_write"] = functools.partial(limit.write, stream, bound)
    stream.__class__ = _limited_class(base)


def _before(limit, obj, name, size=None):
    """Make ``obj.name`` send what the budget holds first (with room for ``size(*args)`` characters after)."""
    original = getattr(obj, name, None)
    if original is None:
        return

    def call(*args, **kwargs):
        try:
            limit.settle(size(*args) if size is not None else 0)
        except Exception:
            pass
        return original(*args, **kwargs)

    setattr(obj, name, call)


def _traceback_size(etype=None, value=None, stb=(), *rest):
    return sum(len(_COLOUR.sub("", str(line))) + 1 for line in stb or ())


def install(budget, max_saved, where):
    shell = get_ipython()
    limit = getattr(shell, "_parley_limit", None)
    why = ""
    if limit is None:
        try:
            out = sys.stdout
            base = type(out).write
            limit = Limit(shell, budget, max_saved, where, (out, base.__get__(out)))
            for stream in (sys.stdout, sys.stderr):
                _wrap(stream, limit)
        except Exception as exc:
            why = "%s: %s" % (type(exc).__name__, exc)
        else:
            shell.events.register("pre_run_cell", limit.start)
            shell.events.register("post_run_cell", limit.finish)
            _before(limit, shell, "_showtraceback", _traceback_size)
            _before(limit, getattr(shell, "display_pub", None), "publish")
            _before(limit, getattr(shell, "displayhook", None), "write_format_data")
            shell._parley_limit = limit
    else:
        limit.configure(budget, max_saved, where)
    shell.payload_manager.write_payload({"source": "parley.setup", "limited": not why, "why": why})
'''
"""Python source defining ``install(budget, max_saved, where)`` (see the module docstring).

``where`` follows the saved file's path in the marker: ``""`` for a kernel on this machine,
``" on the gateway's machine"`` for one behind a gateway. Installing again only changes the settings.
"""


def install_call(budget: int, max_saved: int, where: str) -> str:
    """The statement that defines the limit in a namespace of its own and installs it.

    Nothing lands in the user's namespace, so ``%reset`` leaves the limit in place.

    Args:
        budget: ``max_output_chars``.
        max_saved: ``max_saved_bytes``.
        where: the words after the saved file's path (see `LIMIT_SOURCE`).
    """
    namespace = "{'__name__': '__parley_limit', 'get_ipython': get_ipython}"
    return (
        f"__parley_ns = {namespace}\nexec({LIMIT_SOURCE!r}, __parley_ns)\n"
        f"__parley_ns['install']({budget!r}, {max_saved!r}, {where!r})\ndel __parley_ns\n"
    )


@dataclass(frozen=True)
class OutputReport:
    """What the kernel says about one cell's printed output (a payload entry of its ``execute_reply``).

    Attributes:
        sent: characters of printed output the kernel sent for the cell.
        total: characters the cell printed.
        saved: the file the whole output was saved to (on the kernel's machine), or None.
        saved_bytes: bytes written to ``saved``.
        saved_cut: the saved copy stopped at ``max_saved_bytes``.
    """

    sent: int
    total: int
    saved: str | None
    saved_bytes: int
    saved_cut: bool

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any] | None) -> OutputReport | None:
        """Read the report from an ``execute_reply``; None when it has none (or a malformed one).

        A ``saved`` path whose file name is not ``output_<16 hex digits>.txt`` is dropped: the
        kernel runs untrusted code, and the path is listed among the result's files.
        """
        payload = (reply or {}).get("content", {}).get("payload")
        for entry in payload if isinstance(payload, list) else []:
            if not isinstance(entry, Mapping) or entry.get("source") != PAYLOAD_SOURCE:
                continue
            numbers = [n for key in ("sent", "total", "saved_bytes") if _is_count(n := entry.get(key))]
            if len(numbers) != 3:
                return None
            saved = entry.get("saved")
            name = saved.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(saved, str) else ""
            return cls(
                sent=numbers[0],
                total=numbers[1],
                saved=saved if isinstance(saved, str) and _SAVED_NAME.fullmatch(name) else None,
                saved_bytes=numbers[2],
                saved_cut=entry.get("saved_cut") is True,
            )
        return None


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def lost_output_note(report: OutputReport | None, received: int, dropped: str | None) -> str | None:
    """The line telling the model that some of a block's output did not arrive; None when all of it did.

    Args:
        report: what the kernel said it sent, if its reply carried a report.
        received: characters of printed text that arrived.
        dropped: the first line of the server's notice that it dropped output, if one came.
    """
    lost = report.sent - received if report is not None else 0
    if lost <= 0 and dropped is None:
        return None
    how = (
        f"{lost:,} of the {report.sent:,} characters the kernel sent did not arrive"
        if report is not None and lost > 0
        else "part of it did not arrive"
    )
    why = f" (the Jupyter server said: {dropped})" if dropped else ""
    return (
        f"Some of this block's output was lost on the way from the kernel: {how}{why}. The output above is "
        "incomplete; the exit code is the block's own. Print less, or write large output to a file and print "
        "the parts you need."
    )
