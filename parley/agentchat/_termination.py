"""Termination and human-input decisions as pure functions of (mode, state).

The agent asks `decide` what to do before each auto-reply; it then does the I/O (asking the
human) and calls `after_human_input`. The rules follow AutoGen 0.2's documented behaviour for
``human_input_mode`` ALWAYS, TERMINATE and NEVER with ``max_consecutive_auto_reply``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Action", "Decision", "after_human_input", "decide"]

HUMAN_INPUT_MODES = ("ALWAYS", "TERMINATE", "NEVER")


class Action(enum.Enum):
    """What the agent does next."""

    ASK_HUMAN = "ask_human"
    TERMINATE = "terminate"
    AUTO_REPLY = "auto_reply"
    HUMAN_REPLY = "human_reply"


@dataclass(frozen=True)
class Decision:
    """The next action; ``terminate_if_empty`` says what an empty human answer means."""

    action: Action
    terminate_if_empty: bool = False
    prompt_kind: str = ""


_AUTO_REPLY = Decision(Action.AUTO_REPLY)
_TERMINATE = Decision(Action.TERMINATE)
_ASK_ALWAYS = Decision(Action.ASK_HUMAN, terminate_if_empty=False, prompt_kind="always")
_ASK_ALWAYS_AT_END = Decision(Action.ASK_HUMAN, terminate_if_empty=True, prompt_kind="always")
_ASK_TERMINATE = Decision(Action.ASK_HUMAN, terminate_if_empty=True, prompt_kind="terminate")


def decide(mode: str, *, is_termination: bool, auto_replies: int, max_auto_replies: int) -> Decision:
    """Decide, before any auto-reply, whether to ask a human, stop, or reply automatically.

    Args:
        mode: ``"ALWAYS"``, ``"TERMINATE"`` or ``"NEVER"``.
        is_termination: whether the last received message is a termination message.
        auto_replies: consecutive auto-replies already sent to this sender.
        max_auto_replies: the limit for this sender.

    Returns:
        The decision. ALWAYS asks every time (an empty answer means auto-reply, unless the message
        was a termination message). TERMINATE asks only at a termination message or at the limit
        (an empty answer then ends the chat). NEVER ends the chat at either and never asks.
    """
    if mode == "ALWAYS":
        return _ASK_ALWAYS_AT_END if is_termination else _ASK_ALWAYS
    if not (is_termination or auto_replies >= max_auto_replies):
        return _AUTO_REPLY
    return _TERMINATE if mode == "NEVER" else _ASK_TERMINATE


def after_human_input(decision: Decision, answer: str) -> Action:
    """Map the human's answer to the next action: 'exit' ends, text is the reply, empty per decision."""
    if answer.strip() == "exit":
        return Action.TERMINATE
    if answer:
        return Action.HUMAN_REPLY
    return Action.TERMINATE if decision.terminate_if_empty else Action.AUTO_REPLY
