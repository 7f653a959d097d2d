"""How a run ended: `RunResult` and its stop reasons."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["RunResult", "STOP_REASONS", "StopReason"]

StopReason = Literal["completed", "terminated", "max_steps", "timeout", "budget", "cancelled", "failed"]
"""Why a run stopped.

- ``completed``: the team ran to its end by its own rules (``max_turns``, ``max_round``, no reply);
- ``terminated``: an agent ended the chat with a termination message (``TERMINATE``);
- ``max_steps``: the budget's ``max_steps`` messages were sent;
- ``timeout``: ``max_duration_s`` passed;
- ``budget``: ``max_cost_usd`` or ``max_tokens`` was reached;
- ``cancelled``: the caller cancelled the run (its task, or by leaving the event stream);
- ``failed``: an error ended the run (see ``error``).
"""

STOP_REASONS: tuple[str, ...] = ("completed", "terminated", "max_steps", "timeout", "budget", "cancelled", "failed")


@dataclass(frozen=True)
class RunResult:
    """What a run returns, and what its `parley.runtime.events.RunFinished` event carries.

    Attributes:
        run_id: the run's id.
        session_id: the session it ran in.
        target: the team or agent id.
        final_output: the answer: the last chat's summary (its last message, without a trailing
            ``TERMINATE``); "" when the run stopped before any reply.
        stop_reason: why it stopped (`StopReason`).
        messages: the messages this run sent, oldest first, each with ``name`` (the sender).
        prompt_tokens: tokens sent to models by this run's agents.
        completion_tokens: tokens received.
        total_tokens: their sum, as the servers reported it.
        cost_usd: what the model calls cost, in US dollars (cached replies cost nothing).
        duration_s: seconds from start to end.
        error: when ``stop_reason`` is ``failed``: what went wrong, e.g. ``"ModelConnectionError: ..."``.
    """

    run_id: str
    session_id: str
    target: str
    final_output: str
    stop_reason: StopReason
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run ended by its own rules (``completed`` or ``terminated``)."""
        return self.stop_reason in ("completed", "terminated")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Rebuild a result from `to_dict`'s data."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
