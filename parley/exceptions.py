"""Every error parley raises, under one root.

The tree::

    ParleyError
    ├── ConfigError                 bad llm_config / code_execution_config / argument (also ValueError)
    │   ├── AgentNameConflict           several group members share the name asked for
    │   ├── InvalidCarryOverType        a carryover that is not a str or a list
    │   ├── SenderRequired              a reply trigger that names an agent, matched with no sender
    │   ├── RuntimeConfigError          a runtime config file is wrong; lists each problem with its path
    │   ├── UndefinedNextAgent          next_agent given agents that are not in the group
    │   └── UsageError                  a call AutoGen 0.2 refused with ``assert`` (also AssertionError)
    ├── NoEligibleSpeaker           nobody may speak next in a group chat: the chat ends
    ├── NoConversationError         last_message() for an agent never talked to (also KeyError, as in 0.2)
    ├── MissingDependencyError      an optional extra is not installed (also ImportError)
    ├── InvalidMessageError         a message has neither content nor tool calls (also ValueError)
    ├── ToolArgumentsError          a model's tool arguments do not fit the tool (also ValueError)
    ├── CacheError                  a model-response cache's store failed, or it was closed
    ├── ArtifactError               a sandbox file cannot be read, listed or archived (outside, missing ...)
    ├── MCPServerError              an MCP server could not be started or reached, or broke the protocol
    ├── ModelError                  a model call failed; names the config entry, key redacted
    │   ├── ModelAuthenticationError    missing or rejected API key
    │   ├── ModelConnectionError        server unreachable or timed out
    │   ├── ModelNotFoundError          the server does not know the model
    │   ├── ModelRateLimitError         429 after retries
    │   └── ModelResponseError          the reply is malformed (no choices, no content ...)
    └── ExecutorError               the executor itself failed (not the code it ran)
        ├── ExecutorUnavailableError    the executor cannot start here (no daemon, no IPython ...)
        │   └── DockerNotRunningError       Docker was asked for and no daemon answers (also RuntimeError)
        ├── ImageBuildError             building a sandbox image with the packages asked for failed
        ├── PoolExhaustedError          no pooled executor became free in time; names who holds them
        └── DispatcherFullError         an ExecutionDispatcher's queue stayed full; names who fills it

A failing *code block* is never an exception: it is a ``CodeResult`` with ``exit_code != 0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AgentNameConflict",
    "ArtifactError",
    "CacheError",
    "ConfigError",
    "ConfigNotFoundError",
    "DispatcherFullError",
    "DockerNotRunningError",
    "ExecutorError",
    "ExecutorUnavailableError",
    "ImageBuildError",
    "InvalidCarryOverType",
    "InvalidMessageError",
    "MCPServerError",
    "MissingDependencyError",
    "ModelAuthenticationError",
    "ModelConnectionError",
    "ModelError",
    "ModelNotFoundError",
    "ModelRateLimitError",
    "ModelResponseError",
    "NoConversationError",
    "NoEligibleSpeaker",
    "ParleyError",
    "PoolExhaustedError",
    "RuntimeConfigError",
    "SenderRequired",
    "ToolArgumentsError",
    "UndefinedNextAgent",
    "UsageError",
    "redact_config",
    "redact_url",
]

_SECRET_NAMES = frozenset({"api_key", "key", "token", "secret", "password", "authorization", "passwd"})
_SECRET_SUFFIXES = ("_key", "_token", "_secret", "_password", "-key", "-token")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _is_secret_name(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_NAMES or lower.endswith(_SECRET_SUFFIXES)


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact_config(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, safe to show in a message."""
    return _URL_USERINFO.sub("***@", url)


def redact_config(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a config entry that is safe to show.

    Args:
        entry: a ``config_list`` entry (``{"model": ..., "api_key": ..., ...}``).

    Returns:
        The same mapping, searched through nested mappings and lists, with every secret value
        replaced by ``"sk-...abcd"`` (at most its first 3 and last 4 characters, so a user can
        tell two keys apart; ``"***"`` when shorter than 12). Secret names are ``api_key``,
        ``key``, ``token``, ``secret``, ``password``, ``authorization`` and names ending in
        ``_key``, ``_token``, ``_secret`` or ``_password`` (so ``max_tokens`` is shown). Any
        ``user:password@`` in a URL value becomes ``***@``.
    """
    out: dict[str, Any] = {}
    for k, v in entry.items():
        if _is_secret_name(str(k)) and v is not None and not isinstance(v, Mapping):
            text = str(v)
            out[k] = "***" if len(text) < 12 else f"{text[:3]}...{text[-4:]}"
        else:
            out[k] = _redact_value(v)
    return out


class ParleyError(Exception):
    """Root of every error that parley raises."""


class ConfigError(ParleyError, ValueError):
    """A configuration value is wrong.

    Attributes:
        key: the config key that was wrong, when there is one.
        suggestions: close matches for a misspelled name ("did you mean").
        hint: what to do about it, shown after the message; kept out of ``args[0]``, so that a
            message AutoGen 0.2's tests compare exactly can stay 0.2's.
    """

    def __init__(
        self, message: str, *, key: str | None = None, suggestions: Sequence[str] = (), hint: str | None = None
    ) -> None:
        if suggestions:
            message = f"{message} Did you mean {' or '.join(repr(s) for s in suggestions)}?"
        super().__init__(message)
        self.key = key
        self.suggestions = tuple(suggestions)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.hint}" if self.hint else text


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """A config file (or the variable naming it) was not found; a `FileNotFoundError`, as in AutoGen 0.2.

    The message lists every place that was looked in.
    """


class AgentNameConflict(ConfigError):
    """Several members of a group chat have the name asked for (AutoGen 0.2's exception)."""

    def __init__(self, message: str = "Found multiple agents with the same name.", *, key: str | None = "name") -> None:
        super().__init__(message, key=key)


class InvalidCarryOverType(ConfigError):
    """A chat's ``carryover`` is not a str or a list (AutoGen 0.2's exception)."""

    def __init__(self, message: str = "Carryover should be a string or a list of strings.") -> None:
        super().__init__(message, key="carryover")


class SenderRequired(ConfigError):
    """A reply function registered for an agent name was matched against a reply with no sender (0.2's)."""

    def __init__(self, message: str = "Sender is required but not provided.") -> None:
        super().__init__(message, key="sender")


class UndefinedNextAgent(ConfigError):
    """``next_agent`` was given agents outside the group, or none of them can follow (0.2's exception)."""

    def __init__(self, message: str = "The provided agents list does not overlap with agents in the group.") -> None:
        super().__init__(message, key="agents")


class NoEligibleSpeaker(ParleyError):
    """Nobody may speak next in a group chat; the manager ends the chat (AutoGen 0.2's exception).

    Raise it from a speaker-selection function to end the chat early, as in 0.2.
    """

    def __init__(self, message: str = "No eligible speakers.") -> None:
        self.message = message
        super().__init__(message)


class NoConversationError(ParleyError, KeyError):
    """``last_message(agent)`` for an agent this one never talked to; a KeyError, as in AutoGen 0.2."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class UsageError(ConfigError, AssertionError):
    """A call that AutoGen 0.2 refused with ``assert``.

    Such as ``generate_reply()`` with neither messages nor a sender, or a tool offered by an agent
    with no model. It is also an ``AssertionError``, so 0.2 code that catches that keeps working; unlike an
    ``assert`` it is raised under ``python -O`` too.
    """


class RuntimeConfigError(ConfigError):
    """A runtime config (a file or a dict for `parley.runtime.Runtime`) is wrong.

    The message lists every problem, one a line, each starting with its path in the file
    (``teams.review.members[2]: ...``) and ending with a "did you mean" where one fits.

    Attributes:
        source: the file (or ``"<dict>"``) the config came from.
        problems: ``(path, message)`` for each problem, in the file's order.
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        lines = "\n".join(f"  {path}: {message}" if path else f"  {message}" for path, message in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}:\n{lines}", key=problems[0][0] if problems else None)
        self.source = source
        self.problems = tuple(problems)


class MissingDependencyError(ParleyError, ImportError):
    """An optional extra is not installed; the message says which ``pip install`` fixes it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module!r} is not installed. Install it with: pip install 'pyparley[{extra}]'", name=module)
        self.extra = extra


class InvalidMessageError(ParleyError, ValueError):
    """A message cannot be sent: it is not a str or dict, or has neither content nor tool calls."""


class ToolArgumentsError(ParleyError, ValueError):
    """The arguments a model sent for a tool do not fit the tool's parameters.

    Raised by the validating wrapper that ``register_for_execution`` installs; `run_tool_calls`
    turns it into an ``"Error: bad arguments for 'name': ..."`` response, so the model can retry.

    Attributes:
        tool: the tool's name.
        problems: one line per bad argument, ``"where: what (got value)"``.
    """

    def __init__(self, tool: str, problems: Sequence[str]) -> None:
        self.tool = tool
        self.problems = tuple(problems)
        super().__init__(f"bad arguments for {tool!r}: {'; '.join(self.problems)}")


class CacheError(ParleyError):
    """A model-response cache's store (SQLite file, Redis server) failed, or the cache was closed."""


class ArtifactError(ParleyError):
    """A file or directory in a sandbox's slot cannot be read, listed, archived or written.

    The host reads what sandboxed code left in its working directory (see
    `parley.coding.ExecutorPool.read_artifact`); this error says why it refused or failed.

    Attributes:
        reason: one word for what went wrong: ``"outside"`` (the path leaves the slot),
            ``"symlink"`` (a symbolic link on the way, never followed), ``"missing"``,
            ``"not_a_file"``, ``"not_a_directory"``, ``"too_large"`` (over ``max_bytes``),
            ``"no_slot"`` (the key holds no slot), ``"unreadable"`` (any other OS error).
        path: the path as asked for ("" when there is none).
        key: the pool key asked about, or None.
    """

    def __init__(self, message: str, *, reason: str, path: str = "", key: object = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path
        self.key = key


class MCPServerError(ParleyError):
    """An MCP server could not be started, reached or spoken to (see `parley.runtime.mcp`).

    A tool that fails *on* the server is not an exception: its error comes back to the model as
    the tool's result text. This error is raised when there is no working connection to ask:
    the command does not exist, the process exits or says nothing within the start-up deadline,
    the URL refuses the handshake, or a variable named in ``env_from``/``headers_env`` is unset.

    Attributes:
        server: the toolset's name (the id the server has in the config).
    """

    def __init__(self, message: str, *, server: str) -> None:
        super().__init__(message)
        self.server = server


class ModelError(ParleyError):
    """A model call failed.

    Attributes:
        config: the config entry that failed, with secrets redacted (see `redact_config`).
        status_code: the HTTP status, when the server answered.
    """

    def __init__(
        self, message: str, *, config: Mapping[str, Any] | None = None, status_code: int | None = None
    ) -> None:
        self.config = redact_config(config) if config is not None else None
        self.status_code = status_code
        if self.config is not None:
            shown = {k: v for k, v in self.config.items() if k in ("model", "base_url", "api_type", "api_key")}
            message = f"{message} [config entry: {shown}]"
        super().__init__(message)


class ModelAuthenticationError(ModelError):
    """The API key is missing or was rejected."""


class ModelConnectionError(ModelError):
    """The model server could not be reached, or did not answer in time."""


class ModelNotFoundError(ModelError):
    """The server does not serve the requested model."""


class ModelRateLimitError(ModelError):
    """The server kept answering 429 (rate limited) after all retries."""


class ModelResponseError(ModelError):
    """The server's reply was malformed: no choices, no content and no tool calls, bad JSON ..."""


class ExecutorError(ParleyError):
    """The code executor itself failed (a dead kernel, a vanished daemon), not the code it ran."""


class ExecutorUnavailableError(ExecutorError):
    """The executor cannot run here; the message names the fix or another executor to choose."""


class DockerNotRunningError(ExecutorUnavailableError, RuntimeError):
    """Code was to run in Docker and no daemon answers (a `RuntimeError`, as AutoGen 0.2 raised)."""


class ImageBuildError(ExecutorError):
    """Building the Docker sandbox image with ``packages``/``apt_packages`` failed.

    The message quotes the end of the build's output, where pip and apt-get say what went wrong.
    """


class PoolExhaustedError(ExecutorError):
    """No member of an `ExecutorPool` became free within the acquire timeout.

    The message names the pool's size and what holds its members, longest held first, and what
    to do (release keys that are done, a larger ``size``, a longer ``acquire_timeout``).

    Attributes:
        size: the number of members the pool keeps.
        waited: seconds the caller waited.
        holders: ``(key, seconds held)`` for each lease holding a member, longest held first; the
            key is shown with ``repr``, ``"<anonymous>"`` for a lease taken without a key.
        busy: members being started, reset or replaced (held by no lease).
        waiting: other callers still waiting.
    """

    def __init__(
        self, *, size: int, waited: float, holders: Sequence[tuple[str, float]], busy: int, waiting: int
    ) -> None:
        self.size = size
        self.waited = waited
        self.holders = tuple(holders)
        self.busy = busy
        self.waiting = waiting
        shown = ", ".join(f"{key} for {seconds:.1f} s" for key, seconds in self.holders[:10])
        more = f" and {len(self.holders) - 10} more" if len(self.holders) > 10 else ""
        parts = [f"held by {len(self.holders)} lease(s): {shown}{more}"] if self.holders else []
        if busy:
            parts.append(f"{busy} being started, reset or replaced")
        if waiting:
            parts.append(f"{waiting} other caller(s) waiting")
        super().__init__(
            f"No executor of the pool became free within {waited:.1f} s. All {size} members are taken: "
            f"{'; '.join(parts) or 'none free'}. Release the keys you are done with "
            "(await pool.release(key)), or make the pool larger (size=) or wait longer (acquire_timeout=)."
        )


class DispatcherFullError(ExecutorError):
    """An `ExecutionDispatcher`'s queue held ``max_queue`` requests, and no room came in time.

    With ``when_full="error"`` it is raised at once; with ``when_full="wait"`` after waiting
    ``queue_timeout`` seconds. The message names the bound, the sessions with the most requests
    waiting, and what to do.

    Attributes:
        max_queue: the queue's bound, in requests.
        waited: seconds the caller waited for room (0 with ``when_full="error"``).
        busiest: ``(session, requests waiting)`` for up to five sessions with the most waiting,
            most first; the session is shown with ``repr``.
    """

    def __init__(self, *, max_queue: int, waited: float, busiest: Sequence[tuple[str, int]]) -> None:
        self.max_queue = max_queue
        self.waited = waited
        self.busiest = tuple(busiest)
        shown = ", ".join(f"{key} ({count})" for key, count in self.busiest)
        waited_text = f" and no room came within {waited:.1f} s" if waited else ""
        super().__init__(
            f"The dispatcher's queue is full: {max_queue} requests are waiting{waited_text}"
            f"{'; most are from ' + shown if shown else ''}. Send fewer requests at once (await the "
            "results first), or raise max_queue=, or use when_full='wait' with a longer queue_timeout=."
        )
