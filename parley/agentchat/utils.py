"""Helpers over agents and messages: usage summaries, and the media tags of multimodal messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["gather_usage_summary", "parse_tags_from_content"]

_ATTRIBUTE = re.compile(r"([A-Za-z_][\w-]*)=(.*)", re.DOTALL)


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


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _attributes(body: str) -> dict[str, str]:
    # Words that do not start "key=" belong to the value before them ("text='Hello I'm here'");
    # a leading bare word is the source ("<img http://x/a.png>").
    pieces: list[str] = []
    for word in body.split():
        if pieces and not _ATTRIBUTE.fullmatch(word):
            pieces[-1] += " " + word
        else:
            pieces.append(word)
    attributes: dict[str, str] = {}
    for piece in pieces:
        named = _ATTRIBUTE.fullmatch(piece)
        key, value = (named[1], named[2]) if named else ("src", piece)
        attributes[key] = _unquoted(value)
    return attributes


def parse_tags_from_content(tag: str, content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Find the ``<tag ...>`` markers in a message's content (AutoGen 0.2's multimodal tags).

    ``<img http://example.com/a.png>`` names an image by its source, and ``<audio
    text='Hello there' prompt='whisper'>`` gives named attributes, quoted or not.

    Args:
        tag: the tag name, such as ``"img"`` or ``"audio"``.
        content: a message's content: text, or a list of content parts (only ``"text"`` parts
            are searched); None has no tags.

    Returns:
        One ``{"tag": tag, "attr": {name: value}, "match": re.Match}`` per marker, in order; a
        value given without a name is ``attr["src"]``.
    """
    if content is None:
        return []
    texts = (
        [content] if isinstance(content, str) else [str(p.get("text", "")) for p in content if p.get("type") == "text"]
    )
    marker = re.compile(rf"<{re.escape(tag)}\s+([^>]*)>")
    return [
        {"tag": tag, "attr": _attributes(found[1]), "match": found} for text in texts for found in marker.finditer(text)
    ]
