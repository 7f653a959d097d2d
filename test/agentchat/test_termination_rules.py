"""Termination and human-input decisions as pure functions of (mode, state): no agents, no I/O."""

from __future__ import annotations

import pytest

from parley.agentchat._termination import Action, Decision, after_human_input, decide


@pytest.mark.parametrize(
    ("mode", "is_term", "count", "limit", "expected"),
    [
        ("ALWAYS", False, 0, 5, Decision(Action.ASK_HUMAN, terminate_if_empty=False, prompt_kind="always")),
        ("ALWAYS", True, 0, 5, Decision(Action.ASK_HUMAN, terminate_if_empty=True, prompt_kind="always")),
        ("ALWAYS", False, 9, 5, Decision(Action.ASK_HUMAN, terminate_if_empty=False, prompt_kind="always")),
        ("TERMINATE", False, 0, 5, Decision(Action.AUTO_REPLY)),
        ("TERMINATE", True, 0, 5, Decision(Action.ASK_HUMAN, terminate_if_empty=True, prompt_kind="terminate")),
        ("TERMINATE", False, 5, 5, Decision(Action.ASK_HUMAN, terminate_if_empty=True, prompt_kind="terminate")),
        ("NEVER", False, 4, 5, Decision(Action.AUTO_REPLY)),
        ("NEVER", False, 5, 5, Decision(Action.TERMINATE)),
        ("NEVER", True, 0, 5, Decision(Action.TERMINATE)),
        ("NEVER", False, 0, 0, Decision(Action.TERMINATE)),
    ],
)
def test_decide(mode: str, is_term: bool, count: int, limit: int, expected: Decision) -> None:
    assert decide(mode, is_termination=is_term, auto_replies=count, max_auto_replies=limit) == expected


@pytest.mark.parametrize(
    ("terminate_if_empty", "answer", "expected"),
    [
        (False, "", Action.AUTO_REPLY),
        (True, "", Action.TERMINATE),
        (False, "exit", Action.TERMINATE),
        (False, "  exit ", Action.TERMINATE),
        (True, "do more", Action.HUMAN_REPLY),
    ],
)
def test_after_human_input(terminate_if_empty: bool, answer: str, expected: Action) -> None:
    decision = Decision(Action.ASK_HUMAN, terminate_if_empty=terminate_if_empty)
    assert after_human_input(decision, answer) is expected
