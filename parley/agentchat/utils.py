"""Helpers over several agents: usage summaries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["gather_usage_summary"]


def gather_usage_summary(agents: Iterable[Any]) -> dict[str, Any]:
    """Sum the model usage and cost of ``agents``.

    Args:
        agents: agents; those without a model client are skipped, and a client shared by several
            agents is counted once.

    Returns:
        AutoGen 0.2's shape: ``{"usage_including_cached_inference": {"total_cost": float,
        "<model>": {"cost", "prompt_tokens", "completion_tokens", "total_tokens"}},
        "usage_excluding_cached_inference": {...}}``, costs in US dollars.
    """
    from parley.agentchat.chat import _usage

    return _usage(list(agents)).to_dict()  # type: ignore[no-any-return]
