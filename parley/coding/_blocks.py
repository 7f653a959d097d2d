"""What an executor does with a block before running it: check its language, save it in ``work_dir``.

Every executor refuses a language it does not run, honours a ``# filename:`` first line only
inside ``work_dir``, and writes the block there; these rules live here once. A block that is not
run is text for the model (and an exit code), never an exception.

- The command-line executors save every block, under a random ``tmp_code_<hex>.<ext>`` when it
  names no file, and run the file: `prepare_script`.
- The kernel executors run a block as a cell and save only a block that names a file: they call
  `save_block` without a default name (see `parley.coding.jupyter._blocks`).

A block is written without following symbolic links below ``work_dir``
(`parley.coding._files.write_file_in`): code in a sandbox that shares ``work_dir`` (Docker) may
plant links there, and the host must not write through them.

Texts come without a trailing newline; the caller ends the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from parley.coding._files import (
    SymlinkNotFollowedError,
    default_filename,
    filename_from_marker,
    resolve_in_work_dir,
    write_file_in,
)
from parley.coding.base import CodeBlock
from parley.coding.utils import normalize_lang, silence_pip

__all__ = ["NotRun", "Script", "prepare_script", "save_block"]

_SCRIPT_RULE = "code files must stay inside it. Nothing was written."
"""How the command-line executors state the rule when a ``# filename:`` points outside ``work_dir``."""


@dataclass(frozen=True)
class NotRun:
    """A block that is not run.

    Attributes:
        text: what to tell the model, without a trailing newline.
        exit_code: the block's exit code: 1 for a refusal, 0 for a block only saved.
        path: the file the block was saved to, or None when nothing was written.
    """

    text: str
    exit_code: int = 1
    path: Path | None = None


@dataclass(frozen=True)
class Script:
    """A block saved to ``path`` and ready to run in ``language`` (canonical tag)."""

    language: str
    path: Path


@overload
def save_block(code: str, work_dir: Path, default_name: str, *, outside_rule: str) -> Path | NotRun: ...
@overload
def save_block(code: str, work_dir: Path, default_name: None, *, outside_rule: str) -> Path | NotRun | None: ...
def save_block(code: str, work_dir: Path, default_name: str | None, *, outside_rule: str) -> Path | NotRun | None:
    """Write a block to the file its ``# filename:`` first line names, else to ``default_name``.

    The file is written with `write_file_in`: no symbolic link below ``work_dir`` is followed, and
    a link at the file's own name is replaced by the file.

    Args:
        code: the block's source; it is saved as UTF-8, ending with a newline.
        work_dir: the absolute directory the file must stay in.
        default_name: the file name in ``work_dir`` for a block without a marker, or None to
            save such a block nowhere.
        outside_rule: the words that state the rule in the refusal of a name outside
            ``work_dir`` (they follow "..., and ").

    Returns:
        The path written; None when the block names no file and there is no ``default_name``;
        or a `NotRun` (exit code 1) when the name is outside ``work_dir``, a directory on the way
        is a symbolic link, or the file cannot be written.
    """
    root = work_dir.resolve()
    name = filename_from_marker(code)
    if name is not None:
        path = resolve_in_work_dir(root, name)
        if path is None:
            return NotRun(
                f"Not run: Filename is not in the workspace. The '# filename: {name}' marker names a file "
                "outside the working directory "
                f"{work_dir}, and {outside_rule} Use a relative path without '..', such as "
                f"'# filename: {Path(name).name}'."
            )
    elif default_name is not None:
        path = root / default_name
    else:
        return None
    try:
        data = (code if code.endswith("\n") else code + "\n").encode("utf-8")
        try:
            return write_file_in(root, path.relative_to(root), data, ahead=True)
        except FileNotFoundError:
            if root.is_dir():
                raise
        root.mkdir(parents=True, exist_ok=True)  # made here, not before each write: one system call less
        return write_file_in(root, path.relative_to(root), data, ahead=True)
    except SymlinkNotFollowedError as exc:
        return NotRun(
            f"Not run: could not write {path}: {exc.filename} is a symbolic link, and links inside the working "
            "directory are never followed when a code file is written. Nothing was written. Remove the link, or "
            "name a file in a real directory."
        )
    except (OSError, ValueError) as exc:
        return NotRun(f"Not run: could not write {path}: {exc}")


def prepare_script(
    block: CodeBlock, work_dir: Path, policies: Mapping[str, bool], supported: Sequence[str]
) -> Script | NotRun:
    """Check a block's language and policy and save it, for a command-line executor to run.

    Args:
        block: the block to run.
        work_dir: the absolute directory the block is saved in.
        policies: per canonical language, True to run blocks, False to only save them (see
            `parley.coding._options.check_policies`); other languages are refused.
        supported: the languages the executor runs, as the refusal lists them.

    Returns:
        The saved `Script` (its ``pip install`` lines made quiet by
        `parley.coding.utils.silence_pip`), or a `NotRun`: a refused language, a ``# filename:`` outside
        ``work_dir`` or a file that cannot be written (exit code 1, nothing saved), or a block
        whose policy is False (exit code 0, saved).
    """
    lang = normalize_lang(block.language)
    if lang not in policies:
        return NotRun(_language_refusal(lang, supported))
    code = silence_pip(block.code, lang)
    saved = save_block(code, work_dir, default_filename(lang), outside_rule=_SCRIPT_RULE)
    if isinstance(saved, NotRun):
        return saved
    if not policies[lang]:
        return NotRun(f"Saved to {saved}; not run, because execution_policies[{lang!r}] is False.", 0, saved)
    return Script(lang, saved)


def _language_refusal(lang: str, supported: Sequence[str]) -> str:
    runs = ", ".join(supported)
    if lang in ("", "unknown"):
        return (
            "Not run: the code block has no language tag and does not look like Python or a "
            f"shell script. Tag its fence with the language; this executor runs: {runs}."
        )
    return (
        f"Not run: this executor does not run {lang!r} code blocks; it runs: {runs}. "
        f"(To have {lang!r} blocks saved as files instead, set execution_policies={{{lang!r}: False}}.)"
    )
