"""One run: its chats in a task of their own, its events numbered and handed on, its budget kept.

The chats run in a child task whose context carries a chat event sink
(`parley.agentchat.events`) and a usage counter (`parley.llm.usage.CHAT_USAGE`). The sink turns
each chat event into a typed run event and counts messages; the counter counts the tokens and
cost of every model call made in the run. When a limit is reached the child task is cancelled,
and in-flight code with it: each executor stops what the block started (a command's process
tree, a container's exec, a kernel's cell by an interrupt) and stays open, so a kernel keeps its
variables for the session's next run. An executor that cannot stop its code (a sync executor
running in a worker thread) is closed instead, and its next result says that its state was lost.
The session's executors close with the session. The caller's cancellation stops the run the same
way.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from parley.agentchat import events as chat_events
from parley.agentchat._display import content_str
from parley.llm.types import ModelResponse
from parley.llm.usage import CHAT_USAGE
from parley.runtime._teams import Outcome, run_target
from parley.runtime.config import BudgetConfig
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
)
from parley.runtime.result import RunResult, StopReason
from parley.runtime.session import Session

__all__ = ["STOP_DEADLINE_S", "execute_run", "new_run_id"]

STOP_DEADLINE_S = 60.0
"""The longest wait, in seconds, for a stopped run's chats to unwind (killing its code)."""

Emit = Callable[[RunEvent], None]


def new_run_id() -> str:
    """A new run id."""
    return uuid.uuid4().hex[:16]


class _Run:
    """A run's counters and the sink that turns chat events into run events."""

    def __init__(self, run_id: str, session_id: str, budget: BudgetConfig, emit: Emit | None) -> None:
        self.run_id = run_id
        self.session_id = session_id
        self.budget = budget
        self._emit = emit
        self.sequence = 0
        self.steps = 0
        self.prompt = self.completion = self.total = 0
        self.cost = 0.0
        self.stop: StopReason | None = None
        self.task: asyncio.Task[Outcome] | None = None
        self.messages: list[dict[str, Any]] = []

    def send(self, cls: type[RunEvent], **fields: Any) -> None:
        if self._emit is None:
            self.sequence += 1
            return
        event = cls(
            run_id=self.run_id, session_id=self.session_id, sequence=self.sequence, timestamp=time.time(), **fields
        )
        self.sequence += 1
        self._emit(event)

    def limit(self, reason: StopReason) -> None:
        """Stop the run for ``reason`` (the first reason wins)."""
        if self.stop is None:
            self.stop = reason
            if self.task is not None:
                self.task.cancel()

    def add(self, response: ModelResponse) -> None:
        """Count one model call of the run; this makes the run a `parley.llm.usage.UsageCounter`.

        Every call through a model client in the run's context is counted, whoever makes it (an
        agent's reply, a group chat's speaker selection, a summary). A cached reply costs nothing.
        """
        if response.cached:
            return
        u = response.usage
        self.prompt += u.prompt_tokens
        self.completion += u.completion_tokens
        self.total += u.total_tokens
        self.cost += response.cost
        b = self.budget
        if (b.max_tokens is not None and self.total >= b.max_tokens) or (
            b.max_cost_usd is not None and self.cost >= b.max_cost_usd
        ):
            self.limit("budget")

    def on_chat_event(self, ev: chat_events.ChatEvent) -> None:
        if isinstance(ev, chat_events.MessageSent):
            msg: dict[str, Any] = dict(ev.message)
            msg.setdefault("name", ev.sender)
            self.messages.append(msg)
            if self._emit is None:  # nobody watches (run() without records): no event to build
                self.sequence += 1
            else:
                self.send(MessageEvent, sender=ev.sender, recipient=ev.recipient,
                          content=content_str(msg.get("content")), message=msg)  # fmt: skip
            self.steps += 1
            if self.budget.max_steps is not None and self.steps >= self.budget.max_steps:
                self.limit("max_steps")
        elif isinstance(ev, chat_events.CodeOutput):
            self.send(CodeOutputEvent, agent=ev.agent, text=ev.text)
        elif isinstance(ev, chat_events.ModelTokens):
            self.send(ModelTokensEvent, agent=ev.agent, text=ev.text)
        elif isinstance(ev, chat_events.ModelUsage):
            cost = 0.0 if ev.cached else ev.cost
            self.send(UsageEvent, agent=ev.agent, model=ev.model, prompt_tokens=ev.prompt_tokens,
                      completion_tokens=ev.completion_tokens, total_tokens=ev.total_tokens, cost_usd=cost,
                      cached=ev.cached)  # fmt: skip
        elif isinstance(ev, chat_events.SpeakerSelected):
            self.send(SpeakerSelectedEvent, manager=ev.manager, speaker=ev.speaker)
        elif isinstance(ev, chat_events.ToolCalled):
            self.send(ToolCallEvent, agent=ev.agent, call_id=ev.call_id, name=ev.name, arguments=ev.arguments)
        elif isinstance(ev, chat_events.ToolResult):
            self.send(ToolResultEvent, agent=ev.agent, call_id=ev.call_id, name=ev.name, content=ev.content)
        elif isinstance(ev, chat_events.CodeExecutionStarted):
            self.send(CodeExecutionStartedEvent, agent=ev.agent, blocks=[list(b) for b in ev.blocks])
        elif isinstance(ev, chat_events.CodeExecutionFinished):
            self.send(CodeExecutionFinishedEvent, agent=ev.agent, exit_code=ev.exit_code, output=ev.output)


async def _chats(state: _Run, session: Session, target: str, task: str) -> Outcome:
    CHAT_USAGE.set((*CHAT_USAGE.get(), state))  # this task's own context: no reset needed
    with chat_events.send_events_to(state.on_chat_event):
        return await run_target(session, target, task)


async def execute_run(
    session: Session, target: str, task: str, budget: BudgetConfig, run_id: str, emit: Emit | None
) -> RunResult:
    """Run ``target`` on ``task`` in ``session`` within ``budget``, handing each event to ``emit``.

    The last event is `RunFinished`. When the caller is cancelled, the run is stopped (its code
    cancelled; the session's executors stay open), `RunFinished` is still emitted with ``stop_reason="cancelled"``,
    and `asyncio.CancelledError` is raised.

    Returns:
        The result; errors of the chats are in it (``stop_reason="failed"``), never raised.
    """
    state = _Run(run_id, session.id, budget, emit)
    started = time.monotonic()
    state.send(RunStarted, target=target, task=task)
    loop = asyncio.get_running_loop()
    outcome: Outcome | None = None
    error: str | None = None
    caller_cancelled = False
    async with session.lock:
        session.runs += 1
        state.task = asyncio.ensure_future(_chats(state, session, target, task))
        timer = (
            loop.call_later(budget.max_duration_s, state.limit, "timeout")
            if budget.max_duration_s is not None
            else None
        )
        try:
            try:
                await asyncio.wait((state.task,))
            except asyncio.CancelledError:
                caller_cancelled = True
                state.limit("cancelled")
                await asyncio.wait((state.task,), timeout=STOP_DEADLINE_S)
        finally:
            if timer is not None:
                timer.cancel()
        if state.task.done() and not state.task.cancelled():
            exc = state.task.exception()
            if exc is None:
                outcome = state.task.result()
            elif state.stop is None:
                error = f"{type(exc).__name__}: {exc}"
    reason: StopReason
    if error is not None:
        reason = "failed"
    elif state.stop is not None:
        reason = state.stop
    else:
        assert outcome is not None
        reason = "terminated" if outcome.terminated else "completed"
    result = RunResult(
        run_id=run_id, session_id=session.id, target=target,
        final_output=outcome.final_output if outcome is not None else _last_text(state.messages),
        stop_reason=reason, messages=state.messages,
        prompt_tokens=state.prompt, completion_tokens=state.completion, total_tokens=state.total,
        cost_usd=state.cost, duration_s=time.monotonic() - started, error=error,
    )  # fmt: skip
    state.send(RunFinished, result=result)
    if caller_cancelled:
        raise asyncio.CancelledError
    return result


def _last_text(messages: list[dict[str, Any]]) -> str:
    return content_str(messages[-1].get("content")) if messages else ""
