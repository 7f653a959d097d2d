"""AutoGen 0.2's ``autogen.runtime_logging``: re-exports `parley._runlog.session`.

::

    from parley import runtime_logging

    session_id = runtime_logging.start(config={"dbname": "logs.db"})   # or logger_type="file"
    ...                                                                # run chats
    runtime_logging.stop()

See `parley._runlog.session` for what is recorded. ``runtime_logging.is_logging`` reads the
current state.
"""

from typing import Any

from parley._runlog import session as _session
from parley._runlog.session import (
    get_connection,
    log_chat_completion,
    log_event,
    log_function_use,
    log_model_call,
    log_new_agent,
    log_new_client,
    log_new_wrapper,
    logging_enabled,
    now,
    start,
    stop,
)

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


def __getattr__(name: str) -> Any:
    """Module state that changes (``is_logging``) is read from the session module each time."""
    if name == "is_logging":
        return _session.is_logging
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
