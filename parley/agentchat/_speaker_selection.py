"""Group-chat rules as pure functions: candidates, name matching, routing, transition graphs.

Nothing here calls a model or a human; `GroupChat.a_select_speaker` does that I/O around these
functions, so every rule is tested with no client at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from parley.exceptions import ConfigError
from parley.llm.types import Message

__all__ = [
    "candidates",
    "mentioned_agents",
    "round_robin_next",
    "tool_call_names",
    "tool_executors",
    "transition_graph",
    "without_dangling_tool_calls",
]


# An underscore in a name, as models write it: "_", Markdown's "\_", or one whole run of whitespace.
# The run is taken whole (no whitespace before or after it), so the regex engine never tries each
# way of splitting a long run, which made names like "_helper" or "a__b" quadratic in the text.
_SEPARATOR = r"(?:\\?_|(?<!\s)\s+(?!\s))"


@lru_cache(maxsize=512)
def _name_pattern(name: str) -> re.Pattern[str]:
    """A whole-word pattern for ``name``: an underscore may also be written escaped or as spaces."""
    body = _SEPARATOR.join(re.escape(p) for p in name.split("_"))
    return re.compile(rf"(?<![\w]){body}(?![\w])", re.IGNORECASE)


def mentioned_agents(text: str, names: Sequence[str]) -> list[str]:
    r"""The names mentioned in ``text`` as whole words, in the order of ``names``.

    Matching ignores case (models write "coder" for ``Coder``). An underscore in a name also
    matches a run of whitespace (taken whole: one run stands for one underscore) or an escaped
    underscore (``code\_writer``), as models write them in Markdown. A name that is part of a
    longer mentioned name (``Coder`` in ``Senior Coder``) does not count separately.

    The work is linear in the length of ``text`` for each name (1 MB in well under a second).

    Args:
        text: the model's answer.
        names: the agents' names.

    Returns:
        The distinct names found, in the order of ``names``.
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for name in names:
        found = [m.span() for m in _name_pattern(name).finditer(text)]
        if found:
            spans[name] = found
    return [n for n in names if n in spans and not _inside_longer(spans[n], spans, n)]


def _inside_longer(own: list[tuple[int, int]], spans: Mapping[str, list[tuple[int, int]]], name: str) -> bool:
    """True when every match of ``name`` lies inside a match of another, longer name.

    ``own`` is in text order. One sweep over the longer names' matches, sorted by start, keeps the
    furthest end reached by a match that starts at or before each of ``own``: linear in the
    number of matches (after the sort), where comparing every pair was quadratic.
    """
    others = sorted(s for n, found in spans.items() if n != name and len(n) > len(name) for s in found)
    reach, i = -1, 0
    for start, end in own:
        while i < len(others) and others[i][0] <= start:
            reach = max(reach, others[i][1])
            i += 1
        if reach < end:
            return False
    return True


def round_robin_next(names: Sequence[str], last: str | None, eligible: Sequence[str]) -> str | None:
    """The first eligible name after ``last`` in ``names`` order, wrapping around.

    Args:
        names: all agents' names, in the group's order.
        last: the last speaker's name (None or unknown: start from the beginning).
        eligible: the names that may speak next.

    Returns:
        The next name, or None when ``eligible`` is empty.
    """
    if not eligible:
        return None
    start = names.index(last) + 1 if last in names else 0
    if len(eligible) == len(names):  # everyone is eligible: plain rotation
        return names[start % len(names)]
    allowed = set(eligible)
    for i in range(len(names)):
        name = names[(start + i) % len(names)]
        if name in allowed:
            return name
    return None


def tool_call_names(message: Message | None) -> list[str]:
    """The function names of the tool calls (or 0.2's legacy ``function_call``) in ``message``."""
    if not message:
        return []
    legacy = message.get("function_call")
    if legacy:
        return [legacy.get("name", "")]
    return [c.get("function", {}).get("name", "") for c in message.get("tool_calls") or []]


def tool_executors(functions: Sequence[str], function_maps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The agents that can execute every one of ``functions``.

    Args:
        functions: the names the pending tool calls use.
        function_maps: agent name -> that agent's function map.

    Returns:
        The names of agents whose function map has all of ``functions``, in the given order.
    """
    return [name for name, fmap in function_maps.items() if all(f in fmap for f in functions)]


def transition_graph(names: Sequence[str], transitions: Mapping[str, Sequence[str]], kind: str) -> dict[str, list[str]]:
    """Turn allowed or disallowed speaker transitions into the allowed graph.

    Args:
        names: the agents' names.
        transitions: speaker name -> names that may (``kind="allowed"``) or may not
            (``kind="disallowed"``) speak right after it.
        kind: ``"allowed"`` or ``"disallowed"``.

    Returns:
        speaker name -> the names allowed to speak next, for every agent.

    Raises:
        ConfigError: ``kind`` is neither, or the transitions name an agent not in the group.
    """
    if kind not in ("allowed", "disallowed"):
        raise ConfigError(
            f"speaker_transitions_type must be 'allowed' or 'disallowed', got {kind!r}.",
            key="speaker_transitions_type",
        )
    known = set(names)
    for src, dsts in transitions.items():
        unknown = [n for n in (src, *dsts) if n not in known]
        if unknown:
            raise ConfigError(
                f"allowed_or_disallowed_speaker_transitions names {', '.join(map(repr, unknown))}, "
                f"which {'is' if len(unknown) == 1 else 'are'} not in the group ({', '.join(names)}).",
                key="allowed_or_disallowed_speaker_transitions",
            )
    if kind == "allowed":
        return {n: [d for d in names if d in set(transitions.get(n, ()))] for n in names}
    return {n: [d for d in names if d not in set(transitions.get(n, ()))] for n in names}


def candidates(
    names: Sequence[str],
    last: str | None,
    *,
    graph: Mapping[str, Sequence[str]] | None,
    allow_repeat: bool | Sequence[str],
) -> list[str]:
    """Who may speak after ``last``: the transition graph, then the repeat rule.

    Args:
        names: all agents' names, in order.
        last: the last speaker (None or not a member: anyone may start).
        graph: the allowed-transitions graph, or None for "anyone".
        allow_repeat: True, False, or the names that may speak twice in a row.

    Returns:
        The eligible names in group order (may be empty: then nobody can speak).
    """
    eligible = list(graph[last]) if graph is not None and last is not None and last in graph else list(names)
    if last in names:
        repeat_ok = allow_repeat if isinstance(allow_repeat, bool) else last in allow_repeat
        if not repeat_ok:
            eligible = [n for n in eligible if n != last]
    return eligible


def without_dangling_tool_calls(messages: Sequence[Message]) -> list[Message]:
    """The messages with every tool call that has no tool response removed.

    A speaker-selection request must be a valid chat: the OpenAI API rejects an assistant
    message whose tool calls are not all answered. A message left with no content and no calls
    is dropped.
    """
    answered = {
        r.get("tool_call_id")
        for m in messages
        for r in ([m] if m.get("role") == "tool" and "tool_call_id" in m else m.get("tool_responses") or [])
    }
    out: list[Message] = []
    for m in messages:
        calls = m.get("tool_calls")
        if not calls or all(c.get("id") in answered for c in calls):
            out.append(m)
            continue
        kept = [c for c in calls if c.get("id") in answered]
        trimmed: Message = {k: v for k, v in m.items() if k != "tool_calls"}  # type: ignore[assignment]
        if kept:
            trimmed["tool_calls"] = kept
        if kept or trimmed.get("content"):
            out.append(trimmed)
    return out
