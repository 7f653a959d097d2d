"""Runtime logging (AutoGen 0.2's ``autogen.runtime_logging``): record agents, model calls and function calls.

::

    from parley import runtime_logging

    session_id = runtime_logging.start(config={"dbname": "logs.db"})   # or logger_type="file"
    ...                                                                # run chats
    runtime_logging.stop()

While a session is open, parley records each agent built (``agents``), each `OpenAIWrapper`
and its clients (``oai_wrappers``, ``oai_clients``), each model call with its request,
response, cost and whether it came from the cache (``chat_completions``), each function an
agent runs for a ``function_call`` (``function_calls``), and each message an agent receives
(``events``, ``received_message``). API keys and endpoints are left out. A logger that fails
reports on the ``parley.logger`` logger and never breaks a chat.

The hooks sit at the edges (agent and wrapper construction, the wrapper's call, the function
runner) and cost one boolean check when no session is open. One session is open at a time, for
the whole process.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from parley._logging import get_logger
from parley._runlog.base_logger import BaseLogger
from parley._runlog.logger_utils import get_current_ts

__all__ = [
    "get_connection",
    "log_chat_completion",
    "log_event",
    "log_function_use",
    "log_model_call",
    "log_new_agent",
    "log_new_client",
    "log_new_wrapper",
    "logging_enabled",
    "now",
    "start",
    "stop",
]

_log = get_logger("parley.logger")

is_logging = False
"""True while a session is open (what the hooks check)."""

_logger: BaseLogger | None = None


def start(
    logger: BaseLogger | None = None, logger_type: str = "sqlite", config: Mapping[str, Any] | None = None
) -> str:
    """Open a logging session; stop any open one first.

    Args:
        logger: a logger to use; default one made from ``logger_type`` and ``config``.
        logger_type: ``"sqlite"`` (default) or ``"file"``.
        config: ``{"dbname": path}`` for SQLite (default ``"logs.db"``; ``":memory:"`` for
            one in memory), ``{"filename": path}`` for a file (default ``"runtime.log"``).

    Returns:
        The session id (a UUID4 string), also in every row written.

    Raises:
        ValueError: an unknown ``logger_type``.
        OSError, sqlite3.Error: the database or file cannot be opened.
    """
    global _logger, is_logging
    from parley._runlog.logger_factory import LoggerFactory

    stop()
    chosen = logger if logger is not None else LoggerFactory.get_logger(logger_type, config)
    session_id = chosen.start()
    _logger, is_logging = chosen, True
    return session_id


def stop() -> None:
    """Close the session (nothing is recorded after). Idempotent."""
    global _logger, is_logging
    logger, _logger, is_logging = _logger, None, False
    if logger is not None:
        logger.stop()


def logging_enabled() -> bool:
    """True while a session is open."""
    return is_logging


def get_connection() -> sqlite3.Connection | None:
    """The open session's SQLite connection (None for a file session, or with no session)."""
    return _logger.get_connection() if _logger is not None else None


def log_chat_completion(
    invocation_id: uuid.UUID | str,
    client_id: int,
    wrapper_id: int,
    agent: Any,
    request: Mapping[str, Any],
    response: Any,
    is_cached: int,
    cost: float,
    start_time: str,
) -> None:
    """Record one model call (``agent``: who asked, an agent or a name, or None)."""
    if _logger is not None:
        _logger.log_chat_completion(
            invocation_id, client_id, wrapper_id, agent, request, response, is_cached, cost, start_time
        )


def log_new_agent(agent: Any, init_args: Mapping[str, Any]) -> None:
    """Record an agent and the arguments it was built with."""
    if _logger is not None:
        _logger.log_new_agent(agent, init_args)


def log_event(source: Any, name: str, **kwargs: Any) -> None:
    """Record a named event of ``source``."""
    if _logger is not None:
        _logger.log_event(source, name, **kwargs)


def log_function_use(agent: Any, function: Callable[..., Any], args: Any, returns: Any) -> None:
    """Record a function call made by ``agent``."""
    if _logger is not None:
        _logger.log_function_use(agent, function, args, returns)


def log_new_wrapper(wrapper: Any, init_args: Mapping[str, Any]) -> None:
    """Record a model wrapper and its configuration."""
    if _logger is not None:
        _logger.log_new_wrapper(wrapper, init_args)


def log_new_client(client: Any, wrapper: Any, init_args: Mapping[str, Any]) -> None:
    """Record a model client of ``wrapper`` and its configuration entry."""
    if _logger is not None:
        _logger.log_new_client(client, wrapper, init_args)


def log_model_call(
    wrapper: Any, client: Any, messages: Any, params: Mapping[str, Any] | None, response: Any, cached: bool, start: str
) -> None:
    """Record a call of ``wrapper`` answered by ``client`` (the hook `OpenAIWrapper.respond` calls).

    ``response`` is what the log shows: the completion object, or the error's text.
    """
    if _logger is None:
        return
    request = {"messages": list(messages), **{k: v for k, v in (params or {}).items() if k != "agent"}}
    cost = float(getattr(response, "cost", 0.0) or 0.0)
    agent = (params or {}).get("agent")
    log_chat_completion(uuid.uuid4(), id(client), id(wrapper), agent, request, response, int(cached), cost, start)


def now() -> str:
    """The timestamp format of the logs (for a hook noting a call's start)."""
    return get_current_ts()
