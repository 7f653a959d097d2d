"""What the kernel executors do with a block before running it: check its language, save it.

The kernel executors run the same languages, so the rule lives here once. A block is run as a
cell, so it is saved only when a ``# filename:`` first line names a file. The executors whose
kernel runs on this machine save it with `save_named` (through `parley.coding._blocks.save_block`,
which every executor shares); a kernel on a gateway saves it where it runs
(`parley.coding.jupyter._save_cell`).
"""

from __future__ import annotations

import re
from pathlib import Path

from parley.coding._blocks import NotRun, save_block
from parley.coding.base import CodeBlock
from parley.coding.utils import normalize_lang, silence_pip

__all__ = [
    "SHELLS",
    "SUPPORTED_LANGUAGES",
    "block_source",
    "language_refusal",
    "prepare_block",
    "save_named",
    "strip_shell_escapes",
]

SUPPORTED_LANGUAGES = ("bash", "ipython", "python", "sh", "shell")
"""The languages the kernel executors run: Python with IPython syntax, and shell scripts."""

SHELLS = {"bash": "bash", "shell": "bash", "sh": "sh"}
"""Shell languages and the interpreter that runs each."""


_SHELL_ESCAPE = re.compile(r"^([ \t]*)!(?=[^\s=!])", re.MULTILINE)


def strip_shell_escapes(code: str) -> str:
    """A shell block's lines written as IPython shell escapes (``!echo hi``), as plain shell lines.

    Models used to notebooks write a shell block's commands as ``!cmd``; AutoGen 0.2's kernel
    executors sent every block to IPython, which ran them. parley runs a shell block with the
    shell, where ``!cmd`` is "command not found", so the ``!`` is dropped first. Only a ``!``
    that starts a line and is followed by a command is dropped: ``! cmd`` (bash's negation),
    ``!=`` and ``!!`` keep their shell meaning.

    Args:
        code: a shell block's source.

    Returns:
        The source with each such leading ``!`` removed (indentation kept).
    """
    return _SHELL_ESCAPE.sub(r"\1", code) if "!" in code else code


def block_source(code: str, lang: str) -> str:
    """The source a kernel executor runs for a block in ``lang`` (a canonical tag).

    Shell blocks lose their IPython ``!`` escapes (`strip_shell_escapes`); then ``pip install``
    lines get ``-qqq`` (`parley.coding.utils.silence_pip`), as in AutoGen 0.2.
    """
    if lang in SHELLS:
        code = strip_shell_escapes(code)
    return silence_pip(code, lang)


def language_refusal(lang: str) -> str | None:
    """None when the kernel executors run blocks in ``lang`` (a canonical tag), else the text refusing it."""
    if lang in SUPPORTED_LANGUAGES:
        return None
    if lang in ("", "unknown"):
        return (
            "Not run: the code block has no language tag and does not look like Python or a shell "
            f"script. Tag its fence with one of: {', '.join(SUPPORTED_LANGUAGES)}."
        )
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
