"""The environment rule: what model-written code sees of this process's environment variables.

Code that runs on this machine (the local executor, the embedded kernel) inherits the
environment, which often holds the user's keys. By default every variable that looks like a
secret is left out; the user passes what the code needs explicitly (``env=``), or lets chosen
variables through (``env_allowlist=``).

A variable looks like a secret when (names compared without regard to case):

- one of the words in `SECRET_WORDS` is a word of its name, anywhere (words are separated by
  underscores: ``OPENAI_API_KEY``, ``GITHUB_TOKEN_FOR_CI``, ``AWS_SECRET_ACCESS_KEY``,
  ``DB_PASSWORD``, ``GOOGLE_APPLICATION_CREDENTIALS``), or its name ends with one of
  `SECRET_SUFFIXES` (``SIGNING_KEY``, ``BASIC_AUTH``) or is one of them alone;
- its name is one of `SECRET_NAMES`: well-known secrets whose names the suffixes miss
  (``AWS_ACCESS_KEY_ID``, ``OAI_CONFIG_LIST``, ``SSH_AUTH_SOCK`` ...);
- its value is a URL with a password in it (``postgres://user:password@host/db``).
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
from collections.abc import Iterable, Mapping

from parley._logging import get_logger
from parley.exceptions import ConfigError

__all__ = [
    "SECRET_NAMES",
    "SECRET_SUFFIXES",
    "SECRET_WORDS",
    "check_env",
    "check_env_allowlist",
    "code_environment",
    "looks_secret",
]

_log = get_logger("parley.coding")

SECRET_WORDS: tuple[str, ...] = (
    "API_KEY",
    "APIKEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIALS",
    "CREDENTIAL",
)
"""Words that make a variable a secret wherever they stand in its name."""

SECRET_SUFFIXES: tuple[str, ...] = ("KEY", "AUTH")
"""Words that make a variable a secret when its name ends with them (``KEY_FILE`` is a path)."""

SECRET_NAMES: frozenset[str] = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "DOCKER_AUTH_CONFIG",
        "GH_ENTERPRISE_TOKEN",
        "KUBECONFIG",
        "NETRC",
        "OAI_CONFIG_LIST",
        "SSH_AUTH_SOCK",
    }
)
"""Well-known secret-bearing variables whose names the suffixes do not catch."""

_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)
_SECRET_NAME = re.compile(
    "(?:^|_)(?:" + "|".join(SECRET_WORDS) + ")(?:_|$)"
    "|(?:^|_)(?:" + "|".join(SECRET_SUFFIXES) + ")$"
    "|^(?:" + "|".join(sorted(SECRET_NAMES)) + ")$",
    re.IGNORECASE,
)


def looks_secret(name: str, value: str = "") -> bool:
    """True when the variable ``name`` (with ``value``) looks like a secret; see the module docstring."""
    return _looks_secret(name, value)


@functools.lru_cache(maxsize=1024)
def _looks_secret(name: str, value: str) -> bool:
    # Cached: every block's environment is filtered from the same few dozen variables, and two
    # regular expressions per variable were a tenth of a local block's cost.
    return bool(_SECRET_NAME.search(name)) or ("://" in value and bool(_URL_WITH_PASSWORD.search(value)))


def _allowed(name: str, allowlist: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name.upper(), pattern.upper()) for pattern in allowlist)


def code_environment(
    base: Mapping[str, str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    allowlist: Iterable[str] = (),
) -> dict[str, str]:
    """The environment for model-written code: ``base`` without its secrets, then ``env``.

    Args:
        base: the environment to start from. Default: this process's (``os.environ``).
        env: variables to set for the code, passed as given even when they look like secrets
            (the user chose them).
        allowlist: names, or shell-style patterns (``"MY_*"``), of ``base`` variables to pass
            even when they look like secrets. Compared without regard to case.

    Returns:
        A new mapping; the names left out are logged (names only) on the ``parley.coding``
        logger at DEBUG level.
    """
    allow = tuple(allowlist)
    kept, dropped = _filter_environ(allow) if base is None else _filter(base, allow)
    kept = dict(kept)
    if dropped and _log.isEnabledFor(logging.DEBUG):
        _log.debug("left out of the code's environment (they look like secrets): %s", ", ".join(sorted(dropped)))
    kept.update(env or {})
    return kept


def _filter(source: Mapping[str, str], allow: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """``source``'s variables that may pass, and the names of those left out."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in source.items():
        if looks_secret(name, value) and not _allowed(name, allow):
            dropped.append(name)
        else:
            kept[name] = value
    return kept, tuple(dropped)


_FILTERED: dict[tuple[str, ...], tuple[dict[bytes, bytes], dict[str, str], tuple[str, ...]]] = {}
"""`_filter` of ``os.environ`` per allowlist, with the raw environment it was made from."""


def _filter_environ(allow: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """`_filter` of ``os.environ``, made again only when the environment changed (the caller copies it).

    Every block's environment is filtered from the same few dozen variables: reading
    ``os.environ`` decodes each name and value again (about 400 Python calls a block). The
    raw bytes behind it (``os.environ._data`` on POSIX) are compared instead, in C; where they
    cannot be had the environment is filtered each time.
    """
    raw = getattr(os.environ, "_data", None)
    if not isinstance(raw, dict) or len(_FILTERED) > 64:
        _FILTERED.clear()
        return _filter(os.environ, allow)
    made = _FILTERED.get(allow)
    if made is not None and made[0] == raw:
        return made[1], made[2]
    kept, dropped = _filter(os.environ, allow)
    _FILTERED[allow] = (dict(raw), kept, dropped)
    return kept, dropped


def check_env(value: object) -> dict[str, str] | None:
    """Return ``env=`` as a dict, or None.

    Raises:
        ConfigError: it is not a mapping of str to str.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(
            f"env must map variable names to string values, e.g. {{'MY_TOKEN': '...'}}; got {value!r:.80}.", key="env"
        )
    return dict(value)


def check_env_allowlist(value: object) -> tuple[str, ...]:
    """Return ``env_allowlist=`` as a tuple of names or patterns.

    Raises:
        ConfigError: it is a single string, or not an iterable of strings.
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            f"env_allowlist must be a list of variable names or patterns, e.g. ['MY_TOKEN', 'AWS_*']; got {value!r}.",
            key="env_allowlist",
        )
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError(f"env_allowlist must hold strings; got {items!r}.", key="env_allowlist")
    return items
