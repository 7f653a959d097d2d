"""The config-driven runtime: teams from a file, runs as typed event streams, budgets, sessions.

The top layer of parley: nothing else in parley imports it. Start with `Runtime`::

    runtime = Runtime.from_config("team.yaml")
    result = await runtime.run("pair", "Print the first 10 primes.", budget={"max_steps": 20})
    async for event in runtime.run_stream("pair", "And now the next 10.", session_id=result.session_id):
        ...

See `parley.runtime.config` for the file's shape and `parley.runtime.events` for the events.
"""

from __future__ import annotations

from parley.exceptions import RuntimeConfigError
from parley.runtime._loading import load_config, parse_config
from parley.runtime.config import (
    AgentConfig,
    BudgetConfig,
    ChatStepConfig,
    ExecutorConfig,
    ModelEntry,
    RuntimeConfig,
    TeamConfig,
    ToolConfig,
)
from parley.runtime.console import ConsoleDisplay
from parley.runtime.events import (
    CodeExecutionFinishedEvent,
    CodeExecutionStartedEvent,
    CodeOutputEvent,
    MessageEvent,
    ModelTokensEvent,
    RunEvent,
    RunFinished,
    RunStarted,
    SpeakerSelectedEvent,
    ToolCallEvent,
    ToolResultEvent,
    UsageEvent,
    event_from_dict,
)
from parley.runtime.records import read_record
from parley.runtime.result import STOP_REASONS, RunResult, StopReason
from parley.runtime.runtime import Runtime
from parley.runtime.session import Resource, Session

Budget = BudgetConfig
"""A run's limits: ``max_steps``, ``max_duration_s``, ``max_cost_usd``, ``max_tokens``."""

__all__ = [
    "AgentConfig",
    "Budget",
    "BudgetConfig",
    "ChatStepConfig",
    "CodeExecutionFinishedEvent",
    "CodeExecutionStartedEvent",
    "CodeOutputEvent",
    "ConsoleDisplay",
    "ExecutorConfig",
    "MessageEvent",
    "ModelEntry",
    "ModelTokensEvent",
    "Resource",
    "RunEvent",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "Runtime",
    "RuntimeConfig",
    "RuntimeConfigError",
    "STOP_REASONS",
    "Session",
    "SpeakerSelectedEvent",
    "StopReason",
    "TeamConfig",
    "ToolCallEvent",
    "ToolConfig",
    "ToolResultEvent",
    "UsageEvent",
    "event_from_dict",
    "load_config",
    "parse_config",
    "read_record",
]
