"""`BaseLogger`: what a runtime logger implements (AutoGen 0.2's ``autogen.logger.base_logger``)."""

from __future__ import annotations

import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["BaseLogger", "LLMConfig"]

LLMConfig = dict[str, Any]
"""One model-client configuration entry."""


class BaseLogger(ABC):
    """A sink for `parley.runtime_logging`: one session, from `start` to `stop`.

    Every ``log_*`` method must not raise: a logger that fails reports on the ``parley.logger``
    logger and lets the chat go on.
    """

    @abstractmethod
    def start(self) -> str:
        """Open the session; return its id (a UUID4 string)."""

    @abstractmethod
    def log_chat_completion(
        self,
        invocation_id: uuid.UUID | str,
        client_id: int,
        wrapper_id: int,
        source: Any,
        request: Mapping[str, Any],
        response: Any,
        is_cached: int,
        cost: float,
        start_time: str,
    ) -> None:
        """Record one model call: its request, response (or error text), cost and times."""

    @abstractmethod
    def log_new_agent(self, agent: Any, init_args: Mapping[str, Any]) -> None:
        """Record an agent and the arguments it was built with (secrets left out)."""

    @abstractmethod
    def log_event(self, source: Any, name: str, **kwargs: Any) -> None:
        """Record a named event of ``source`` (an agent or a name) with its details."""

    @abstractmethod
    def log_new_wrapper(self, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Record a model wrapper (`OpenAIWrapper`) and its configuration (secrets left out)."""

    @abstractmethod
    def log_new_client(self, client: Any, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Record a model client of ``wrapper`` and its configuration entry (secrets left out)."""

    @abstractmethod
    def log_function_use(self, source: Any, function: Callable[..., Any], args: Any, returns: Any) -> None:
        """Record one call of a user function by ``source``: its arguments and what it returned."""

    @abstractmethod
    def stop(self) -> None:
        """End the session and release what the logger holds. Idempotent."""

    @abstractmethod
    def get_connection(self) -> sqlite3.Connection | None:
        """The SQLite connection, for a logger that has one; else None."""
