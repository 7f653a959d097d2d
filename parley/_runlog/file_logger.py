"""`FileLogger`: a runtime-logging session as JSON lines in a file.

One JSON object a line, each with ``"type"`` (``chat_completion``, ``new_agent``, ``event``,
``new_wrapper``, ``new_client``, ``function_call``, ``session``), ``"session_id"`` and
``"timestamp"``, then the same fields as the SQLite tables. The file is appended to.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import IO, Any

from parley._logging import get_logger
from parley._runlog._records import config_json, response_json, safe_json, source_name
from parley._runlog.base_logger import BaseLogger
from parley._runlog.logger_utils import get_current_ts

__all__ = ["FileLogger"]

_log = get_logger("parley.logger")


class FileLogger(BaseLogger):
    """Log a session as JSON lines.

    Args:
        config: ``{"filename": path}``; default ``"runtime.log"`` in the current directory.

    The constructor does no I/O; `start` opens the file for appending.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.log_file = os.path.abspath(str(self.config.get("filename", "runtime.log")))
        self.session_id = str(uuid.uuid4())
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def start(self) -> str:
        """Open the file and write the session's first line; return the session id.

        Raises:
            OSError: the file cannot be opened.
        """
        self._file = open(self.log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed by stop()
        self._write("session", started=True)
        return self.session_id

    def _write(self, kind: str, **fields: Any) -> None:
        record = {"type": kind, "session_id": self.session_id, "timestamp": get_current_ts(), **fields}
        try:
            line = json.dumps(record) + "\n"
            with self._lock:
                if self._file is not None:
                    self._file.write(line)
                    self._file.flush()
        except Exception as exc:  # a logger must never break the chat it logs
            _log.error("[file logger]Error writing a %s record to %s: %s", kind, self.log_file, exc)

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
        """Write a ``chat_completion`` line."""
        self._write(
            "chat_completion", invocation_id=str(invocation_id), client_id=client_id, wrapper_id=wrapper_id,
            source_name=source_name(source), request=json.loads(safe_json(request)),
            response=json.loads(response_json(response)), is_cached=is_cached, cost=cost, start_time=start_time,
            end_time=get_current_ts(),
        )  # fmt: skip

    def log_new_agent(self, agent: Any, init_args: Mapping[str, Any]) -> None:
        """Write a ``new_agent`` line."""
        self._write(
            "new_agent", agent_id=id(agent), name=source_name(agent), agent_type=type(agent).__name__,
            args=json.loads(config_json(init_args, agent=agent)),
        )  # fmt: skip

    def log_event(self, source: Any, name: str, **kwargs: Any) -> None:
        """Write an ``event`` line."""
        self._write("event", source_id=id(source), source_name=source_name(source), event_name=name,
                    json_state=json.loads(safe_json(kwargs)))  # fmt: skip

    def log_new_wrapper(self, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Write a ``new_wrapper`` line."""
        self._write("new_wrapper", wrapper_id=id(wrapper), json_state=json.loads(config_json(init_args)))

    def log_new_client(self, client: Any, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Write a ``new_client`` line."""
        self._write("new_client", client_id=id(client), wrapper_id=id(wrapper), client_class=type(client).__name__,
                    json_state=json.loads(config_json(init_args)))  # fmt: skip

    def log_function_use(self, source: Any, function: Callable[..., Any], args: Any, returns: Any) -> None:
        """Write a ``function_call`` line."""
        self._write(
            "function_call", source_id=id(source), source_name=source_name(source),
            function_name=getattr(function, "__name__", str(function)), args=json.loads(safe_json(args)),
            returns=json.loads(safe_json(returns)),
        )  # fmt: skip

    def stop(self) -> None:
        """Close the file. Idempotent."""
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()

    def get_connection(self) -> sqlite3.Connection | None:
        """None: a file logger has no connection."""
        return None
