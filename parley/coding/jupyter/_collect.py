"""Collect one execution's outputs: text into the output budget, images and HTML into files.

Both kernel executors use `OutputCollector`: the embedded one feeds it the outputs parsed from
IOPub messages, the notebook one the outputs it captures in the user's own kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

from parley.coding._files import write_file_in
from parley.coding._output import OutputBudget
from parley.coding.jupyter._messages import (
    FileToSave,
    KernelDisplay,
    KernelError,
    KernelText,
    render_bundle,
)

__all__ = ["OutputCollector"]

_KINDS = {"text/html": "HTML"}


class OutputCollector:
    r"""Turns one execution's outputs into budgeted text and saved files.

    Printed ``\r\n`` becomes ``\n`` (IPython's ``!cmd`` runs commands on a pseudo-terminal,
    which ends lines so); a lone ``\r`` (a progress bar) is kept.

    A display's images and HTML are saved to ``output_dir`` as ``display_<random hex>.<ext>``
    (the directory is created on the first save) without following a symbolic link in it
    (`parley.coding._files.write_file_in`: the kernel's code can change that directory); the
    text gets one line per saved file
    (``Image data saved to <path>``, 0.2's words) where the display appeared, then the display's text, if any.

    Args:
        budget: where the text goes (it enforces ``max_output_chars``).
        output_dir: where displays are saved.
    """

    def __init__(self, budget: OutputBudget, output_dir: Path) -> None:
        self._budget = budget
        self._output_dir = output_dir
        self.files: list[str] = []
        """Saved files, as absolute paths, in the order they were displayed."""
        self.error: KernelError | None = None
        """The last error the code raised, if any."""
        self.saved_outputs: list[str] = []
        """Files the kernel saved a cut block's whole output to (on the kernel's machine), in order."""

    def add(self, item: KernelText | KernelDisplay | KernelError) -> None:
        """Add one output.

        Raises:
            OSError: the budget's spill file could not be written (a display that cannot be
                saved is reported in the text instead).
        """
        if isinstance(item, KernelText):
            self._budget.feed_text(item.text.replace("\r\n", "\n"))
        elif isinstance(item, KernelDisplay):
            rendered = render_bundle(item.data)
            for file in rendered.files:
                self.line(self._save(file))
            if rendered.text:
                self.line(rendered.text)
        else:
            self.error = item
            self.line(item.traceback)

    def line(self, text: str) -> None:
        """Add ``text`` as a line of its own: after a newline, ending with one."""
        if not self._budget.ends_with_newline:
            self._budget.feed_text("\n")
        self._budget.feed_text(text if text.endswith("\n") else text + "\n")

    def _save(self, file: FileToSave) -> str:
        kind = _KINDS.get(file.mime, "Image")
        name = f"display_{os.urandom(8).hex()}.{file.extension}"
        path = (self._output_dir / name).absolute()
        try:
            self._output_dir.mkdir(parents=True, exist_ok=True)
            write_file_in(self._output_dir, name, file.content)
        except OSError as exc:
            return f"{kind} ({file.mime}) could not be saved to {path}: {exc}"
        self.files.append(str(path))
        return f"{kind} data saved to {path}"
