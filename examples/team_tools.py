"""Tools for the example team files (``tools: {word_count: "team_tools:word_count"}``)."""

from __future__ import annotations


def word_count(text: str) -> int:
    """Count the words in ``text`` (runs of non-space characters)."""
    return len(text.split())
