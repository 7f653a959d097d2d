"""What a model call costs, in US dollars, from a price table in dollars per 1,000 tokens.

Source: OpenAI's published API prices (https://openai.com/api/pricing), standard tier, not batch
or cached-input rates, as listed in August 2025. Prices change: a config entry's ``"price"``
overrides the table. Dated snapshots match their family by prefix (``gpt-4o-2024-08-06`` costs
what ``gpt-4o`` costs); a snapshot that was priced differently has its own row, and the longest
matching prefix wins. A prefix matches only at a ``-`` boundary, so ``gpt-4`` does not match
``gpt-4o``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence

from parley.exceptions import ConfigError

__all__ = ["PRICES", "cost", "price_for", "validate_price"]

PRICES: dict[str, tuple[float, float]] = {
    # model family: (prompt $ per 1K tokens, completion $ per 1K tokens)
    "gpt-5": (0.00125, 0.01),
    "gpt-5-mini": (0.00025, 0.002),
    "gpt-5-nano": (0.00005, 0.0004),
    "gpt-4.1": (0.002, 0.008),
    "gpt-4.1-mini": (0.0004, 0.0016),
    "gpt-4.1-nano": (0.0001, 0.0004),
    "gpt-4.5-preview": (0.075, 0.15),
    "gpt-4o": (0.0025, 0.01),
    "gpt-4o-2024-05-13": (0.005, 0.015),
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4-turbo": (0.01, 0.03),
    "gpt-4-turbo-preview": (0.01, 0.03),
    "gpt-4-0125-preview": (0.01, 0.03),
    "gpt-4-1106-preview": (0.01, 0.03),
    "gpt-4-vision-preview": (0.01, 0.03),
    "gpt-4": (0.03, 0.06),
    "gpt-4-32k": (0.06, 0.12),
    "gpt-3.5-turbo": (0.0005, 0.0015),
    "gpt-3.5-turbo-1106": (0.001, 0.002),
    "gpt-3.5-turbo-0613": (0.0015, 0.002),
    "gpt-3.5-turbo-16k": (0.003, 0.004),
    "gpt-3.5-turbo-instruct": (0.0015, 0.002),
    "o1": (0.015, 0.06),
    "o1-mini": (0.0011, 0.0044),
    "o1-pro": (0.15, 0.6),
    "o3": (0.002, 0.008),
    "o3-mini": (0.0011, 0.0044),
    "o3-pro": (0.02, 0.08),
    "o4-mini": (0.0011, 0.0044),
}

_warned: set[str] = set()
_warned_lock = threading.Lock()


def price_for(model: str) -> tuple[float, float] | None:
    """The table's price of ``model``, matching dated snapshots by the longest prefix.

    Args:
        model: a model name, such as ``"gpt-4o"`` or ``"gpt-4o-mini-2024-07-18"``.

    Returns:
        ``(prompt $ per 1K tokens, completion $ per 1K tokens)``, or None for an unknown model.
    """
    name = model.lower()
    while True:
        if name in PRICES:
            return PRICES[name]
        cut = name.rfind("-")
        if cut <= 0:
            return None
        name = name[:cut]


def validate_price(price: float | Sequence[float], model: str = "") -> tuple[float, float]:
    """Check a config ``price`` and return it as ``(prompt $ per 1K, completion $ per 1K)``.

    Args:
        price: two non-negative numbers, or one number for both.
        model: the model it is for, named in the error message.

    Raises:
        ConfigError: ``price`` is not one or two non-negative numbers.
    """
    if isinstance(price, (int, float)) and not isinstance(price, bool):
        pair: tuple[float, ...] = (float(price), float(price))
    elif isinstance(price, Sequence) and not isinstance(price, str) and len(price) == 2:
        pair = tuple(price)
    else:
        raise ConfigError(
            f"Bad price {price!r} for model {model!r}: expected [prompt $ per 1K tokens, "
            "completion $ per 1K tokens], such as [0.0025, 0.01].",
            key="price",
        )
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in pair):
        raise ConfigError(f"Bad price {price!r} for model {model!r}: prices must be numbers >= 0.", key="price")
    return float(pair[0]), float(pair[1])


def cost(model: str, prompt_tokens: int, completion_tokens: int, price: float | Sequence[float] | None = None) -> float:
    """The cost of one call, in US dollars.

    Args:
        model: the model that answered (a dated snapshot name is fine).
        prompt_tokens: tokens in the request.
        completion_tokens: tokens in the reply.
        price: overrides the table: ``[prompt $ per 1K tokens, completion $ per 1K tokens]``, or
            one number for both. None (the default) looks ``model`` up with `price_for`.

    Returns:
        ``prompt_tokens / 1000 * prompt_price + completion_tokens / 1000 * completion_price``;
        0.0 for a model not in the table, with a `UserWarning` given once per model name.

    Raises:
        ConfigError: ``price`` is not one or two non-negative numbers.
    """
    if price is not None:
        pair: tuple[float, float] | None = validate_price(price, model)
    else:
        pair = price_for(model)
    if pair is None:
        with _warned_lock:
            first = model not in _warned
            _warned.add(model)
        if first:
            warnings.warn(
                f"No price is known for model {model!r}, so its calls count as costing $0. "
                'Add "price": [prompt $ per 1K tokens, completion $ per 1K tokens] to its config entry.',
                UserWarning,
                stacklevel=2,
            )
        return 0.0
    return prompt_tokens / 1000 * pair[0] + completion_tokens / 1000 * pair[1]
