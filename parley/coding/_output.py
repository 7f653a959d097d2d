"""The output budget: keep the head and tail of a run's output, spill the whole of it to a file.

A run may print far more than a model should read (or than memory should hold). `OutputBudget`
takes the output as it arrives, in bytes or text, and never holds more than about
``max_chars`` characters plus one chunk:

- While the output fits the budget it is kept whole.
- The first time it exceeds the budget, everything kept so far is written to ``spill_path`` and
  from then on every chunk is appended there, so the file holds the complete output.
- In memory only the first ``max_chars // 2`` characters (head) and the last
  ``max_chars - max_chars // 2`` characters (tail) are kept. `OutputBudget.finish` joins them
  with a marker saying how many characters were cut and where the whole output is.
- The saved copy is capped too: after ``max_saved_bytes`` bytes (UTF-8) nothing more is written
  to the file, the output is still taken (so the producer never blocks) and kept in the tail,
  and the marker says that the saved copy was cut and where.
- The file is created new (``O_EXCL``) without following a symlink at its name, so code that
  can write in its directory cannot redirect the host's write elsewhere.

The class knows nothing about processes, so every executor (local, Docker, kernels) uses it.
That also makes it the one place where live output is seen: a budget captures the listener of
`parley.coding.live_output` when it is created and hands it each piece of text as it is fed.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from parley.coding.live_output import current_listener

__all__ = ["DEFAULT_MAX_SAVED_BYTES", "BudgetedOutput", "OutputBudget"]

DEFAULT_MAX_SAVED_BYTES = 256 * 1024 * 1024
"""The default cap on a run's saved full output: 256 MiB."""


@dataclass(frozen=True)
class BudgetedOutput:
    """What is left of an output after the budget.

    Attributes:
        text: the whole output, or head + marker + tail when it was cut.
        total_chars: characters in the whole output.
        cut_chars: characters left out of ``text`` (0 when nothing was cut).
        full_output_file: the file holding the whole output when it was cut, else None.
        saved_bytes: bytes written to ``full_output_file`` (0 when there is none).
        saved_cut: True when the saved copy stopped at ``max_saved_bytes``, so it holds only
            the start of the output.
    """

    text: str
    total_chars: int
    cut_chars: int
    full_output_file: Path | None
    saved_bytes: int = 0
    saved_cut: bool = False


class OutputBudget:
    """Collect output under a character budget, spilling the full output to a file when needed.

    Bytes are decoded incrementally as UTF-8 with ``errors="replace"`` (a character split
    between two chunks is decoded whole). The spill file is written as UTF-8 text.

    Use it as a context manager, or call `finish` (or `close`), so the spill file is closed.
    Each piece of text fed goes to the live-output listener of the context the budget was made
    in (see `parley.coding.live_output`), if any, as it arrives.

    Args:
        max_chars: the budget in characters; must be at least 2 (one for the head, one for the
            tail).
        spill_path: where the full output goes if it exceeds the budget. Nothing is created
            there unless it does; it must not exist then (the name should be random).
        max_saved_bytes: the most bytes saved to ``spill_path``. Default 256 MiB
            (`DEFAULT_MAX_SAVED_BYTES`).

    Raises:
        ValueError: ``max_chars`` is less than 2, or ``max_saved_bytes`` less than 0.
    """

    def __init__(self, max_chars: int, spill_path: Path, max_saved_bytes: int = DEFAULT_MAX_SAVED_BYTES) -> None:
        if max_chars < 2:
            raise ValueError(f"max_chars must be at least 2, got {max_chars}")
        if max_saved_bytes < 0:
            raise ValueError(f"max_saved_bytes must be at least 0, got {max_saved_bytes}")
        self._max_saved = max_saved_bytes
        self._saved = 0
        self._saved_cut = False
        self._max = max_chars
        self._head_max = max_chars // 2
        self._tail_max = max_chars - self._head_max
        self._spill_path = spill_path
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._whole: list[str] = []  # everything, until the budget is exceeded
        self._head = ""
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self._total = 0
        self._last_char = ""
        self._file: BinaryIO | None = None
        self._spilled = False
        self._listener = current_listener()

    @property
    def total_chars(self) -> int:
        """Characters received so far."""
        return self._total

    @property
    def ends_with_newline(self) -> bool:
        """True when no output was received yet or the last character received was a newline."""
        return self._last_char in ("", "\n")

    def feed_bytes(self, data: bytes) -> None:
        """Add raw output; it is decoded as UTF-8 (``errors="replace"``)."""
        self.feed_text(self._decoder.decode(data))

    def feed_text(self, text: str) -> None:
        """Add output that is already text.

        Raises:
            OSError: the spill file could not be written.
            ValueError: the budget was closed after its output spilled to the file.
        """
        if not text:
            return
        listener = self._listener
        if listener is not None:
            # While the listener runs it gets nothing more: if what it prints is captured back
            # into this budget (an in-process executor), it must not call itself without end.
            self._listener = None
            try:
                with contextlib.suppress(Exception):  # a faulty watcher must not change the block's result
                    listener(text)
            finally:
                self._listener = listener
        self._total += len(text)
        self._last_char = text[-1]
        if not self._spilled:
            self._whole.append(text)
            if self._total > self._max:
                self._spill()
            return
        if self._file is None and not self._saved_cut:
            raise ValueError("the output budget is closed; create a new OutputBudget for new output")
        self._save(text)
        self._add_to_tail(text)

    def _spill(self) -> None:
        whole = "".join(self._whole)
        self._whole = []
        self._spilled = True
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        self._file = os.fdopen(os.open(self._spill_path, flags, 0o644), "wb")
        self._save(whole)
        self._head = whole[: self._head_max]
        self._add_to_tail(whole[self._head_max :])

    def _save(self, text: str) -> None:
        """Append ``text`` to the spill file, up to ``max_saved_bytes`` in all."""
        if self._file is None:
            return  # the saved copy was cut: the output is only kept in the tail
        data = text.encode("utf-8", errors="replace")
        room = self._max_saved - self._saved
        if len(data) > room:
            data = data[:room].decode("utf-8", errors="ignore").encode("utf-8")  # whole characters only
            self._saved_cut = True
        self._file.write(data)
        self._saved += len(data)
        if self._saved_cut:
            self._file.close()
            self._file = None

    def _add_to_tail(self, text: str) -> None:
        if len(text) >= self._tail_max:
            self._tail.clear()
            self._tail.append(text[-self._tail_max :])
            self._tail_len = self._tail_max
            return
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len - len(self._tail[0]) >= self._tail_max:
            self._tail_len -= len(self._tail.popleft())
        excess = self._tail_len - self._tail_max
        if excess > 0:
            self._tail[0] = self._tail[0][excess:]
            self._tail_len -= excess

    def finish(self) -> BudgetedOutput:
        """Flush the decoder, close the spill file and return the output under the budget.

        Raises:
            OSError: the spill file could not be written.
        """
        self.feed_text(self._decoder.decode(b"", final=True))
        self.close()
        if not self._spilled:
            return BudgetedOutput("".join(self._whole), self._total, 0, None)
        tail = "".join(self._tail)
        cut = self._total - len(self._head) - len(tail)
        saved = (
            f"Only its first {self._saved:,} bytes were saved, in {self._spill_path}: the saved copy stops at "
            f"max_saved_bytes ({self._max_saved:,} bytes)."
            if self._saved_cut
            else f"The full output is in {self._spill_path}"
        )
        marker = (
            f"\n[... {cut:,} characters cut: the output had {self._total:,} characters, over the "
            f"budget of {self._max:,}. {saved} ...]\n"
        )
        text = self._head + marker + tail
        return BudgetedOutput(text, self._total, cut, self._spill_path, self._saved, self._saved_cut)

    def close(self) -> None:
        """Close the spill file, if one was opened. Idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> OutputBudget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
