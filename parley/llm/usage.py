"""Per-model usage and cost, accumulated in AutoGen 0.2's two views.

The *total* view counts every response, including replies served from a cache; the *actual* view
counts only responses that really reached a model, which is what was paid for. `UsageSummary`
is a plain value: add responses, add or subtract summaries, compare them, render them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from parley.exceptions import ConfigError
from parley.llm.types import ModelResponse

__all__ = ["CHAT_USAGE", "ModelUsage", "UsageCounter", "UsageMode", "UsageSummary", "count_in_chats", "count_usage"]

UsageMode = Literal["actual", "total"]
"""``"total"`` includes cached replies; ``"actual"`` excludes them."""

_KEYS = {"total": "usage_including_cached_inference", "actual": "usage_excluding_cached_inference"}


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """One model's usage.

    Attributes:
        cost: US dollars.
        prompt_tokens: tokens sent.
        completion_tokens: tokens received.
        total_tokens: their sum, as the servers reported it.
    """

    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            self.cost + other.cost,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    def __sub__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            self.cost - other.cost,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.total_tokens - other.total_tokens,
        )

    def is_zero(self) -> bool:
        """True when every count is zero and the cost is zero to within 1e-12 dollars."""
        return (
            abs(self.cost) < 1e-12
            and self.prompt_tokens == 0
            and self.completion_tokens == 0
            and self.total_tokens == 0
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"cost", "prompt_tokens", "completion_tokens", "total_tokens"}``."""
        return {
            "cost": self.cost,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


_Sums = dict[str, list[Any]]  # model -> [cost, prompt_tokens, completion_tokens, total_tokens], summed in place
_Row = tuple[Any, ...]  # (model, cost, prompt, completion, total), and a 6th item (True) for a cached reply
_FOLD_AT = 256
"""Counted rows a `UsageSummary` keeps before it sums them (a few kB), so memory stays bounded."""


def _usages(sums: _Sums) -> dict[str, ModelUsage]:
    return {m: ModelUsage(*v) for m, v in sums.items()}


def _combine(a: _Sums, b: _Sums, sign: int) -> _Sums:
    out = {m: list(v) for m, v in a.items()}
    for model, v in b.items():
        cur = out.setdefault(model, [0.0, 0, 0, 0])
        for i in range(4):
            cur[i] += sign * v[i]
    return {m: v for m, v in out.items() if not ModelUsage(*v).is_zero()}


class UsageSummary:
    """Usage and cost per model, in a total view (with cached replies) and an actual view (without).

    Use ``after - before`` to get the usage of one stretch of work, such as one chat::

        before = wrapper.usage_summary.snapshot()
        ...  # the chat
        chat_usage = wrapper.usage_summary - before

    Models whose usage nets to zero are dropped from a difference.
    """

    __slots__ = ("_actual", "_rows", "_total")

    def __init__(self) -> None:
        self._total: _Sums = {}
        self._actual: _Sums = {}
        self._rows: list[_Row] = []  # responses counted but not yet summed (see `_fold`)

    @classmethod
    def of(cls, responses: Iterable[ModelResponse]) -> UsageSummary:
        """A summary of ``responses``."""
        summary = cls()
        for response in responses:
            summary.add(response)
        return summary

    def add(self, response: ModelResponse) -> None:
        """Count one response in the total view and, unless it came from a cache, the actual view.

        A response with an empty ``model`` is counted under ``"unknown"``.
        """
        u = response.usage
        self._add(
            (response.model or "unknown", response.cost, u.prompt_tokens, u.completion_tokens, u.total_tokens),
            response.cached,
        )

    def _add(self, row: tuple[str, float, int, int, int], cached: bool) -> None:
        rows = self._rows
        rows.append((*row, True) if cached else row)
        if len(rows) >= _FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        """Sum the rows counted since the last fold into the two views.

        Counting a response only appends its row (this runs on every model call, often for two
        summaries); the views are summed here, column by column, when they are read or when
        `_FOLD_AT` rows have piled up. The sums are the ones adding each row in turn would give.
        """
        rows = self._rows
        if not rows:
            return
        self._rows = []
        columns = list(zip(*rows, strict=False))  # C-level work from here on: one model, nothing cached
        models = columns[0]
        model = models[0]
        if models.count(model) == len(rows) and sum(map(len, rows)) == 5 * len(rows):
            # Int token counts are summed once for both views (int sums are exact in any order);
            # costs (floats) are added in turn to each view's own sum, as adding row by row does.
            tokens = [sum(columns[i]) for i in (2, 3, 4)]
            exact = type(tokens[0]) is int and type(tokens[1]) is int and type(tokens[2]) is int
            for sums in (self._total, self._actual):
                cur = sums.get(model)
                if cur is None:
                    cur = sums[model] = [columns[1][0], columns[2][0], columns[3][0], columns[4][0]]
                    skip = 1
                else:
                    skip = 0
                for i in range(4):
                    column = columns[i + 1]
                    if i and exact and not skip and type(cur[i]) is int:
                        cur[i] += tokens[i - 1]
                    else:
                        cur[i] = sum(column[skip:] if skip else column, cur[i])
            return
        for row in rows:
            model, cost, prompt, completion, total = row[:5]
            for sums in (self._total,) if len(row) > 5 else (self._total, self._actual):
                cur = sums.get(model)
                if cur is None:
                    sums[model] = [cost, prompt, completion, total]
                else:
                    cur[0] += cost
                    cur[1] += prompt
                    cur[2] += completion
                    cur[3] += total

    def merge(self, other: UsageSummary) -> None:
        """Add ``other``'s usage into this summary, in place."""
        self._fold()
        other._fold()
        self._total = _combine(self._total, other._total, +1)
        self._actual = _combine(self._actual, other._actual, +1)

    def clear(self) -> None:
        """Forget all usage."""
        self._rows = []
        self._total.clear()
        self._actual.clear()

    def snapshot(self) -> UsageSummary:
        """An independent copy, to subtract from later."""
        self._fold()
        copy = UsageSummary()
        copy._total = {m: list(v) for m, v in self._total.items()}
        copy._actual = {m: list(v) for m, v in self._actual.items()}
        return copy

    def __add__(self, other: UsageSummary) -> UsageSummary:
        out = self.snapshot()
        out.merge(other)
        return out

    def __sub__(self, other: UsageSummary) -> UsageSummary:
        self._fold()
        other._fold()
        out = UsageSummary()
        out._total = _combine(self._total, other._total, -1)
        out._actual = _combine(self._actual, other._actual, -1)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UsageSummary):
            return NotImplemented
        return (self - other).is_empty() and (other - self).is_empty()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __bool__(self) -> bool:
        return not self.is_empty()

    def is_empty(self) -> bool:
        """True when no usage has been counted in either view."""
        return not self._total and not self._actual and not self._rows

    def __repr__(self) -> str:
        return f"UsageSummary(total={self.view('total')}, actual={self.view('actual')})"

    def models(self, mode: UsageMode = "total") -> dict[str, ModelUsage]:
        """A copy of the per-model usage of one view (``"total"`` or ``"actual"``).

        Raises:
            ConfigError: ``mode`` is neither ``"total"`` nor ``"actual"``.
        """
        return self._pick(mode)

    def total_cost(self, mode: UsageMode = "total") -> float:
        """The summed cost of one view, US dollars."""
        return sum(u.cost for u in self._pick(mode).values())

    def view(self, mode: UsageMode) -> dict[str, Any]:
        """One view in AutoGen 0.2's shape: ``{"total_cost": x, "<model>": {"cost", "prompt_tokens", ...}}``.

        An empty view is ``{"total_cost": 0.0}``.
        """
        usage = self._pick(mode)
        out: dict[str, Any] = {"total_cost": sum(u.cost for u in usage.values())}
        out.update({model: u.to_dict() for model, u in usage.items()})
        return out

    def set_view(self, mode: UsageMode, view: Mapping[str, Any] | None) -> None:
        """Replace one view with ``view``, given in AutoGen 0.2's shape (what `view` returns).

        0.2 code sets ``wrapper.total_usage_summary = {...}`` directly, for example to seed the
        figures that ``gather_usage_summary`` adds up; this is what that assignment does.

        Args:
            mode: ``"total"`` or ``"actual"``.
            view: ``{"total_cost": x, "<model>": {"cost", "prompt_tokens", "completion_tokens",
                "total_tokens"}}`` (``total_cost`` is ignored: it is the models' sum; missing
                counts are 0), or None to empty the view.

        Raises:
            ConfigError: an unknown ``mode``, or a model entry that is not such a dict.
        """
        self._pick(mode)  # checks the mode, and sums what was counted before this replacement
        sums: _Sums = {}
        for model, usage in (view or {}).items():
            if model == "total_cost":
                continue
            if not isinstance(usage, Mapping):
                raise ConfigError(
                    f"Usage for model {model!r} must be a dict with cost, prompt_tokens, completion_tokens "
                    f"and total_tokens, got {type(usage).__name__}.",
                    key=str(model),
                )
            sums[str(model)] = [
                float(usage.get("cost", 0.0)),
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                int(usage.get("total_tokens", 0)),
            ]
        if mode == "total":
            self._total = sums
        else:
            self._actual = sums

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Both views, keyed as AutoGen 0.2 keys them.

        Returns:
            ``{"usage_including_cached_inference": view("total"),
            "usage_excluding_cached_inference": view("actual")}``.
        """
        return {_KEYS["total"]: self.view("total"), _KEYS["actual"]: self.view("actual")}

    def format(self, mode: UsageMode | Iterable[UsageMode] = ("actual", "total")) -> str:
        """Render one or both views as text for people, one line per model.

        Args:
            mode: ``"actual"``, ``"total"``, or several of them in order. When the two views are
                equal (nothing was cached) and both are asked for, they are shown once.

        Raises:
            ConfigError: an unknown mode.
        """
        modes: list[UsageMode] = [mode] if isinstance(mode, str) else list(mode)
        for m in modes:
            self._pick(m)  # checks the mode (and sums the counted rows)
        if set(modes) == {"actual", "total"} and self._total == self._actual:
            return self._format_view("total", "Usage (no cached replies)")
        titles = {"actual": "Usage excluding cached replies", "total": "Usage including cached replies"}
        return "\n".join(self._format_view(m, titles[m]) for m in modes)

    def _format_view(self, mode: UsageMode, title: str) -> str:
        usage = self._pick(mode)
        if not usage:
            return f"{title}: none"
        lines = [f"{title}: total cost ${self.total_cost(mode):.6f}"]
        for model, u in sorted(usage.items()):
            lines.append(
                f"  {model}: cost ${u.cost:.6f}, prompt_tokens {u.prompt_tokens}, "
                f"completion_tokens {u.completion_tokens}, total_tokens {u.total_tokens}"
            )
        return "\n".join(lines)

    def _pick(self, mode: str) -> dict[str, ModelUsage]:
        self._fold()
        if mode == "total":
            return _usages(self._total)
        if mode == "actual":
            return _usages(self._actual)
        raise ConfigError(f"Unknown usage mode {mode!r}; use 'actual' or 'total'.", key="mode")


class UsageCounter(Protocol):
    """Anything that counts model responses: a `UsageSummary`, or a runtime's budget keeper."""

    def add(self, response: ModelResponse) -> None:
        """Count one response (cached ones included; ``response.cached`` says which)."""


CHAT_USAGE: ContextVar[tuple[UsageCounter, ...]] = ContextVar("parley_chat_usage", default=())
"""The usage counters of the work running in this context (chats, a runtime's run), innermost last.

A chat pushes its own summary here (see `parley.agentchat.chat.run_two_agent_chat`) and every
model call made in its context is counted in it, so a chat's cost is its own even when other
chats run at the same time through the same agents. Every call through an `OpenAIWrapper` is
counted, whoever makes it: an agent's reply, a group chat's speaker selection, a summary.
"""


def count_in_chats(response: ModelResponse) -> None:
    """Count ``response`` in every counter of this context (see `CHAT_USAGE`)."""
    for summary in CHAT_USAGE.get():
        summary.add(response)


def count_usage(summary: UsageSummary, response: ModelResponse) -> None:
    """Count ``response`` in ``summary`` and in every counter of this context: one model call's usage.

    The same as ``summary.add(response)`` then `count_in_chats`, with the response read once
    (this runs on every model call).
    """
    u = response.usage
    row: _Row = (response.model or "unknown", response.cost, u.prompt_tokens, u.completion_tokens, u.total_tokens)
    if response.cached:
        row = (*row, True)
    rows = summary._rows  # `UsageSummary._add`, spelled out
    rows.append(row)
    if len(rows) >= _FOLD_AT:
        summary._fold()
    for counter in CHAT_USAGE.get():
        if type(counter) is UsageSummary:
            rows = counter._rows
            rows.append(row)
            if len(rows) >= _FOLD_AT:
                counter._fold()
        else:  # a runtime's budget keeper, or another UsageCounter: it reads the response itself
            counter.add(response)
