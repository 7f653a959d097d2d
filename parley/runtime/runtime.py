"""`Runtime`: teams from a config, run as typed event streams, with budgets, sessions and hot reload."""

from __future__ import annotations

import asyncio
import difflib
import re
import uuid
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from parley._sync import run_sync
from parley.exceptions import ConfigError
from parley.runtime._build import unknown_target
from parley.runtime._loading import load_config, parse_config
from parley.runtime._run import STOP_DEADLINE_S, execute_run, new_run_id
from parley.runtime._shared import SharedExecutors
from parley.runtime.config import BudgetConfig, RuntimeConfig
from parley.runtime.events import RunEvent, RunFinished
from parley.runtime.records import RecordWriter
from parley.runtime.result import RunResult
from parley.runtime.session import Session

__all__ = ["Runtime"]

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Runtime:
    """Runs the agents and teams of a config, each run in a session.

    Build one with `from_config` (a file) or `from_dict`. Constructors do no I/O; executors are
    made when a session's agent first runs code, and closed with the session (`close_session`,
    `close`, or ``async with``).

    Args:
        config: the checked config.
        path: the file it came from (what `reload` reads again), if any.
        record_dir: when set, every run writes its events to ``<record_dir>/<run_id>.jsonl``
            (see `parley.runtime.records`).
    """

    def __init__(
        self, config: RuntimeConfig, *, path: str | Path | None = None, record_dir: str | Path | None = None
    ) -> None:
        self._config = config
        self._path = Path(path) if path is not None else None
        self._record_dir = Path(record_dir) if record_dir is not None else None
        self._sessions: dict[str, Session] = {}
        self._shared = SharedExecutors()
        self._closed = False

    @classmethod
    def from_config(cls, path: str | Path, *, record_dir: str | Path | None = None) -> Runtime:
        """A runtime for the config file at ``path`` (YAML, TOML or JSON).

        Raises:
            parley.exceptions.RuntimeConfigError: the file cannot be read, or any problem in it,
                each with its path and a "did you mean".
        """
        return cls(load_config(path), path=path, record_dir=record_dir)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, record_dir: str | Path | None = None) -> Runtime:
        """A runtime for a config given as a dict (the file's shape).

        Raises:
            parley.exceptions.RuntimeConfigError: any problem, with its path and a "did you mean".
        """
        return cls(parse_config(data), record_dir=record_dir)

    @property
    def config(self) -> RuntimeConfig:
        """The config new sessions get."""
        return self._config

    # ---- runs ----------------------------------------------------------------------------
    async def run(
        self,
        target: str,
        task: str,
        *,
        session_id: str | None = None,
        budget: BudgetConfig | Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Run ``target`` (a team or agent id) on ``task`` and return how it ended.

        Args:
            target: a team id, or an agent id (a silent user sends the task; the agent answers once).
            task: the first message.
            session_id: continue this session's conversation (created if new); None: a new session.
            budget: limits for this run (a `BudgetConfig` or a dict of ``max_steps``,
                ``max_duration_s``, ``max_cost_usd``, ``max_tokens``); each overrides the config's
                default budget.

        Returns:
            The `RunResult`; a run that failed or hit a limit says so in ``stop_reason`` (and
            ``error``) rather than raising.

        Raises:
            ConfigError: an unknown target (with a "did you mean"), a bad session id or budget,
                or the runtime is closed.
            asyncio.CancelledError: the caller was cancelled; the run was stopped first (its code
                cancelled; the session's executors stay open for its next run).
        """
        session, limits = self._prepare(target, session_id, budget)
        run_id = new_run_id()
        writer = RecordWriter.open(self._record_dir, run_id) if self._record_dir is not None else None
        try:
            return await execute_run(session, target, task, limits, run_id, writer.write if writer else None)
        finally:
            if writer is not None:
                writer.close()

    def run_sync(
        self,
        target: str,
        task: str,
        *,
        session_id: str | None = None,
        budget: BudgetConfig | Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Sync shell over `run`; works inside a running event loop (a notebook) too."""
        return run_sync(self.run(target, task, session_id=session_id, budget=budget))

    async def run_stream(
        self,
        target: str,
        task: str,
        *,
        session_id: str | None = None,
        budget: BudgetConfig | Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """Run as `run` does, yielding each `parley.runtime.events.RunEvent` as it happens.

        The last event is `RunFinished`, carrying the `RunResult`. Leaving the loop early (or
        cancelling the consuming task) stops the run as a cancellation does; wrap the stream in
        `contextlib.aclosing` so that happens at once rather than when the generator is collected.

        Raises:
            ConfigError: as for `run`, before any event.
        """
        session, limits = self._prepare(target, session_id, budget)
        run_id = new_run_id()
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        writer = RecordWriter.open(self._record_dir, run_id) if self._record_dir is not None else None

        def emit(event: RunEvent) -> None:
            if writer is not None:
                writer.write(event)
            queue.put_nowait(event)

        producer = asyncio.ensure_future(execute_run(session, target, task, limits, run_id, emit))
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, RunFinished):
                    break
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.wait((producer,), timeout=STOP_DEADLINE_S)
            if producer.done() and not producer.cancelled():
                producer.exception()  # retrieved: a caller's cancellation is reported by its own task
            if writer is not None:
                writer.close()

    def _prepare(
        self, target: str, session_id: str | None, budget: BudgetConfig | Mapping[str, Any] | None
    ) -> tuple[Session, BudgetConfig]:
        if self._closed:
            raise ConfigError("This Runtime is closed; create a new one to run.")
        if isinstance(budget, Mapping):
            try:
                budget = BudgetConfig.model_validate(dict(budget))
            except Exception as e:
                raise ConfigError(f"Bad budget {dict(budget)!r}: {e}", key="budget") from None
        session = self._sessions.get(session_id) if session_id is not None else None
        config = session.config if session is not None else self._config
        if target not in config.teams and target not in config.agents:
            raise unknown_target(config, target)
        if session is None:
            session = self._new_session(session_id)
        return session, config.budget.merged(budget)

    def _new_session(self, session_id: str | None) -> Session:
        if session_id is None:
            session_id = uuid.uuid4().hex[:16]
        elif not _SESSION_ID.match(session_id):
            raise ConfigError(
                f"session_id must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit), "
                f"got {session_id!r}.",
                key="session_id",
            )
        session = self._sessions[session_id] = Session(session_id, self._config, self._shared)
        return session

    # ---- sessions ------------------------------------------------------------------------
    def list_sessions(self) -> list[str]:
        """The ids of the open sessions, oldest first."""
        return list(self._sessions)

    async def close_session(self, session_id: str) -> None:
        """Close a session: its executors (and any other per-session resource) are closed.

        Raises:
            ConfigError: no such session (with a "did you mean").
        """
        session = self._sessions.pop(session_id, None)
        if session is None:
            raise ConfigError(
                f"There is no session {session_id!r}.",
                key="session_id",
                suggestions=difflib.get_close_matches(session_id, list(self._sessions), 1),
            )
        await session.close()

    # ---- config --------------------------------------------------------------------------
    async def reload(self) -> RuntimeConfig:
        """Read the config file again; new sessions get the new config.

        Running runs and existing sessions keep the config they started with. Per-session
        resources marked ``release_on_reload`` (the MCP toolsets) of agents whose config, or the
        config of a tool they list, changed are closed, to be opened again on next use.

        Returns:
            The new config.

        Raises:
            ConfigError: the runtime was not made from a file.
            parley.exceptions.RuntimeConfigError: the file is broken; the old config stays in force.
        """
        if self._path is None:
            raise ConfigError("This Runtime was not made from a file, so there is nothing to reload.")
        new = await asyncio.to_thread(load_config, self._path)
        old = self._config
        changed = [a for a in old.agents if _agent_changed(old, new, a)]
        self._config = new
        for session in list(self._sessions.values()):
            for agent_id in changed:
                await session.release(agent_id, reload_only=True)
        return new

    def list_agents(self) -> list[str]:
        """The agent ids of the current config."""
        return list(self._config.agents)

    def list_teams(self) -> list[str]:
        """The team ids of the current config."""
        return list(self._config.teams)

    def get_agent_info(self, agent_id: str) -> dict[str, Any]:
        """What the current config says about an agent: ``id`` and its settings (no API key).

        Raises:
            ConfigError: no such agent (with a "did you mean").
        """
        spec = self._config.agents.get(agent_id)
        if spec is None:
            raise ConfigError(
                f"There is no agent {agent_id!r}; agents: {', '.join(self._config.agents) or 'none'}.",
                key="agent_id",
                suggestions=difflib.get_close_matches(agent_id, list(self._config.agents), 1),
            )
        return {"id": agent_id, **spec.model_dump()}

    # ---- lifecycle -----------------------------------------------------------------------
    async def close(self) -> None:
        """Close every session, then the shared executor pools. Idempotent."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        await self._shared.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _agent_changed(old: RuntimeConfig, new: RuntimeConfig, agent_id: str) -> bool:
    """Whether an agent's config, or that of a tool it lists (an MCP server's, say), differs in ``new``."""
    spec = old.agents[agent_id]
    if new.agents.get(agent_id) != spec:
        return True
    return any(new.tools.get(t) != old.tools.get(t) for t in spec.tools)
