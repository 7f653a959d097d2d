"""Images from code execution, attached to the reply as image content parts for a vision model.

Opt-in per agent with ``code_execution_config={"send_images": True}`` (or a dict of budget
limits). Only raster formats that vision models accept are attached: PNG, JPEG, GIF and WebP
(the formats OpenAI's vision input documents); SVG and HTML stay files.

The files are in directories that model-written code can change, so they are read as the host
writes there (`parley.coding._files.open_file_in`): a symbolic link is never followed, so code
cannot have a host file (a key, a password file) sent to the model as an "image", and a FIFO or
device is refused instead of read.
"""

from __future__ import annotations

import base64
import difflib
import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from parley.coding._files import SymlinkNotFollowedError, read_file_in
from parley.exceptions import ConfigError
from parley.llm.types import ImagePart

__all__ = ["IMAGE_MEDIA_TYPES", "ImageBudget", "image_parts"]

IMAGE_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                     ".webp": "image/webp"}  # fmt: skip


@dataclass(frozen=True)
class ImageBudget:
    """How many image bytes one code-execution reply may carry.

    Attributes:
        max_count: images attached per reply at most. Default 4.
        max_bytes: total size of the attached image files, in bytes. Default 4,000,000. An image
            that would go over is left out (the reply says so); the next smaller one may still fit.
        detail: OpenAI's ``image_url.detail``: ``"auto"``, ``"low"`` or ``"high"``. Default "auto".
    """

    max_count: int = 4
    max_bytes: int = 4_000_000
    detail: str = "auto"

    @classmethod
    def from_config(cls, value: Any) -> ImageBudget | None:
        """Read ``code_execution_config["send_images"]``: False/None (off), True (defaults) or a dict.

        Raises:
            ConfigError: an unknown key (with "did you mean") or a bad value.
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, dict):
            raise ConfigError(
                f"send_images must be True, False or a dict such as {{'max_count': 4}}, got {value!r}.",
                key="send_images",
            )
        known = [f.name for f in fields(cls)]
        for key in value:
            if key not in known:
                raise ConfigError(
                    f"send_images has no option {key!r}; the options are {', '.join(known)}.",
                    key="send_images",
                    suggestions=difflib.get_close_matches(str(key), known, 1),
                )
        budget = cls(**value)
        if not (isinstance(budget.max_count, int) and budget.max_count >= 0):
            raise ConfigError(f"send_images.max_count must be an int >= 0, got {budget.max_count!r}.")
        if not (isinstance(budget.max_bytes, int) and budget.max_bytes >= 0):
            raise ConfigError(f"send_images.max_bytes must be an int >= 0 (bytes), got {budget.max_bytes!r}.")
        if budget.detail not in ("auto", "low", "high"):
            raise ConfigError(f"send_images.detail must be 'auto', 'low' or 'high', got {budget.detail!r}.")
        return budget


def image_parts(
    paths: Sequence[str], budget: ImageBudget, *, root: Path | None = None
) -> tuple[list[ImagePart], list[str]]:
    """Turn the image files among ``paths`` into ``data:`` URL image parts, within ``budget``.

    Each file is read without following a symbolic link: with ``root``, none below ``root``
    (and a file outside ``root`` is left out); without it, the file itself must not be a link.
    Only regular files are read, and none larger than what is left of the byte budget.

    Args:
        paths: a result's ``output_files``.
        budget: the limits.
        root: the directory the images must be in (the executor's ``work_dir`` or
            ``output_dir``), or None to check only the file itself.

    Returns:
        ``(parts, left_out)``: the image parts in the order of ``paths``, and the image files left
        out, because the count or byte budget was reached, or, with the reason in parentheses,
        because they were not read (a symbolic link, outside ``root``, not a regular file ...).
    """
    parts: list[ImagePart] = []
    left_out: list[str] = []
    used = 0
    for p in paths:
        media = IMAGE_MEDIA_TYPES.get(Path(p).suffix.lower())
        if media is None:
            continue
        if len(parts) >= budget.max_count:
            left_out.append(str(p))
            continue
        try:
            data = _read_image(Path(p), root, budget.max_bytes - used)
        except OSError as exc:
            left_out.append(str(p) if exc.errno == errno.EFBIG else f"{p} ({_why(exc)})")
            continue
        used += len(data)
        url = f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url, "detail": budget.detail}})  # type: ignore[typeddict-item]
    return parts, left_out


def _read_image(path: Path, root: Path | None, max_bytes: int) -> bytes:
    """Read ``path`` without following links (below ``root``, or the file itself); at most ``max_bytes``."""
    absolute = Path(os.path.abspath(path))
    base = Path(os.path.abspath(root)) if root is not None else absolute.parent
    if not absolute.is_relative_to(base) or absolute == base:
        raise OSError(errno.EACCES, "outside the working directory, not read", str(path))
    return read_file_in(base, absolute.relative_to(base), max_bytes=max_bytes)


def _why(exc: OSError) -> str:
    if isinstance(exc, SymlinkNotFollowedError):
        return f"{exc.filename} is a symbolic link, which is not followed"
    return exc.strerror or str(exc)
