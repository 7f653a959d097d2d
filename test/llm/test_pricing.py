"""The price table: family prefixes, overrides, and a single warning for an unknown model."""

from __future__ import annotations

import uuid
import warnings

import pytest

from parley.exceptions import ConfigError
from parley.llm.pricing import PRICES, cost, price_for


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("o1-preview", "o1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("GPT-4O", "gpt-4o"),
    ],
)
def test_snapshots_cost_what_their_family_costs(model: str, family: str) -> None:
    assert price_for(model) == PRICES[family]


@pytest.mark.parametrize("model", ["gpt-4x", "gpt-4omni", "llama3", "", "o10"])
def test_prefixes_match_only_at_a_dash(model: str) -> None:
    assert price_for(model) is None


def test_cost_in_dollars_from_prices_per_thousand_tokens() -> None:
    assert cost("gpt-4o", 1000, 1000) == pytest.approx(0.0025 + 0.01)
    assert cost("gpt-4o-mini-2024-07-18", 2000, 500) == pytest.approx(2 * 0.00015 + 0.5 * 0.0006)
    assert cost("gpt-4", 0, 0) == 0.0


def test_a_price_from_the_config_overrides_the_table() -> None:
    assert cost("gpt-4o", 1000, 2000, price=[1.0, 2.0]) == pytest.approx(5.0)
    assert cost("my-model", 1000, 1000, price=0.5) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="Bad price"):
        cost("gpt-4o", 1, 1, price=[1.0])
    with pytest.raises(ConfigError, match="must be numbers >= 0"):
        cost("gpt-4o", 1, 1, price=[1.0, -2.0])


def test_an_unknown_model_costs_zero_and_warns_once() -> None:
    model = f"unknown-{uuid.uuid4().hex}"
    with pytest.warns(UserWarning, match=f"No price is known for model '{model}'.*\"price\""):
        assert cost(model, 1000, 1000) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cost(model, 5, 5) == 0.0
        assert cost(model, 5, 5, price=[1, 1]) == pytest.approx(0.01)
