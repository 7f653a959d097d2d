"""Checks for the arguments the kernel executors share, each failing with a `ConfigError`."""

from __future__ import annotations

import math
import os
from pathlib import Path

from parley.exceptions import ConfigError

__all__ = ["check_dir", "check_max_output_chars", "check_seconds"]


def check_seconds(name: str, value: object) -> float:
    """Return ``value`` as float seconds.

    Raises:
        ConfigError: ``value`` is not a positive, finite number (bools are refused).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ConfigError(f"{name} must be a positive, finite number of seconds, got {value!r}.", key=name)
    return float(value)


def check_max_output_chars(value: object) -> int:
    """Return ``value`` as the output budget in characters.

    Raises:
        ConfigError: ``value`` is not an int of at least 2.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ConfigError(
            f"max_output_chars must be an int of at least 2 (characters), got {value!r}.", key="max_output_chars"
        )
    return value


def check_dir(name: str, value: object) -> Path | None:
    """Return ``value`` as a Path, or None when it is None.

    Raises:
        ConfigError: ``value`` is neither None, a str nor a path-like object.
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{name} must be a str or Path, got {value!r}.", key=name)
    return Path(value)
