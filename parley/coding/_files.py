"""Where a code block is saved: the ``# filename:`` marker and keeping paths inside ``work_dir``.

Only an explicit marker names a file (AutoGen 0.2 also guessed names from comments anywhere in
the code). Every executor that writes code to disk uses these two functions, so they share one
rule for what is inside ``work_dir``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["LANGUAGE_EXTENSIONS", "default_filename", "filename_from_marker", "resolve_in_work_dir"]

LANGUAGE_EXTENSIONS: dict[str, str] = {
    "python": "py",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "pwsh": "ps1",
    "javascript": "js",
    "typescript": "ts",
    "html": "html",
    "css": "css",
    "json": "json",
    "yaml": "yaml",
    "markdown": "md",
}
"""File extension (without the dot) for code saved in each canonical language; others get ``txt``."""

_MARKER = re.compile(r"^[ \t]*#[ \t]*filename[ \t]*:[ \t]*(?P<name>\S(?:.*\S)?)[ \t]*$", re.IGNORECASE)


def filename_from_marker(code: str) -> str | None:
    """Return the file name that a block's ``# filename: <name>`` marker asks for, if any.

    The marker must be the block's first line, or its second line when the first is a shebang
    (``#!/bin/bash``). The word ``filename`` is matched case-insensitively. A marker anywhere
    else is an ordinary comment.

    Args:
        code: the source of the block.

    Returns:
        The name as written (not yet checked; see `resolve_in_work_dir`), or None when there is
        no marker.
    """
    lines = code.lstrip("\r\n").splitlines()[:2]
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    match = _MARKER.match(lines[0]) if lines else None
    return match.group("name") if match else None


def default_filename(code: str, language: str) -> str:
    """Return the name a block without a marker is saved under: ``tmp_code_<sha256>.<ext>``.

    Args:
        code: the source of the block; its SHA-256 (hex) makes the name, so the same code always
            lands in the same file.
        language: the canonical language tag; `LANGUAGE_EXTENSIONS` gives the extension.

    Returns:
        The bare file name.
    """
    digest = hashlib.sha256(code.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"tmp_code_{digest}.{LANGUAGE_EXTENSIONS.get(language, 'txt')}"


def resolve_in_work_dir(work_dir: Path, name: str) -> Path | None:
    """Resolve ``name`` against ``work_dir`` and return it only if it stays inside ``work_dir``.

    Symlinks are followed (``Path.resolve``), so a link inside ``work_dir`` that points out of it
    is outside. Absolute names are allowed when they resolve inside ``work_dir``.

    Args:
        work_dir: the directory files must stay in. It need not exist yet.
        name: a relative or absolute path, usually from `filename_from_marker`.

    Returns:
        The resolved absolute path, or None when it would be outside ``work_dir``, would be
        ``work_dir`` itself, or is not a valid path (empty, or containing a NUL character).
    """
    if not name or "\x00" in name:
        return None
    root = work_dir.resolve()
    try:
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if target == root or not target.is_relative_to(root):
        return None
    return target
