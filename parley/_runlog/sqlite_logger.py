"""`SqliteLogger`: a runtime-logging session in a SQLite database (AutoGen 0.2's schema).

Tables: ``chat_completions``, ``agents``, ``oai_wrappers``, ``oai_clients``, ``function_calls``,
``events`` and ``version``, with AutoGen 0.2's columns, so its queries and dashboards work. One
connection serves every thread (writes are serialised by a lock). A failed write is reported on
the ``parley.logger`` logger, starting ``[sqlite logger]Error running query``, and the chat goes on.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from parley._logging import get_logger
from parley._runlog._records import config_json, response_json, safe_json, source_name
from parley._runlog.base_logger import BaseLogger
from parley._runlog.logger_utils import get_current_ts

__all__ = ["SqliteLogger"]

_log = get_logger("parley.logger")

SCHEMA_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS chat_completions (id INTEGER PRIMARY KEY, invocation_id TEXT,
    client_id INTEGER, wrapper_id INTEGER, session_id TEXT, source_name TEXT, request TEXT, response TEXT,
    is_cached INTEGER, cost REAL, start_time DATETIME DEFAULT CURRENT_TIMESTAMP,
    end_time DATETIME DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS agents (id INTEGER PRIMARY KEY, agent_id INTEGER, wrapper_id INTEGER,
    session_id TEXT, name TEXT, class TEXT, init_args TEXT, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(agent_id, session_id))""",
    """CREATE TABLE IF NOT EXISTS oai_wrappers (id INTEGER PRIMARY KEY, wrapper_id INTEGER, session_id TEXT,
    init_args TEXT, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(wrapper_id, session_id))""",
    """CREATE TABLE IF NOT EXISTS oai_clients (id INTEGER PRIMARY KEY, client_id INTEGER, wrapper_id INTEGER,
    session_id TEXT, class TEXT, init_args TEXT, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(client_id, session_id))""",
    """CREATE TABLE IF NOT EXISTS version (id INTEGER PRIMARY KEY CHECK (id = 1), version_number INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS events (event_name TEXT, source_id INTEGER, source_name TEXT,
    agent_module TEXT DEFAULT NULL, agent_class_name TEXT DEFAULT NULL, id INTEGER PRIMARY KEY, json_state TEXT,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS function_calls (source_id INTEGER, source_name TEXT, function_name TEXT,
    args TEXT DEFAULT NULL, returns TEXT DEFAULT NULL, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP)""",
)


class SqliteLogger(BaseLogger):
    """Log a session to SQLite.

    Args:
        config: ``{"dbname": path}``; default ``"logs.db"`` in the current directory;
            ``":memory:"`` keeps it in memory (read it through `get_connection`).

    The constructor does no I/O; `start` opens the database and creates the tables.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.dbname = str(self.config.get("dbname", "logs.db"))
        self.session_id = str(uuid.uuid4())
        self.con: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> str:
        """Open the database, create the tables, and return the session id.

        Raises:
            sqlite3.Error: the database cannot be opened.
        """
        self.con = sqlite3.connect(self.dbname, check_same_thread=False)
        for query in _TABLES:
            self._run(query)
        self._run("INSERT OR IGNORE INTO version (id, version_number) VALUES (1, ?)", (SCHEMA_VERSION,))
        return self.session_id

    def _run(self, query: str, args: tuple[Any, ...] = ()) -> None:
        if self.con is None:
            return
        try:
            with self._lock:
                self.con.execute(query, args)
                self.con.commit()
        except Exception as exc:  # a logger must never break the chat it logs
            _log.error("[sqlite logger]Error running query with query %s and args %s: %s", query, args, exc)

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
        """Record one model call in ``chat_completions``."""
        self._run(
            "INSERT INTO chat_completions (invocation_id, client_id, wrapper_id, session_id, request, response, "
            "is_cached, cost, start_time, end_time, source_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(invocation_id), client_id, wrapper_id, self.session_id, safe_json(request), response_json(response),
             is_cached, cost, start_time, get_current_ts(), source_name(source)),
        )  # fmt: skip

    def log_new_agent(self, agent: Any, init_args: Mapping[str, Any]) -> None:
        """Record an agent in ``agents`` (one row per agent and session, the latest arguments)."""
        client = getattr(agent, "client", None)
        self._run(
            "INSERT INTO agents (agent_id, wrapper_id, session_id, name, class, init_args, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, session_id) DO UPDATE SET "
            "wrapper_id = excluded.wrapper_id, name = excluded.name, class = excluded.class, "
            "init_args = excluded.init_args, timestamp = excluded.timestamp",
            (id(agent), id(client) if client is not None else "", self.session_id, source_name(agent) or "",
             type(agent).__name__, config_json(init_args, agent=agent), get_current_ts()),
        )  # fmt: skip

    def log_event(self, source: Any, name: str, **kwargs: Any) -> None:
        """Record an event in ``events``."""
        module = None if isinstance(source, str) else type(source).__module__
        cls = None if isinstance(source, str) else type(source).__name__
        self._run(
            "INSERT INTO events (source_id, source_name, event_name, agent_module, agent_class_name, json_state, "
            "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (id(source), source_name(source), name, module, cls, safe_json(kwargs), get_current_ts()),
        )

    def log_new_wrapper(self, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Record a model wrapper in ``oai_wrappers``."""
        self._run(
            "INSERT INTO oai_wrappers (wrapper_id, session_id, init_args, timestamp) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (wrapper_id, session_id) DO NOTHING",
            (id(wrapper), self.session_id, config_json(init_args), get_current_ts()),
        )

    def log_new_client(self, client: Any, wrapper: Any, init_args: Mapping[str, Any]) -> None:
        """Record a model client in ``oai_clients``."""
        self._run(
            "INSERT INTO oai_clients (client_id, wrapper_id, session_id, class, init_args, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, session_id) DO NOTHING",
            (id(client), id(wrapper), self.session_id, type(client).__name__, config_json(init_args),
             get_current_ts()),
        )  # fmt: skip

    def log_function_use(self, source: Any, function: Callable[..., Any], args: Any, returns: Any) -> None:
        """Record a function call in ``function_calls``."""
        self._run(
            "INSERT INTO function_calls (source_id, source_name, function_name, args, returns, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (id(source), source_name(source), getattr(function, "__name__", str(function)), safe_json(args),
             safe_json(returns), get_current_ts()),
        )  # fmt: skip

    def stop(self) -> None:
        """Close the database. Idempotent."""
        con, self.con = self.con, None
        if con is not None:
            con.close()

    def get_connection(self) -> sqlite3.Connection | None:
        """The open connection, or None before `start` and after `stop`."""
        return self.con
