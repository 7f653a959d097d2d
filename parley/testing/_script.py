"""Scripted replies, shared by the in-process test clients and the scripted HTTP server.

A *script* is what a test says the model will answer, in order. Each reply is one of:

- a ``str``: the assistant's text;
- ``{"content": str | None, "tool_calls": [{"name": "f", "arguments": {...} | "json", "id"?: "..."}]}``;
- a fault, for failure tests: ``{"error": {"status": 429, "message": "...", "headers"?: {...}}}``,
  ``{"raw": "<any body text>"}`` or ``{"raw_json": {...}}`` (answered with HTTP 200), or
  ``{"raw_events": ["<data of one SSE event>", ..., "[DONE]"]}`` (a stream sent verbatim: each
  item is one ``data:`` event, with no ``[DONE]`` added);
- any of the above with ``"delay": seconds`` added, to answer late.

Streamed replies (the request says ``"stream": true``) take two more faults, on the wire only:

- ``"stream_pause": {"after": n, "until": event}`` sends ``n`` events, then waits until
  ``event.wait()`` (a `threading.Event` the test sets) returns, or, with ``"seconds": s`` instead
  of ``"until"``, waits ``s`` seconds (a stream that stalls past the client's timeout);
- ``"stream_cut": n`` sends ``n`` events, then drops the connection (a stream that breaks);
- ``"keep_alive": {"every": s, "after": n}`` sends ``n`` events (default 0), then the SSE comment
  ``: keep-alive`` every ``s`` seconds, forever: a stream that never ends and never stalls.

On the wire, any reply can also go out slowly, for tests of clients' deadlines:

- ``"trickle": {"every": s}`` sends the body one byte every ``s`` seconds; with
  ``"headers": true`` the status line and headers trickle too; with ``"by": "event"`` a streamed
  reply sends one whole SSE event every ``s`` seconds instead (a slow but steady stream).

Token usage is approximated, deterministically, as ``len(text) // 4 + 1`` tokens per message (the
common rule of thumb of about four characters per English token). The text of a message is its
string content (or the text parts of a content list) followed by the name and arguments of each
tool call. The prompt counts every request message; the completion counts the reply.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.exceptions import ConfigError
from parley.llm.config import import_object
from parley.llm.types import ToolCall

__all__ = [
    "Reply",
    "ReplySource",
    "Script",
    "ScriptExhaustedError",
    "approx_tokens",
    "load_script",
    "message_text",
    "parse_reply",
    "usage_for",
]

ReplySource = Sequence[Any] | Callable[[dict[str, Any]], Any]
"""A list of replies, or a callable taking the request body and returning one reply."""

_REPLY_KEYS = (
    "content", "tool_calls", "error", "delay", "raw", "raw_json", "raw_events",
    "stream_pause", "stream_cut", "keep_alive", "trickle",
)  # fmt: skip
_PAUSE_KEYS = ("after", "until", "seconds")
_KEEP_ALIVE_KEYS = ("every", "after")
_TRICKLE_KEYS = ("every", "by", "headers")
_TOOL_CALL_KEYS = ("name", "arguments", "id")


@dataclass(frozen=True)
class Reply:
    """One parsed scripted reply.

    Attributes:
        content: the assistant text, or None when the reply only calls tools.
        tool_calls: the tool calls, in the OpenAI shape with JSON-encoded arguments.
        delay: seconds to wait before answering.
        error: ``(status, message, headers)`` for an HTTP error reply, else None.
        raw: a body sent verbatim with status 200, else None.
        raw_json: the JSON text of an object sent as the body with status 200, else None.
        raw_events: the data of each SSE event of a verbatim stream, else None.
        stream_pause: ``(after_events, event_or_None, seconds)``: where a stream pauses and until
            when, else None.
        stream_cut: the number of events after which a stream's connection is dropped, else None.
        keep_alive: ``(after_events, every_seconds)``: a stream that sends keep-alive comments
            forever after that many events, else None.
        trickle: ``(by, every_seconds, headers)``: the answer goes out one ``"byte"`` or one
            SSE ``"event"`` every that many seconds, the status line and headers too when
            ``headers``; else None.
    """

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    delay: float = 0.0
    error: tuple[int, str, dict[str, str]] | None = None
    raw: str | None = None
    raw_json: str | None = None
    raw_events: tuple[str, ...] | None = None
    stream_pause: tuple[int, Any, float] | None = None
    stream_cut: int | None = None
    keep_alive: tuple[int, float] | None = None
    trickle: tuple[str, float, bool] | None = None


def _where(index: int | None) -> str:
    return f"reply #{index + 1}" if index is not None else "reply"


def _bad(what: str, index: int | None) -> ConfigError:
    return ConfigError(f"Bad scripted {_where(index)}: {what}")


def _check_keys(obj: Mapping[str, Any], allowed: Sequence[str], index: int | None, what: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ConfigError(
                f"Bad scripted {_where(index)}: unknown {what} key {key!r}; known keys: {', '.join(allowed)}.",
                key=str(key),
                suggestions=difflib.get_close_matches(str(key), allowed, n=1),
            )


def _parse_tool_call(obj: Any, index: int | None, k: int) -> ToolCall:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("name"), str):
        raise _bad(f'tool call #{k + 1} must be a dict with a "name" string, got {obj!r}', index)
    _check_keys(obj, _TOOL_CALL_KEYS, index, "tool call")
    args = obj.get("arguments", {})
    if not isinstance(args, str):
        args = json.dumps(args)
    call_id = obj.get("id") or f"call_{(index or 0) + 1}_{k + 1}"
    return {"id": str(call_id), "type": "function", "function": {"name": obj["name"], "arguments": args}}


def parse_reply(obj: Any, index: int | None = None) -> Reply:
    """Turn one scripted reply (see the module docstring) into a `Reply`.

    Args:
        obj: the reply as written in the script.
        index: its 0-based position in the script, used in error messages and default tool call ids
            (``call_<reply>_<call>``, both 1-based).

    Returns:
        The parsed reply.

    Raises:
        ConfigError: the reply has the wrong type or an unknown key (with a "did you mean").
    """
    if isinstance(obj, str):
        return Reply(content=obj)
    if not isinstance(obj, Mapping):
        raise _bad(f"expected a str or a dict, got {type(obj).__name__}: {obj!r}", index)
    _check_keys(obj, _REPLY_KEYS, index, "reply")
    delay = obj.get("delay", 0.0)
    if not isinstance(delay, (int, float)) or delay < 0:
        raise _bad(f'"delay" must be a number of seconds >= 0, got {delay!r}', index)
    faults = _stream_faults(obj, index)
    pace = faults.pop("trickle", None)
    paced = {} if pace is None else {"trickle": pace}
    if "error" in obj:
        err = obj["error"]
        if not isinstance(err, Mapping) or not isinstance(err.get("status"), int):
            raise _bad(f'"error" must be {{"status": int, "message": str}}, got {err!r}', index)
        message = str(err.get("message", f"scripted error {err['status']}"))
        headers = {str(k): str(v) for k, v in dict(err.get("headers", {})).items()}
        return Reply(delay=float(delay), error=(err["status"], message, headers), **paced)
    if "raw" in obj:
        return Reply(delay=float(delay), raw=str(obj["raw"]), **paced)
    if "raw_json" in obj:
        return Reply(delay=float(delay), raw_json=json.dumps(obj["raw_json"]), **paced)
    if "raw_events" in obj:
        events = obj["raw_events"]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise _bad(f'"raw_events" must be a list of str (the data of each event), got {events!r}', index)
        return Reply(delay=float(delay), raw_events=tuple(events), **faults, **paced)
    content = obj.get("content")
    if content is not None and not isinstance(content, str):
        raise _bad(f'"content" must be a str or None, got {content!r}', index)
    calls = obj.get("tool_calls") or []
    if not isinstance(calls, list):
        raise _bad(f'"tool_calls" must be a list, got {calls!r}', index)
    parsed = tuple(_parse_tool_call(c, index, k) for k, c in enumerate(calls))
    return Reply(content=content, tool_calls=parsed, delay=float(delay), **faults, **paced)


def _count(value: Any, what: str, index: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{what} must be a number of events >= 0, got {value!r}", index)
    return value


def _seconds(value: Any, what: str, index: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _bad(f"{what} must be a number of seconds > 0, got {value!r}", index)
    return float(value)


def _mapping(obj: Mapping[str, Any], key: str, allowed: Sequence[str], shape: str, index: int | None) -> Any:
    value = obj[key]
    if not isinstance(value, Mapping):
        raise _bad(f'"{key}" must be {shape}, got {value!r}', index)
    _check_keys(value, allowed, index, key)
    return value


def _stream_faults(obj: Mapping[str, Any], index: int | None) -> dict[str, Any]:
    """The ``stream_pause``, ``stream_cut``, ``keep_alive`` and ``trickle`` of a reply, as `Reply` fields."""
    out: dict[str, Any] = {}
    if "stream_cut" in obj:
        out["stream_cut"] = _count(obj["stream_cut"], '"stream_cut"', index)
    if "keep_alive" in obj:
        alive = _mapping(obj, "keep_alive", _KEEP_ALIVE_KEYS, '{"every": s, "after"?: n}', index)
        every = _seconds(alive.get("every"), '"keep_alive.every"', index)
        out["keep_alive"] = (_count(alive.get("after", 0), '"keep_alive.after"', index), every)
    if "trickle" in obj:
        shape = '{"every": s, "by"?: "byte" | "event", "headers"?: bool}'
        trickle = _mapping(obj, "trickle", _TRICKLE_KEYS, shape, index)
        every = _seconds(trickle.get("every"), '"trickle.every"', index)
        by, headers = trickle.get("by", "byte"), trickle.get("headers", False)
        if by not in ("byte", "event"):
            raise _bad(f'"trickle.by" must be "byte" or "event", got {by!r}', index)
        if not isinstance(headers, bool) or (headers and by == "event"):
            raise _bad(f'"trickle.headers" must be a bool, and true only with "by": "byte"; got {headers!r}', index)
        out["trickle"] = (by, every, headers)
    pause = obj.get("stream_pause")
    if pause is None:
        return out
    if not isinstance(pause, Mapping):
        shape = '{"after": n, "until": event} or {"after": n, "seconds": s}'
        raise _bad(f'"stream_pause" must be {shape}, got {pause!r}', index)
    _check_keys(pause, _PAUSE_KEYS, index, "stream_pause")
    after = _count(pause.get("after", 0), '"stream_pause.after"', index)
    until, seconds = pause.get("until"), pause.get("seconds", 0.0)
    if (until is None) == (not seconds):
        raise _bad('"stream_pause" needs exactly one of "until" (an Event) and "seconds" (> 0)', index)
    if until is not None and not callable(getattr(until, "wait", None)):
        raise _bad(f'"stream_pause.until" must have a wait(timeout) method, like threading.Event; got {until!r}', index)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise _bad(f'"stream_pause.seconds" must be a number of seconds >= 0, got {seconds!r}', index)
    out["stream_pause"] = (after, until, float(seconds))
    return out


def approx_tokens(text: str) -> int:
    """Approximate token count of one message's text: ``len(text) // 4 + 1`` (characters / 4)."""
    return len(text) // 4 + 1


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message that `approx_tokens` counts: content text, then tool call names and args."""
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        parts.extend(p.get("text", "") for p in content if isinstance(p, Mapping))
    for call in message.get("tool_calls") or ():
        fn = call.get("function", {}) if isinstance(call, Mapping) else {}
        parts.append(str(fn.get("name", "")) + str(fn.get("arguments", "")))
    return "".join(parts)


def usage_for(messages: Sequence[Mapping[str, Any]], reply: Reply) -> tuple[int, int]:
    """Approximate ``(prompt_tokens, completion_tokens)`` of answering ``messages`` with ``reply``."""
    prompt = sum(approx_tokens(message_text(m)) for m in messages)
    completion = approx_tokens(message_text({"content": reply.content, "tool_calls": list(reply.tool_calls)}))
    return prompt, completion


class ScriptExhaustedError(LookupError):
    """Every scripted reply has been used."""


class Script:
    """A thread-safe cursor over a reply list, or a callable asked for each reply.

    Args:
        source: the replies (parsed up front, so a bad one fails at construction) or a callable
            ``fn(request_body) -> reply``.

    Raises:
        ConfigError: a reply in the list is malformed.
    """

    def __init__(self, source: ReplySource) -> None:
        self._fn: Callable[[dict[str, Any]], Any] | None = None
        self._replies: list[Reply] = []
        if callable(source):
            self._fn = source
        elif isinstance(source, (str, bytes)) or not isinstance(source, Sequence):
            raise ConfigError(
                f"A script is a list of replies or a callable, got {type(source).__name__}; "
                "wrap a single reply in a list."
            )
        else:
            self._replies = [parse_reply(r, i) for i, r in enumerate(source)]
        self._lock = threading.Lock()
        self._used = 0

    @property
    def used(self) -> int:
        """How many replies have been handed out."""
        return self._used

    def next(self, request: dict[str, Any]) -> Reply:
        """The reply to ``request`` (the request body, or ``{"messages", "tools", ...}`` in-process).

        Raises:
            ScriptExhaustedError: the list has no replies left; the message says how many were used.
            ConfigError: the callable returned something that is not a reply.
        """
        with self._lock:
            index = self._used
            if self._fn is None:
                if index >= len(self._replies):
                    raise ScriptExhaustedError(f"script exhausted after {len(self._replies)} replies")
                self._used += 1
                return self._replies[index]
            self._used += 1
        return parse_reply(self._fn(request), index)


def load_script(spec: str | Path) -> tuple[ReplySource, dict[str, Any]]:
    """Load a script from a JSON or YAML file, or from ``"pkg.module:fn"``.

    A file holds either a list of replies or a mapping ``{"replies": [...], "models": [...],
    "model": "...", "api_key": "..."}`` whose other keys are server options.

    Args:
        spec: a path ending in ``.json``, ``.yaml`` or ``.yml``, or ``"pkg.module:fn"``.

    Returns:
        ``(replies_or_callable, server_options)``.

    Raises:
        ConfigError: the file is missing or malformed, or the callable cannot be imported.
        MissingDependencyError: a YAML file was given and PyYAML is not installed.
    """
    path = Path(spec)
    if not path.exists() and ":" in str(spec) and path.suffix.lower() not in (".json", ".yaml", ".yml"):
        fn = import_object(str(spec))
        if not callable(fn):
            raise ConfigError(f"{spec!r} is not callable; a script function takes the request body.")
        return fn, {}
    if not path.is_file():
        raise ConfigError(f"Script file {str(path)!r} does not exist (expected JSON, YAML or pkg.module:fn).")
    text = path.read_text(encoding="utf-8")
    data = _parse_file(text, path)
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("replies"), list):
        options = {k: v for k, v in data.items() if k != "replies"}
        _check_keys(options, ("models", "model", "api_key"), None, "script file")
        return data["replies"], options
    raise ConfigError(f"Script file {str(path)!r} must hold a list of replies or a mapping with 'replies'.")


def _parse_file(text: str, path: Path) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # PyYAML is a core dependency; this is a broken install
            raise ConfigError(
                f"Script file {str(path)!r} is YAML and PyYAML is missing: pip install pyyaml (or write it as JSON)."
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"Script file {str(path)!r} is not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Script file {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
