"""Checks for the constructor arguments the executors share, each failing with a `ConfigError`.

Every executor takes a ``timeout``, an output budget, directories and (the command-line ones)
``execution_policies``; each is checked here once, so a bad value gets the same message whichever
executor it was given to.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from parley.coding.utils import normalize_lang
from parley.exceptions import ConfigError

__all__ = [
    "check_dir",
    "check_max_output_chars",
    "check_max_saved_bytes",
    "check_path",
    "check_policies",
    "check_seconds",
    "check_work_and_output_dirs",
]


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


def check_max_saved_bytes(value: object) -> int:
    """Return ``value`` as the cap on a run's saved full output, in bytes.

    Raises:
        ConfigError: ``value`` is not an int of at least 0.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"max_saved_bytes must be an int of at least 0 (bytes; default 268435456, i.e. 256 MiB), got {value!r}.",
            key="max_saved_bytes",
        )
    return value


def check_path(name: str, value: object) -> Path:
    """Return ``value`` as a Path.

    Raises:
        ConfigError: ``value`` is neither a str nor a path-like object (None included).
    """
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{name} must be a str or Path, got {value!r}.", key=name)
    return Path(value)


def check_dir(name: str, value: object) -> Path | None:
    """Return ``value`` as a Path, or None when it is None (an optional directory).

    Raises:
        ConfigError: ``value`` is neither None, a str nor a path-like object.
    """
    return None if value is None else check_path(name, value)


def check_work_and_output_dirs(work_dir: object, output_dir: object) -> tuple[Path, Path]:
    """Return ``(work_dir, output_dir)`` for a kernel executor, as AutoGen 0.2 defaults them.

    Each defaults to the other when only one is given, and both to the current directory.

    Raises:
        ConfigError: either is neither None, a str nor a path-like object (``work_dir`` checked
            first).
    """
    given_work = check_dir("work_dir", work_dir)
    given_output = check_dir("output_dir", output_dir)
    work = given_work or given_output or Path(".")
    return work, given_output or work


def check_policies(overrides: Mapping[str, bool] | None, supported: Sequence[str]) -> dict[str, bool]:
    """Return the execution policy per canonical language: every ``supported`` one runs unless overridden.

    Args:
        overrides: ``execution_policies`` as given: language -> True (run) or False (save only).
            A language the executor does not run may only be set to False.
        supported: the languages the executor runs.

    Raises:
        ConfigError: a key is not a str or a value not a bool, or a language the executor cannot
            run is set to True (with the nearest supported language as a suggestion).
    """
    policies = {normalize_lang(lang): True for lang in supported}
    for lang, run in (overrides or {}).items():
        if not isinstance(lang, str) or not isinstance(run, bool):
            raise ConfigError(
                f"execution_policies maps a language to True (run) or False (save only); got {lang!r}: {run!r}.",
                key="execution_policies",
            )
        canonical = normalize_lang(lang)
        if run and canonical not in policies:
            raise ConfigError(
                f"execution_policies enables {lang!r}, which this executor cannot run. It runs: "
                f"{', '.join(supported)}; set {lang!r} to False to save such blocks.",
                key="execution_policies",
                suggestions=difflib.get_close_matches(canonical, supported, n=1),
            )
        policies[canonical] = run
    return policies
