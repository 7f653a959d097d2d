"""The console display of a run, drawn from its events alone (so a record replays it exactly).

Who speaks and what they say, a streamed model reply token by token under its speaker's name
(and not again when the message is sent), tool calls and results, code output as it comes
(with a spinner while code runs, in a terminal), and how the run ended. Built with rich; a
message's text is printed as text, never as markup.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

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
)

__all__ = ["ConsoleDisplay"]


class ConsoleDisplay:
    """Prints a run's events as they come.

    Args:
        file: where to print; default: standard output. A spinner is shown while code runs only
            when it is a terminal.
    """

    def __init__(self, file: TextIO | None = None) -> None:
        from rich.console import Console

        self._console = Console(file=file, highlight=False, soft_wrap=True, emoji=False)
        self._status: Any = None
        self._at_line_start = True
        self._streaming: str | None = None  # the agent whose streamed reply is being shown
        self._streamed = ""

    def _line(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        if not self._at_line_start:
            self._console.print()
        self._console.print(Text(text, style=style or ""))
        self._at_line_start = True

    def __call__(self, event: RunEvent) -> None:
        """Show one event."""
        if isinstance(event, RunStarted):
            self._line(f"Run {event.run_id} of {event.target} (session {event.session_id})", "bold")
        elif isinstance(event, ModelTokensEvent):
            if self._streaming != event.agent:
                self._line(f"{event.agent}:", "bold cyan")
                self._streaming, self._streamed = event.agent, ""
            self._text(event.text)
            self._streamed += event.text
        elif isinstance(event, MessageEvent):
            streamed = self._streaming == event.sender and self._streamed.strip() == event.content.strip()
            self._streaming = None
            if streamed:
                self._line(f"(to {event.recipient})", "dim")
            else:
                self._line(f"{event.sender} -> {event.recipient}:", "bold cyan")
                if event.content:
                    self._line(event.content)
            for call in event.message.get("tool_calls") or []:
                fn = call.get("function") or {}
                self._line(f"  calls {fn.get('name', '?')}({fn.get('arguments', '')})", "magenta")
        elif isinstance(event, SpeakerSelectedEvent):
            self._line(f"(next speaker: {event.speaker})", "dim")
        elif isinstance(event, ToolCallEvent):
            self._line(f"[tool] {event.agent} runs {event.name}({event.arguments})", "magenta")
        elif isinstance(event, ToolResultEvent):
            self._line(f"[tool] {event.name} -> {event.content}", "magenta")
        elif isinstance(event, CodeExecutionStartedEvent):
            self._line(f"[code] {event.agent} runs {len(event.blocks)} block(s)", "yellow")
            self._start_spinner(event.agent)
        elif isinstance(event, CodeOutputEvent):
            self._text(event.text)
        elif isinstance(event, CodeExecutionFinishedEvent):
            self._stop_spinner()
            self._line(f"[code] exit code {event.exit_code}", "yellow")
        elif isinstance(event, RunFinished):
            self._stop_spinner()
            r = event.result
            self._line(
                f"Stopped: {r.stop_reason} after {len(r.messages)} message(s), {r.total_tokens} tokens, "
                f"${r.cost_usd:.6f}, {r.duration_s:.2f} s",
                "bold green" if r.ok else "bold red",
            )
            if r.error:
                self._line(f"Error: {r.error}", "red")
            if r.final_output:
                self._line(f"Answer: {r.final_output}")

    def _text(self, text: str) -> None:
        """Text as it arrives, with no line break added."""
        if text:
            self._console.print(text, end="", markup=False)
            self._at_line_start = text.endswith("\n")

    def _start_spinner(self, agent: str) -> None:
        if self._console.is_terminal and self._status is None:
            self._status = self._console.status(f"{agent} is running code ...")
            self._status.start()

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def as_json_line(event: RunEvent) -> str:
    """One event as a JSON line (for ``parley run --json``)."""
    return json.dumps(event.to_dict(), default=str)
