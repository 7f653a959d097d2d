"""What the kernel executors do with a block before running it: check its language, save it.

Both kernel executors run the same languages and treat ``# filename:`` the same way, so the rule
lives here once.
"""

from __future__ import annotations

from pathlib import Path

from parley.coding._files import filename_from_marker, resolve_in_work_dir
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
    name = filename_from_marker(block.code)
    if name is None:
        return lang, None
    path = resolve_in_work_dir(work_dir, name)
    if path is None:
        return lang, (
            f"Not run: the '# filename: {name}' marker names a file outside the working directory "
            f"{work_dir}, and files must stay inside it. Use a relative path without '..', such as "
            f"'# filename: {Path(name).name}'."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.code if block.code.endswith("\n") else block.code + "\n", encoding="utf-8")
    except OSError as exc:
        return lang, f"Not run: could not write {path}: {exc}"
    return lang, None
