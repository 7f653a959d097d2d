"""What the kernel executors do with a block before running it: check its language, save it.

Both kernel executors run the same languages, so the rule lives here once. A block is run as a
cell, so it is saved only when a ``# filename:`` first line names a file; where and how is
`parley.coding._blocks.save_block`, which every executor shares.
"""

from __future__ import annotations

from pathlib import Path

from parley.coding._blocks import NotRun, save_block
from parley.coding.base import CodeBlock
from parley.coding.utils import normalize_lang

__all__ = ["SHELLS", "SUPPORTED_LANGUAGES", "prepare_block"]

SUPPORTED_LANGUAGES = ("bash", "ipython", "python", "sh", "shell")
"""The languages the kernel executors run: Python with IPython syntax, and shell scripts."""

SHELLS = {"bash": "bash", "shell": "bash", "sh": "sh"}
"""Shell languages and the interpreter that runs each."""


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
    if lang not in SUPPORTED_LANGUAGES:
        return lang, (
            f"Not run: this executor does not run {lang!r} code blocks; it runs: "
            f"{', '.join(SUPPORTED_LANGUAGES)}. Tag the block with one of them."
        )
    saved = save_block(block.code, work_dir, None, outside_rule="files must stay inside it.")
    return lang, saved.text if isinstance(saved, NotRun) else None
