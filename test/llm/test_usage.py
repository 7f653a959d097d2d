"""UsageSummary: two views (with and without cached replies), arithmetic, AutoGen 0.2's dict shape."""

from __future__ import annotations

from typing import Any

import pytest

from parley.exceptions import ConfigError
from parley.llm import ModelResponse, Usage, UsageSummary
from parley.llm.usage import ModelUsage, UsageMode


def response(model: str, prompt: int, completion: int, cost: float, cached: bool = False) -> ModelResponse:
    return ModelResponse(
        message={"role": "assistant", "content": "x"},
        usage=Usage(prompt, completion, prompt + completion),
        cost=cost,
        model=model,
        cached=cached,
    )


def test_cached_replies_count_in_total_only() -> None:
    summary = UsageSummary.of(
        [response("gpt-4o", 10, 5, 0.25), response("gpt-4o", 10, 5, 0.25, cached=True), response("mini", 1, 1, 0.5)]
    )
    assert summary.to_dict() == {
        "usage_including_cached_inference": {
            "total_cost": 1.0,
            "gpt-4o": {"cost": 0.5, "prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
            "mini": {"cost": 0.5, "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
        "usage_excluding_cached_inference": {
            "total_cost": 0.75,
            "gpt-4o": {"cost": 0.25, "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "mini": {"cost": 0.5, "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    }
    assert summary.total_cost("actual") == 0.75
    assert summary.models("total")["mini"] == ModelUsage(0.5, 1, 1, 2)


def test_an_empty_summary() -> None:
    summary = UsageSummary()
    assert summary.is_empty()
    assert not summary
    assert summary.to_dict() == {
        "usage_including_cached_inference": {"total_cost": 0.0},
        "usage_excluding_cached_inference": {"total_cost": 0.0},
    }


def test_after_minus_before_is_the_usage_in_between() -> None:
    summary = UsageSummary.of([response("gpt-4o", 10, 5, 0.25)])
    before = summary.snapshot()
    summary.add(response("gpt-4o", 1, 1, 0.125))
    summary.add(response("mini", 2, 2, 0.5, cached=True))
    between = summary - before
    assert between == UsageSummary.of([response("gpt-4o", 1, 1, 0.125), response("mini", 2, 2, 0.5, cached=True)])
    assert before == UsageSummary.of([response("gpt-4o", 10, 5, 0.25)])  # the snapshot did not move
    assert (summary - summary).is_empty()


def test_add_and_merge_combine_summaries() -> None:
    a = UsageSummary.of([response("gpt-4o", 1, 1, 0.5)])
    b = UsageSummary.of([response("gpt-4o", 2, 2, 0.25), response("mini", 1, 0, 0.0)])
    total = a + b
    assert total.view("total") == {
        "total_cost": 0.75,
        "gpt-4o": {"cost": 0.75, "prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        "mini": {"cost": 0.0, "prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
    }
    assert a == UsageSummary.of([response("gpt-4o", 1, 1, 0.5)])
    a.merge(b)
    assert a == total


def test_clear_forgets_everything() -> None:
    summary = UsageSummary.of([response("gpt-4o", 1, 1, 0.5)])
    summary.clear()
    assert summary == UsageSummary()


def test_a_response_without_a_model_counts_as_unknown() -> None:
    assert "unknown" in UsageSummary.of([response("", 1, 1, 0.0)]).models()


def test_format_for_people() -> None:
    summary = UsageSummary.of([response("gpt-4o", 10, 5, 0.25)])
    assert summary.format() == (
        "Usage (no cached replies): total cost $0.250000\n"
        "  gpt-4o: cost $0.250000, prompt_tokens 10, completion_tokens 5, total_tokens 15"
    )
    summary.add(response("gpt-4o", 10, 5, 0.25, cached=True))
    text = summary.format(["actual", "total"])
    assert text.splitlines()[0] == "Usage excluding cached replies: total cost $0.250000"
    assert "Usage including cached replies: total cost $0.500000" in text
    assert UsageSummary().format("actual") == "Usage excluding cached replies: none"
    with pytest.raises(ConfigError, match="use 'actual' or 'total'"):
        summary.format("everything")  # type: ignore[arg-type]


def _one_by_one(responses: list[ModelResponse], cached: bool) -> dict[str, list[Any]]:
    """Per-model [cost, prompt, completion, total], each response added in turn (the reference sums)."""
    sums: dict[str, list[Any]] = {}
    for r in responses:
        if r.cached and not cached:
            continue
        cur = sums.get(r.model)
        row: list[Any] = [r.cost, r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens]
        if cur is None:
            sums[r.model] = row
        else:
            for i in range(4):
                cur[i] += row[i]
    return sums


@pytest.mark.parametrize("models", [("gpt-4o",), ("gpt-4o", "mini")])
@pytest.mark.parametrize("with_cached", [False, True])
def test_many_responses_sum_exactly_as_added_in_turn(models: tuple[str, ...], with_cached: bool) -> None:
    # Counting only records a response; the views are summed when read or every few hundred
    # responses. Costs that are not exact in binary must come out bit for bit as adding each one.
    responses = [
        response(models[i % len(models)], i % 7, i % 5, 0.1 + i * 1e-7, cached=with_cached and i % 3 == 0)
        for i in range(1000)
    ]
    summary = UsageSummary()
    for i, r in enumerate(responses):
        summary.add(r)
        if i == 600:  # a read in the middle, then more counting
            assert summary.models("total")[models[0]].prompt_tokens > 0
    modes: tuple[tuple[UsageMode, bool], ...] = (("total", True), ("actual", False))
    for mode, cached in modes:
        expected = {m: ModelUsage(*v) for m, v in _one_by_one(responses, cached).items()}
        assert summary.models(mode) == expected


def test_set_view_replaces_what_was_counted_before_it() -> None:
    summary = UsageSummary.of([response("gpt-4o", 10, 5, 0.25)])
    summary.set_view("total", {"mini": {"cost": 1.0, "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
    summary.add(response("mini", 1, 1, 0.5))
    assert summary.models("total") == {"mini": ModelUsage(1.5, 2, 2, 4)}
    assert summary.models("actual") == {"gpt-4o": ModelUsage(0.25, 10, 5, 15), "mini": ModelUsage(0.5, 1, 1, 2)}
    assert not summary.is_empty()
    assert UsageSummary.of([response("x", 0, 0, 0.0)])
