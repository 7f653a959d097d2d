"""Run records: a run's events as JSON lines, written as they happen and read back for replay.

With ``record_dir`` (`parley.runtime.Runtime`, or ``parley run --record DIR``) each run writes
``<record_dir>/<run_id>.jsonl``: one `parley.runtime.events.RunEvent.to_dict` per line, in
order, the last one ``run_finished``. Events carry messages, code and results, never the config,
so a record holds no API key. `read_record` gives the events back; ``parley replay FILE``
prints them as the console showed the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

from parley.runtime.events import RunEvent, event_from_dict

__all__ = ["RecordWriter", "read_record"]


class RecordWriter:
    """Appends a run's events to its record file, one JSON line each.

    Args:
        stream: the open file.
        path: its path.
    """

    def __init__(self, stream: TextIO, path: Path) -> None:
        self._stream = stream
        self.path = path

    @classmethod
    def open(cls, record_dir: Path, run_id: str) -> RecordWriter:
        """Create ``<record_dir>/<run_id>.jsonl`` (and the folder), refusing to overwrite.

        Raises:
            OSError: the file cannot be created.
        """
        record_dir.mkdir(parents=True, exist_ok=True)
        path = record_dir / f"{run_id}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        return cls(os.fdopen(fd, "w", encoding="utf-8"), path)

    def write(self, event: RunEvent) -> None:
        """Append one event (flushed at the end of the run, or at once for its last event)."""
        self._stream.write(json.dumps(event.to_dict(), default=str) + "\n")
        if event.type == "run_finished":
            self._stream.flush()

    def close(self) -> None:
        """Close the file. Idempotent."""
        self._stream.close()


def read_record(path: str | Path) -> list[RunEvent]:
    """The events of a run record, in order.

    Raises:
        OSError: the file cannot be read.
        ValueError: a line is not an event (naming the line number).
    """
    events: list[RunEvent] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a run event: {e}") from None
    return events
