"""Watching an agent's work as it happens: code output live on the console, and chat events.

The reply functions call these at their edges. Each costs one context-variable read when nobody
watches (no event sink is set and the agent is quiet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parley.agentchat._code_execution import CodeExecution
from parley.agentchat.events import (
    CodeExecutionFinished,
    CodeExecutionStarted,
    CodeOutput,
    ModelUsage,
    ToolCalled,
    ToolResult,
    sink_now,
)
from parley.agentchat.io import IOStream
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.live_output import listen
from parley.llm.types import Message, ModelResponse, ToolCall

__all__ = ["report_tool_calls", "report_tool_results", "report_usage", "run_watched"]


async def run_watched(agent: str, setup: CodeExecution, blocks: Sequence[CodeBlock], *, show: bool) -> CodeResult:
    """Run ``blocks`` with ``setup``, showing their output on the console while they run when ``show``.

    With an event sink set, the start, each piece of output as it arrives, and the end are
    reported too (`parley.agentchat.events`).
    """
    sink = sink_now()
    # An executor that shows its output itself (the notebook executor prints into the running
    # cell) gets no second copy on the console: in a notebook that copy would be captured too.
    show = show and not getattr(setup.executor, "shows_output", False)
    if sink is None and not show:
        return await setup.run(list(blocks))
    io = IOStream.get_default() if show else None
    tail = [""]

    def on_text(text: str) -> None:
        if io is not None:
            io.print(text, end="", flush=True)
            tail[0] = text[-1]
        if sink is not None:
            sink(CodeOutput(agent, text))

    if sink is not None:
        sink(CodeExecutionStarted(agent, tuple((b.language, b.code) for b in blocks)))
    with listen(on_text):
        result = await setup.run(list(blocks))
    if io is not None and tail[0] not in ("", "\n"):
        io.print("", flush=True)
    if sink is not None:
        sink(CodeExecutionFinished(agent, result.exit_code, result.output))
    return result


def report_tool_calls(agent: str, calls: Sequence[ToolCall]) -> None:
    """Report each tool call ``agent`` is about to run, if a sink is set."""
    sink = sink_now()
    if sink is None:
        return
    for call in calls:
        fn: Any = call.get("function") or {}
        sink(ToolCalled(agent, call.get("id", ""), str(fn.get("name", "")), str(fn.get("arguments") or "")))


def report_tool_results(agent: str, calls: Sequence[ToolCall], reply: Message) -> None:
    """Report the result of each of ``calls`` (``reply`` holds one response per call, in order)."""
    sink = sink_now()
    if sink is None:
        return
    for call, response in zip(calls, reply.get("tool_responses") or [], strict=False):
        fn: Any = call.get("function") or {}
        sink(ToolResult(agent, call.get("id", ""), str(fn.get("name", "")), str(response.get("content") or "")))


def report_usage(agent: str, response: ModelResponse) -> None:
    """Report one model call's usage and cost, if a sink is set."""
    sink = sink_now()
    if sink is None:
        return
    u = response.usage
    sink(
        ModelUsage(
            agent, response.model, u.prompt_tokens, u.completion_tokens, u.total_tokens, response.cost, response.cached
        )
    )
