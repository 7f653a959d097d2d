"""What the kernel executors do with a block before running it: check its language, save it.

The kernel executors run the same languages, so the rule lives here once. A block is run as a
cell, so it is saved only when a ``# filename:`` first line names a file. The executors whose
kernel runs on this machine save it with `save_named` (through `parley.coding._blocks.save_block`,
which every executor shares); a kernel on a gateway saves it where it runs
(`parley.coding.jupyter._save_cell`).
"""

from __future__ import annotations

from pathlib import Path

from parley.coding._blocks import NotRun, save_block
from parley.coding.base import CodeBlock
from parley.coding.utils import normalize_lang

__all__ = ["SHELLS", "SUPPORTED_LANGUAGES", "language_refusal", "prepare_block", "save_named"]

SUPPORTED_LANGUAGES = ("bash", "ipython", "python", "sh", "shell")
"""The languages the kernel executors run: Python with IPython syntax, and shell scripts."""

SHELLS = {"bash": "bash", "shell": "bash", "sh": "sh"}
"""Shell languages and the interpreter that runs each."""


def language_refusal(lang: str) -> str | None:
    """None when the kernel executors run blocks in ``lang`` (a canonical tag), else the text refusing it."""
    if lang in SUPPORTED_LANGUAGES:
        return None
    return (
        f"Not run: this executor does not run {lang!r} code blocks; it runs: "
        f"{', '.join(SUPPORTED_LANGUAGES)}. Tag the block with one of them."
    )


def save_named(code: str, work_dir: Path) -> str | None:
    """Save a block whose ``# filename:`` first line names a file inside ``work_dir``.

    Returns:
        None when the block may run (saved, or naming no file), else the text telling the model
        why it was not run (a file outside ``work_dir``, a file that cannot be written).
    """
    saved = save_block(code, work_dir, None, outside_rule="files must stay inside it.")
    return saved.text if isinstance(saved, NotRun) else None


def prepare_block(block: CodeBlock, work_dir: Path) -> tuple[str, str | None]:
    """Check a block's language and save it when a ``# filename:`` first line names a file.

    Args:
        block: the block to run.
        work_dir: the absolute directory named files must stay in.

    Returns:
        ``(language, refusal)``: the canonical language, and None when the block may run, or
        the text telling the model why it was not run (an unsupported language, a file outside
        ``work_dir``, a file that cannot be written).
    """
    lang = normalize_lang(block.language)
    refusal = language_refusal(lang)
    return lang, refusal if refusal is not None else save_named(block.code, work_dir)
