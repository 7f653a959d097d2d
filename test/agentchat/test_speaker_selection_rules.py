"""Speaker-selection rules as pure functions: no agents, no model client."""

from __future__ import annotations

import pytest

from parley.agentchat._speaker_selection import (
    candidates,
    mentioned_agents,
    round_robin_next,
    tool_call_names,
    tool_executors,
    transition_graph,
    without_dangling_tool_calls,
)
from parley.exceptions import ConfigError
from parley.llm.types import Message

NAMES = ["planner", "Coder", "code_critic", "executor"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Coder", ["Coder"]),
        ("I think Coder should go next.", ["Coder"]),
        ("coder", ["Coder"]),  # case is ignored
        ("code\\_critic", ["code_critic"]),  # Markdown-escaped underscore
        ("code critic, please", ["code_critic"]),  # underscore written as a space
        ("Planner, then Coder", ["planner", "Coder"]),
        ("Let us continue.", []),
        ("Coders unite", []),  # whole words only
        ("the code_critic", ["code_critic"]),  # 'code' inside code_critic is not Coder
        ("", []),
    ],
)
def test_mentioned_agents(answer: str, expected: list[str]) -> None:
    assert mentioned_agents(answer, NAMES) == expected


def test_longer_name_containing_shorter_one() -> None:
    assert mentioned_agents("Senior_Coder goes", ["Coder", "Senior_Coder"]) == ["Senior_Coder"]
    assert mentioned_agents("Senior_Coder then Coder", ["Coder", "Senior_Coder"]) == ["Coder", "Senior_Coder"]


MB = 1_000_000


@pytest.mark.timeout(30)
def test_a_megabyte_answer_that_names_a_longer_name_again_and_again() -> None:
    """Each "Coder" lies inside a "Senior Coder": checking that was quadratic (380 KB took 15 s)."""
    answer = "Senior Coder " * (MB // 13)
    assert mentioned_agents(answer, ["Coder", "Senior_Coder"]) == ["Senior_Coder"]
    assert mentioned_agents(answer + "then Coder", ["Coder", "Senior_Coder"]) == ["Coder", "Senior_Coder"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("answer", "names", "expected"),
    [
        (" helper" + " " * MB + "help", ["_helper"], ["_helper"]),  # a leading underscore: a run of spaces
        ("a" + " " * MB + "c", ["a__b"], []),  # two underscores in a row, then no match
    ],
    ids=["leading-underscore", "double-underscore"],
)
def test_a_megabyte_run_of_whitespace(answer: str, names: list[str], expected: list[str]) -> None:
    """The regex engine tried every split of a whitespace run: quadratic (20 KB took 3 s) for some names."""
    assert mentioned_agents(answer, names) == expected


def test_round_robin_next_wraps_and_skips_ineligible() -> None:
    assert round_robin_next(NAMES, "planner", NAMES) == "Coder"
    assert round_robin_next(NAMES, "executor", NAMES) == "planner"
    assert round_robin_next(NAMES, "planner", ["executor"]) == "executor"
    assert round_robin_next(NAMES, None, NAMES) == "planner"
    assert round_robin_next(NAMES, "outsider", ["Coder"]) == "Coder"
    assert round_robin_next(NAMES, "planner", []) is None


def test_candidates_apply_graph_then_repeat_rule() -> None:
    graph = {"planner": ["Coder", "planner"], "Coder": ["executor"], "code_critic": [], "executor": ["code_critic"]}
    assert candidates(NAMES, "planner", graph=graph, allow_repeat=True) == ["Coder", "planner"]
    assert candidates(NAMES, "planner", graph=None, allow_repeat=False) == ["Coder", "code_critic", "executor"]
    assert candidates(NAMES, "planner", graph=None, allow_repeat=["Coder"]) == ["Coder", "code_critic", "executor"]
    assert candidates(NAMES, "Coder", graph=None, allow_repeat=["Coder"]) == NAMES
    assert candidates(NAMES, "code_critic", graph=graph, allow_repeat=True) == []
    assert candidates(NAMES, None, graph=graph, allow_repeat=False) == NAMES


def test_transition_graph_allowed_and_disallowed() -> None:
    allowed = transition_graph(NAMES, {"planner": ["Coder"]}, "allowed")
    assert allowed == {"planner": ["Coder"], "Coder": [], "code_critic": [], "executor": []}
    disallowed = transition_graph(NAMES, {"planner": ["Coder"]}, "disallowed")
    assert disallowed["planner"] == ["planner", "code_critic", "executor"]
    assert disallowed["Coder"] == NAMES


def test_transition_graph_validation() -> None:
    with pytest.raises(ConfigError, match="'ghost', which is not in the group"):
        transition_graph(NAMES, {"planner": ["ghost"]}, "allowed")
    with pytest.raises(ConfigError, match="'allowed' or 'disallowed'"):
        transition_graph(NAMES, {}, "permitted")


def test_tool_routing() -> None:
    msg: Message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "add", "arguments": "{}"}},
            {"id": "2", "type": "function", "function": {"name": "mul", "arguments": "{}"}},
        ],
    }
    assert tool_call_names(msg) == ["add", "mul"]
    assert tool_call_names({"content": "hi"}) == []
    maps = {"a": {"add": 1}, "b": {"add": 1, "mul": 2}, "c": {}}
    assert tool_executors(["add", "mul"], maps) == ["b"]
    assert tool_executors(["add"], maps) == ["a", "b"]


def test_without_dangling_tool_calls() -> None:
    calls = [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    answered: Message = {"role": "tool", "tool_responses": [{"tool_call_id": "1", "role": "tool", "content": "ok"}]}
    history: list[Message] = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling", "tool_calls": calls},  # type: ignore[typeddict-item]
        answered,
        {"role": "assistant", "content": None, "tool_calls": [calls[1]]},  # type: ignore[list-item]
    ]
    out = without_dangling_tool_calls(history)
    assert out == [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "calling", "tool_calls": [calls[0]]},
        answered,
    ]
