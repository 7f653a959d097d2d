"""parley's loggers: their names, their levels, and what a record may contain.

parley logs through the standard `logging` module, always on a logger from `get_logger`, whose
names are listed in `LOGGER_NAMES`. It adds no handler and sets no level: nothing is printed
unless the application configures logging, for example
``logging.basicConfig(level=logging.INFO)``, or
``logging.getLogger("parley").setLevel(logging.DEBUG)`` plus a handler of its own.

Levels:

- ``DEBUG``: routine steps: each model request and its reply's size, each executor start and
  close, each pool lease and return, each tool call.
- ``INFO``: events a user may want to know about: a model request retried or handed to the next
  config entry, a kernel or container restarted, a pool member replaced, code refused by the
  approval step.
- ``WARNING`` and above: only faults parley worked around but that point at a problem (a pool
  member that could not be replaced or closed, a user's callback that raised). Python's own
  last-resort handler prints these to stderr when the application configured no logging at all;
  a normal run logs nothing at these levels.

Records never hold a secret: config entries pass through `redact` (API keys become
``"sk-...abcd"``, ``user:password@`` in URLs becomes ``***@``), and message content is never
logged, only its size (the one exception is the scripted test server's ``parley.testing``, which
shows the start of each request and reply: it is a test tool, and ``--verbose`` exists for that).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

from parley.exceptions import redact_config

__all__ = ["LOGGER_NAMES", "describe_entry", "get_logger", "redact"]

#: Every logger parley uses, and what it reports.
LOGGER_NAMES: Mapping[str, str] = {
    "parley.agentchat": "chats started and ended, tool calls, pooled slots given back",
    "parley.coding": "executors started, restarted and closed; environment variables left out",
    "parley.coding.approval": "code blocks approved or refused before they run",
    "parley.coding.dispatch": "the execution dispatcher's batches and callbacks",
    "parley.coding.docker": "Docker containers started, restarted and removed",
    "parley.coding.jupyter": "kernels started, restarted (and why), and shut down",
    "parley.coding.pool": "pool members started, leased, reset, replaced and closed",
    "parley.logger": "AutoGen 0.2-style runtime logging (parley.runtime_logging): records it could not write",
    "parley.llm": "model requests, their retries and fallbacks to the next config entry",
    "parley.runtime": "runs of declared teams",
    "parley.runtime.mcp": "MCP servers started, restarted and stopped, and their failures",
    "parley.testing": "the scripted OpenAI server's requests and replies, cut to 200 characters (INFO)",
}


def get_logger(name: str) -> logging.Logger:
    """The logger ``name``, one of `LOGGER_NAMES`.

    Args:
        name: the full logger name, such as ``"parley.coding.pool"``.

    Raises:
        ValueError: ``name`` is not in `LOGGER_NAMES` (with a "did you mean"); add it there,
            with what it reports, so the docs list it.
    """
    if name not in LOGGER_NAMES:
        close = difflib.get_close_matches(name, list(LOGGER_NAMES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{name!r} is not one of parley's loggers (parley._logging.LOGGER_NAMES).{hint}")
    return logging.getLogger(name)


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A config entry that is safe to log: secrets masked, objects shown by their type's name.

    Args:
        entry: a ``config_list`` entry or any other settings mapping.

    Returns:
        A copy, with secret values masked as `parley.exceptions.redact_config` does, and values
        that are not plain data (a ``model_client`` instance, a pydantic class) replaced by their
        type's or class's name.
    """
    plain = (str, int, float, bool, type(None), list, tuple, dict)
    shown = {k: v if isinstance(v, plain) else getattr(v, "__name__", type(v).__name__) for k, v in entry.items()}
    return redact_config(shown)


def describe_entry(entry: Mapping[str, Any]) -> str:
    """A short, redacted ``model=... base_url=...`` for a config entry, for log lines.

    Args:
        entry: a ``config_list`` entry.

    Returns:
        ``"model=<model>"``, plus ``" base_url=<url>"`` when the entry names one (with any
        ``user:password@`` masked), or the name of its ``model_client``'s type.
    """
    safe = redact(entry)
    parts = [f"model={safe.get('model', '?')}"]
    if safe.get("base_url"):
        parts.append(f"base_url={safe['base_url']}")
    if "model_client" in safe:
        parts.append(f"model_client={safe['model_client']}")
    return " ".join(parts)
