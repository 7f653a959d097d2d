"""Reading a runtime config: parse the file, check its shape and references, word each problem.

Every problem becomes ``(path, message)``: the path as written in the file
(``teams.review.members[2]``), and what was wrong with a "did you mean" for a misspelled id,
key or kind. All problems of a file are reported together in one `RuntimeConfigError`.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from parley.exceptions import ConfigError, RuntimeConfigError
from parley.runtime.config import AGENT_KINDS, TOOL_KINDS, RuntimeConfig

__all__ = ["check_references", "format_path", "load_config", "parse_config", "read_file"]

_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}


def format_path(loc: Iterable[Any]) -> str:
    """``("teams", "review", "members", 2)`` -> ``teams.review.members[2]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


def read_file(path: str | Path) -> Any:
    """Parse a YAML, TOML or JSON file (by its suffix) into plain data.

    Raises:
        RuntimeConfigError: the file is missing, has another suffix, or does not parse (with
            the line where the parser stopped).
    """
    p = Path(path)
    kind = _SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise RuntimeConfigError(str(p), [("", f"unknown file type {p.suffix!r}; use .yaml, .yml, .toml or .json.")])
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise RuntimeConfigError(str(p), [("", f"cannot read the file: {e.strerror or e}.")]) from None
    try:
        if kind == "json":
            return json.loads(text)
        if kind == "toml":
            import tomllib

            return tomllib.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as e:  # each parser has its own error type; all say where they stopped
        raise RuntimeConfigError(str(p), [("", f"not valid {kind.upper()}: {e}")]) from None


def load_config(path: str | Path) -> RuntimeConfig:
    """Read and check the config file at ``path`` (YAML, TOML or JSON, by suffix).

    Raises:
        RuntimeConfigError: the file cannot be read or parsed, or any problem in it (each with
            its path and a "did you mean").
    """
    return parse_config(read_file(path), source=str(path))


def parse_config(data: Any, *, source: str = "<dict>") -> RuntimeConfig:
    """Check ``data`` (a dict, as read from a file) and return the config.

    Raises:
        RuntimeConfigError: every problem, with its path and a "did you mean".
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RuntimeConfigError(
            source, [("", f"the config must be a mapping of sections, got {type(data).__name__}.")]
        )
    try:
        config = RuntimeConfig.model_validate(dict(data))
    except ValidationError as e:
        raise RuntimeConfigError(source, [_word(err) for err in e.errors()]) from None
    problems = check_references(config)
    if problems:
        raise RuntimeConfigError(source, problems)
    return config


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the value at ``loc`` (for naming its known keys)."""
    current: Any = RuntimeConfig
    for part in loc:
        current = _step(current, part)
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            inner = _unwrap(arg)
            if (isinstance(inner, type) and issubclass(inner, BaseModel)) or typing.get_origin(inner) in (dict, list):
                return inner
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return None if field is None else field.annotation
    origin = typing.get_origin(tp)
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list:
        return typing.get_args(tp)[0]
    return None


def _file_loc(loc: Iterable[Any]) -> tuple[Any, ...]:
    """A pydantic error location as written in the file: validator names and union tags left out."""
    out = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-after")))
    if len(out) >= 3 and out[0] == "tools" and out[2] in TOOL_KINDS:
        out = out[:2] + out[3:]  # the tag pydantic puts after a tools: entry's id
    return out


def _word(err: Mapping[str, Any]) -> tuple[str, str]:
    loc = _file_loc(err["loc"])
    kind = err["type"]
    if kind == "union_tag_invalid":
        given = str(err.get("ctx", {}).get("tag"))
        return format_path((*loc, "kind")), (
            f"unknown tool kind {given!r}.{_did_you_mean(given, TOOL_KINDS)} Use one of {', '.join(TOOL_KINDS)} "
            "(or leave kind out for a Python function)."
        )
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model is not None else []
        hint = _did_you_mean(str(loc[-1]), known)
        keys = f" Known keys: {', '.join(known)}." if known and not hint else ""
        return format_path(loc), f"unknown key {loc[-1]!r}.{hint}{keys}"
    if kind == "literal_error":
        expected = [
            s.strip().strip("'") for s in str(err.get("ctx", {}).get("expected", "")).replace(" or ", ",").split(",")
        ]
        given = str(err.get("input"))
        return format_path(loc), f"{given!r} is not one of {', '.join(expected)}.{_did_you_mean(given, expected)}"
    if kind == "missing":
        return format_path(loc), "this key is required."
    message = str(err.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if kind == "value_error":
        return format_path(loc), message if message.endswith((".", "?")) else f"{message}."
    return format_path(loc), f"{message} (got {err.get('input')!r})."


def _ref(problems: list[tuple[str, str]], path: str, what: str, value: str, known: Mapping[str, Any]) -> None:
    if value not in known:
        listed = f" Known {what}s: {', '.join(sorted(known))}." if known else f" There are no {what}s in the file."
        hint = _did_you_mean(value, known)
        problems.append((path, f"unknown {what} {value!r}.{hint or listed}"))


def check_references(config: RuntimeConfig) -> list[tuple[str, str]]:
    """Every reference between ids that points nowhere, and kinds that are not known.

    Returns:
        ``(path, message)`` per problem, in the file's order; empty when all is well.
    """
    problems: list[tuple[str, str]] = []
    from parley.coding.factory import EXECUTOR_ALIASES, EXECUTOR_REGISTRY
    from parley.runtime._shared import SHARED_KINDS, build_shared

    executor_kinds = sorted({*EXECUTOR_REGISTRY, *EXECUTOR_ALIASES, *SHARED_KINDS})
    for eid, ex in config.executors.items():
        if ex.kind in SHARED_KINDS:
            try:
                build_shared(ex)  # builds only: a pool's constructor starts nothing
            except ConfigError as e:
                hint = f" Did you mean {e.suggestions[0]!r}?" if e.suggestions else ""
                problems.append((f"executors.{eid}.options", f"{e}{hint if hint not in str(e) else ''}"))
        elif ":" not in ex.kind and ex.kind not in executor_kinds:
            problems.append(
                (f"executors.{eid}.kind", f"unknown executor kind {ex.kind!r}.{_did_you_mean(ex.kind, executor_kinds)} "
                 f"Use one of {', '.join(executor_kinds)} or 'pkg.module:Class'.")
            )  # fmt: skip
    for aid, agent in config.agents.items():
        base = f"agents.{aid}"
        if ":" not in agent.kind and agent.kind not in AGENT_KINDS:
            problems.append(
                (f"{base}.kind", f"unknown agent kind {agent.kind!r}.{_did_you_mean(agent.kind, AGENT_KINDS)} "
                 f"Use one of {', '.join(AGENT_KINDS)} or 'pkg.module:Class'.")
            )  # fmt: skip
        if agent.model is not None:
            _ref(problems, f"{base}.model", "model", agent.model, config.models)
        if agent.executor is not None:
            _ref(problems, f"{base}.executor", "executor", agent.executor, config.executors)
        for i, tool in enumerate(agent.tools):
            _ref(problems, f"{base}.tools[{i}]", "tool", tool, config.tools)
    for tid in config.teams:
        _check_team(problems, config, tid)
    return problems


def _check_team(problems: list[tuple[str, str]], config: RuntimeConfig, tid: str) -> None:
    team = config.teams[tid]
    base = f"teams.{tid}"
    for i, member in enumerate(team.members):
        _ref(problems, f"{base}.members[{i}]", "agent", member, config.agents)
    if team.kind == "two_agent" and len(team.members) != 2:
        problems.append((f"{base}.members", f"a two_agent team has exactly 2 members, got {len(team.members)}."))
    if team.kind == "group_chat":
        if len(team.members) < 2:
            problems.append(
                (f"{base}.members", f"a group_chat team needs at least 2 members, got {len(team.members)}.")
            )
        if team.model is not None:
            _ref(problems, f"{base}.model", "model", team.model, config.models)
        elif team.speaker_selection == "auto":
            problems.append(
                (f"{base}.model", "speaker_selection 'auto' needs a model: name one, or use 'round_robin'.")
            )
        for src, dests in (team.transitions or {}).items():
            _ref(problems, f"{base}.transitions.{src}", "member", src, dict.fromkeys(team.members))
            for j, dest in enumerate(dests):
                _ref(problems, f"{base}.transitions.{src}[{j}]", "member", dest, dict.fromkeys(team.members))
    if team.kind == "sequence":
        if not team.chats:
            problems.append((f"{base}.chats", "a sequence team needs at least one chat."))
        for j, chat in enumerate(team.chats):
            _ref(problems, f"{base}.chats[{j}].sender", "agent", chat.sender, config.agents)
            _ref(problems, f"{base}.chats[{j}].recipient", "agent", chat.recipient, config.agents)
    elif team.chats:
        problems.append((f"{base}.chats", f"only a sequence team has chats; this one is a {team.kind}."))
