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

The class knows nothing about processes, so every executor (local, Docker, kernels) uses it.
"""

from __future__ import annotations

import codecs
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

__all__ = ["BudgetedOutput", "OutputBudget"]


@dataclass(frozen=True)
class BudgetedOutput:
    """What is left of an output after the budget.

    Attributes:
        text: the whole output, or head + marker + tail when it was cut.
        total_chars: characters in the whole output.
        cut_chars: characters left out of ``text`` (0 when nothing was cut).
        full_output_file: the file holding the whole output when it was cut, else None.
    """

    text: str
    total_chars: int
    cut_chars: int
    full_output_file: Path | None


class OutputBudget:
    """Collect output under a character budget, spilling the full output to a file when needed.

    Bytes are decoded incrementally as UTF-8 with ``errors="replace"`` (a character split
    between two chunks is decoded whole). The spill file is written as UTF-8 text.

    Use it as a context manager, or call `finish` (or `close`), so the spill file is closed.

    Args:
        max_chars: the budget in characters; must be at least 2 (one for the head, one for the
            tail).
        spill_path: where the full output goes if it exceeds the budget. Nothing is created
            there unless it does; an existing file is overwritten.

    Raises:
        ValueError: ``max_chars`` is less than 2.
    """

    def __init__(self, max_chars: int, spill_path: Path) -> None:
        if max_chars < 2:
            raise ValueError(f"max_chars must be at least 2, got {max_chars}")
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
        self._file: TextIO | None = None
        self._spilled = False

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
        self._total += len(text)
        self._last_char = text[-1]
        if not self._spilled:
            self._whole.append(text)
            if self._total > self._max:
                self._spill()
            return
        if self._file is None:
            raise ValueError("the output budget is closed; create a new OutputBudget for new output")
        self._file.write(text)
        self._add_to_tail(text)

    def _spill(self) -> None:
        whole = "".join(self._whole)
        self._whole = []
        self._spilled = True
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._spill_path, "w", encoding="utf-8", errors="replace", newline="")  # noqa: SIM115
        self._file.write(whole)
        self._head = whole[: self._head_max]
        self._add_to_tail(whole[self._head_max :])

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
        marker = (
            f"\n[... {cut:,} characters cut: the output had {self._total:,} characters, over the "
            f"budget of {self._max:,}. The full output is in {self._spill_path} ...]\n"
        )
        return BudgetedOutput(self._head + marker + tail, self._total, cut, self._spill_path)

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
