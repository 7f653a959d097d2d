"""Tools from MCP servers: offer a Model Context Protocol server's tools to parley agents.

An MCP server is a process (started with a command, speaking on stdin/stdout) or a web service
(a streamable HTTP URL) that lists tools and runs them. `MCPServerConfig` describes one, as it
appears under ``tools:`` in a runtime config file; `MCPToolset` is the client side of one
connection to it; `register_mcp_tools` offers its tools to a caller agent's model and lets an
executor agent run them::

    config = MCPServerConfig(command="python", args=["weather_server.py"], timeout=30)
    async with MCPToolset("weather", config) as weather:
        await register_mcp_tools(weather, caller=assistant, executor=user_proxy)
        await user_proxy.a_initiate_chat(assistant, message="Will it rain in Oslo?")
    # leaving the block ends the server's process

Errors are handled as for Python tools: arguments that do not fit the tool's JSON schema, a
tool that fails on the server, a call that outlives ``timeout``, a server that cannot be
started or has exited all come back to the model as ``"Error: ..."`` tool results, never as
exceptions in the chat.

The official ``mcp`` SDK is needed (``pip install 'pyparley[mcp]'``); it is imported when a
toolset first opens, by `parley.runtime._mcp_session` alone.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parley import _logging, exceptions
from parley.exceptions import MCPServerError

if TYPE_CHECKING:
    from parley.agentchat.conversable_agent import ConversableAgent
    from parley.runtime._mcp_session import Connection

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_MAX_RESULT_CHARS",
    "DEFAULT_STARTUP_TIMEOUT",
    "MCPServerConfig",
    "MCPServerError",
    "MCPTool",
    "MCPToolset",
    "register_mcp_tools",
]

_log = _logging.get_logger("parley.runtime.mcp")

DEFAULT_CALL_TIMEOUT = 60.0
"""Seconds one tool call may take before it is cancelled and the model told so."""

DEFAULT_STARTUP_TIMEOUT = 30.0
"""Seconds a server has to start, finish the MCP handshake and list its tools."""

DEFAULT_MAX_RESULT_CHARS = 32_000
"""The longest tool result the model reads, in characters (head and tail kept), as for code output."""

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's rule for a function name
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_STDIO_ONLY = ("args", "env", "env_from", "cwd")


class MCPServerConfig(BaseModel):
    """How to reach one MCP server, and how to use its tools.

    Give either ``command`` (a stdio server, started as a subprocess and ended when the toolset
    closes) or ``url`` (a streamable HTTP server, already running). No secret needs to be written
    in a config: ``env_from`` and ``headers_env`` name host environment variables, read when
    the toolset opens.

    Attributes:
        kind: always ``"mcp"``, so that a config's ``tools:`` entry can say what it is.
        command: the program that starts a stdio server (a name on PATH or a path).
        args: its arguments.
        env: environment variables for the server, as literal values. The server inherits only
            ``HOME``, ``LOGNAME``, ``PATH``, ``SHELL``, ``TERM`` and ``USER`` from the host (the
            SDK's rule), so secrets in the host environment do not leak to it.
        env_from: server variable -> name of the host variable to copy it from (for keys).
        cwd: the server's working directory. Default: the host process's.
        url: the endpoint of a streamable HTTP server, ``http://`` or ``https://``.
        headers_env: HTTP header -> name of the host variable that holds its value (for example
            ``{"Authorization": "WEATHER_AUTH"}`` where ``WEATHER_AUTH="Bearer ..."``).
        tools: the server's tools to offer, by the names the server gives them. Default: all.
        timeout: seconds one tool call may take (default `DEFAULT_CALL_TIMEOUT`, 60 s). Past
            it the call is cancelled and the model reads an error.
        startup_timeout: seconds to start the server, finish the handshake and list the tools
            (default `DEFAULT_STARTUP_TIMEOUT`, 30 s).
        max_result_chars: the longest result text the model reads, in characters (default
            `DEFAULT_MAX_RESULT_CHARS`, 32,000); longer results keep their head and tail.

    Raises:
        pydantic.ValidationError: on construction, when neither or both of ``command`` and
            ``url`` are given, stdio fields come with ``url`` (or ``headers_env`` with
            ``command``), the URL is not http(s), ``tools`` is empty, a number is not
            positive, or a key is unknown (with a "did you mean").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mcp"] = "mcp"
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    env_from: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    tools: list[str] | None = None
    timeout: float = Field(default=DEFAULT_CALL_TIMEOUT, gt=0)
    startup_timeout: float = Field(default=DEFAULT_STARTUP_TIMEOUT, gt=0)
    max_result_chars: int = Field(default=DEFAULT_MAX_RESULT_CHARS, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise ValueError(
                        f"unknown key {key!r} in an MCP server config; the keys are {', '.join(known)}.{hint}"
                    )
        return data

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if (self.command is None) == (self.url is None):
            given = "both" if self.command is not None else "neither"
            raise ValueError(
                f"an MCP server config has {given} of command and url: give either command (a stdio server "
                "started as a subprocess) or url (a streamable HTTP server)."
            )
        if self.url is not None:
            stray = [k for k in _STDIO_ONLY if getattr(self, k)]
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} apply to a stdio server (command), and this config has url="
                    f"{exceptions.redact_url(self.url)!r}. Remove them; an HTTP server gets its secrets as headers "
                    "(headers_env)."
                )
            if not self.url.startswith(("http://", "https://")):
                raise ValueError(f"url must start with http:// or https://, got {exceptions.redact_url(self.url)!r}.")
        elif self.headers_env:
            raise ValueError(
                "headers_env applies to an HTTP server (url); a stdio server (command) gets its secrets "
                "through env_from."
            )
        if self.command is not None and not self.command.strip():
            raise ValueError("command is empty: give the program that starts the server.")
        if self.tools is not None and not self.tools:
            raise ValueError("tools is an empty list, which offers nothing: leave tools out to offer every tool.")
        return self

    def child_env(self, environ: Mapping[str, str], server: str = "mcp") -> dict[str, str]:
        """The variables a stdio server gets on top of the SDK's safe defaults: ``env`` and ``env_from``.

        Args:
            environ: the host environment to read ``env_from`` names in (usually ``os.environ``).
            server: the toolset's name, for the message.

        Raises:
            MCPServerError: a host variable named in ``env_from`` is not set.
        """
        return {**self.env, **_from_host(self.env_from, environ, server, "env_from")}

    def http_headers(self, environ: Mapping[str, str], server: str = "mcp") -> dict[str, str]:
        """The headers sent to an HTTP server, each read from the host variable ``headers_env`` names.

        Raises:
            MCPServerError: a host variable named in ``headers_env`` is not set.
        """
        return _from_host(self.headers_env, environ, server, "headers_env")


def _from_host(names: Mapping[str, str], environ: Mapping[str, str], server: str, key: str) -> dict[str, str]:
    missing = [f"{target} (from ${source})" for target, source in names.items() if source not in environ]
    if missing:
        raise MCPServerError(
            f"MCP server {server!r}: {key} reads host variables that are not set: {', '.join(missing)}. "
            "Set them in the environment of the process that runs parley.",
            server=server,
        )
    return {target: environ[source] for target, source in names.items()}


@dataclass(frozen=True)
class MCPTool:
    """One tool a server offers, as it listed it.

    Attributes:
        name: the tool's name on the server (it may hold characters a model's tool name cannot).
        description: what the tool does ("" when the server gives nothing).
        input_schema: the JSON schema of its arguments (an object schema).
    """

    name: str
    description: str
    input_schema: dict[str, Any] = field(default_factory=dict)


def _adapter() -> ModuleType:
    try:
        from parley.runtime import _mcp_session
    except ImportError as e:
        if (e.name or "").split(".")[0] in ("mcp", "mcp_types", "httpx2", "anyio"):
            raise exceptions.MissingDependencyError("mcp", "mcp") from e
        raise
    return _mcp_session


class MCPToolset:
    """The tools of one MCP server, through one client connection.

    The constructor does no I/O. The connection opens on first use (`open`, `list_tools`,
    `call_tool`, or `register_mcp_tools`) and stays open until `aclose`. A stdio server runs as
    long as the connection; if it exits, the next call starts it again. The toolset belongs to
    the event loop it first opened on.

    It is an async (and sync) context manager; leaving it closes it.

    Args:
        name: the toolset's name, used in every message (the server's id in a config).
        config: an `MCPServerConfig`, or a mapping validated into one.

    Raises:
        pydantic.ValidationError: ``config`` is a mapping that is not a valid `MCPServerConfig`.
    """

    def __init__(self, name: str, config: MCPServerConfig | Mapping[str, Any]) -> None:
        self._name = name
        self._config = config if isinstance(config, MCPServerConfig) else MCPServerConfig.model_validate(config)
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def name(self) -> str:
        """The toolset's name."""
        return self._name

    @property
    def config(self) -> MCPServerConfig:
        """The server's config."""
        return self._config

    @property
    def closed(self) -> bool:
        """True once `aclose` was called; a closed toolset does not open again."""
        return self._closed

    def __repr__(self) -> str:
        where = (
            f"command={self._config.command!r}"
            if self._config.command
            else f"url={exceptions.redact_url(self._config.url or '')!r}"
        )
        state = "closed" if self._closed else "open" if self._connection is not None else "not opened"
        return f"MCPToolset({self._name!r}, {where}, {state})"

    async def _connect(self) -> Connection:
        if self._closed:
            raise MCPServerError(f"MCP toolset {self._name!r} is closed; make a new MCPToolset.", server=self._name)
        loop = asyncio.get_running_loop()
        if self._loop is not None and loop is not self._loop:
            raise MCPServerError(
                f"MCP toolset {self._name!r} was opened on another event loop; use it from that loop, or make one "
                "toolset per loop.",
                server=self._name,
            )
        current = self._connection
        if current is not None and current.alive:
            return current
        async with self._lock:
            return await self._start(loop)

    async def _start(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """Under the lock: the live connection, or a new one in place of a lost one."""
        if self._closed:
            raise MCPServerError(f"MCP toolset {self._name!r} was closed while it opened.", server=self._name)
        old = self._connection
        if old is not None and old.alive:
            return old
        if old is not None:  # the server exited or the stream broke: start afresh
            self._connection = None
            await old.stop()
        connection: Connection = await _adapter().Connection.start(self._name, self._config, os.environ)
        try:
            if self._closed:  # aclose() ran while the server started
                raise MCPServerError(f"MCP toolset {self._name!r} was closed while it opened.", server=self._name)
            self._check_allow_list([t.name for t in connection.tools])
        except BaseException:
            await connection.stop()
            raise
        self._connection = connection
        self._loop = loop
        return connection

    def _check_allow_list(self, offered: list[str]) -> None:
        for wanted in self._config.tools or ():
            if wanted not in offered:
                raise exceptions.ConfigError(
                    f"MCP server {self._name!r} has no tool {wanted!r} (named in its tools: allow-list); it offers: "
                    f"{', '.join(offered) or 'none'}.",
                    key="tools",
                    suggestions=difflib.get_close_matches(wanted, offered, n=1),
                )

    def _allowed(self, name: str) -> bool:
        return self._config.tools is None or name in self._config.tools

    async def open(self) -> None:
        """Start the server (or connect to it), do the MCP handshake and list its tools.

        Idempotent: an open toolset stays as it is. Concurrent callers share one start.

        Raises:
            MissingDependencyError: the ``mcp`` SDK is not installed (``pip install 'pyparley[mcp]'``).
            MCPServerError: the server could not be started or reached, did not answer within
                ``startup_timeout`` seconds, a variable named in ``env_from`` or ``headers_env``
                is unset, or the toolset is closed. Nothing is left running.
            ConfigError: a tool named in the ``tools`` allow-list is not offered by the server
                (with a "did you mean").
        """
        await self._connect()

    async def list_tools(self) -> list[MCPTool]:
        """The tools offered (the allow-list applied), in the server's order; opens the toolset first.

        Raises:
            MissingDependencyError, MCPServerError, ConfigError: as `open`.
        """
        connection = await self._connect()
        return [
            MCPTool(t.name, t.description or t.title or "", copy.deepcopy(dict(t.input_schema)))
            for t in connection.tools
            if self._allowed(t.name)
        ]

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Run one tool on the server and return the text of its result.

        Never raises for a failure a model could read about: each becomes text starting with
        ``"Error: "``, as a Python tool's error does. That covers a toolset that cannot open
        (the server is missing, exits, or is silent past ``startup_timeout``), a tool the server
        does not offer or the allow-list leaves out (with a "did you mean"), a tool that
        reports an error, a call past ``timeout`` seconds (it is cancelled), and a server that
        exits during the call (it is started again for the next one).

        Args:
            name: the tool's name on the server.
            arguments: its arguments, a JSON object. Default: none.

        Returns:
            The result's text: text parts joined by newlines, images and binary data named
            rather than shown, cut to ``max_result_chars`` characters.

        Raises:
            MissingDependencyError: the ``mcp`` SDK is not installed.
        """
        try:
            connection = await self._connect()
        except (MCPServerError, exceptions.ConfigError) as e:
            return f"Error: {e}"
        offered = [t.name for t in connection.tools if self._allowed(t.name)]
        if name not in offered:
            close = difflib.get_close_matches(name, offered, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            available = ", ".join(offered) or "none"
            return (
                f"Error: MCP server {self._name!r} offers no tool named {name!r}. Available tools: {available}.{hint}"
            )
        adapter = _adapter()
        try:
            result = await connection.call(name, arguments or {}, self._config.timeout)
        except adapter.CallFailed as e:
            if e.connection_lost:
                async with self._lock:
                    if self._connection is connection:
                        self._connection = None
                await connection.stop()
            return f"Error: {e}"
        text: str = adapter.result_text(result, self._config.max_result_chars)
        if result.is_error:
            return f"Error: tool {name!r} on MCP server {self._name!r} failed: {text}"
        return text

    async def aclose(self) -> None:
        """End the connection; a stdio server's process (and its process group) ends with it.

        Idempotent. It finishes even when the calling task is being cancelled, within about
        20 s at worst (see `parley.runtime._mcp_session.STOP_GRACE`); an MCP server that
        closes on stdin's end takes a fraction of a second.
        """
        self._closed = True
        connection = self._connection
        self._connection = None
        if connection is None:
            return
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop():
            if loop.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(connection.stop(), loop))
            else:
                _log.warning(
                    "MCP toolset %r: its event loop is not running, so its server was left to exit on its own",
                    self._name,
                )
            return
        stopping = asyncio.ensure_future(connection.stop())
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            await stopping  # finish ending the server, then let the cancellation go on
            raise

    def close(self) -> None:
        """`aclose` from sync code (see `parley._sync.run_sync`)."""
        from parley._sync import run_sync

        run_sync(self.aclose())

    async def __aenter__(self) -> MCPToolset:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __enter__(self) -> MCPToolset:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _model_name(prefix: str, tool: str) -> str:
    return (prefix + _NOT_IN_NAME.sub("_", tool))[:64]


def _executor_function(
    resolve: Callable[[], Awaitable[MCPToolset]],
    server: str,
    tool: str,
    offered: str,
    check: Callable[[dict[str, Any]], list[str]] | None,
) -> Callable[..., Awaitable[str]]:
    async def run(**arguments: Any) -> str:
        if check is not None:
            problems = check(arguments)
            if problems:
                raise exceptions.ToolArgumentsError(offered, problems)
        toolset = await resolve()
        return await toolset.call_tool(tool, arguments)

    run.__name__ = offered
    run.__qualname__ = offered
    run.__doc__ = f"Run tool {tool!r} of MCP server {server!r}."
    return run


async def register_mcp_tools(
    toolset: MCPToolset,
    *,
    caller: ConversableAgent,
    executor: ConversableAgent,
    prefix: str = "",
    resolve: Callable[[], Awaitable[MCPToolset]] | None = None,
) -> list[str]:
    """Offer a server's tools to ``caller``'s model, and let ``executor`` run the model's calls.

    Opens the toolset (starting a stdio server) to list its tools. Each tool goes to the model
    with the server's description and its JSON schema as the parameters, through
    ``caller.update_tool_signature``; ``executor.register_function`` maps it to a function that
    checks the arguments against that schema (a misfit comes back to the model as ``"Error: bad
    arguments for 'tool': ..."``, as for a Python tool) and then calls `MCPToolset.call_tool`.
    Names that OpenAI does not allow in a tool name (anything but letters, digits, ``_`` and
    ``-``) become ``_``, and names are cut to 64 characters.

    Args:
        toolset: the server's toolset.
        caller: the agent whose model may call the tools (it needs an llm_config).
        executor: the agent that runs the calls; it may be ``caller`` itself.
        prefix: put before each tool's name for the model (for example ``"weather_"``), to tell
            apart tools of the same name from several servers. Default: none.
        resolve: how each call finds the toolset to run on (awaited per call). Default: ``toolset``
            itself. The runtime passes its session's lookup, so that a toolset a config reload
            closed is opened afresh on the next call.

    Returns:
        The names the tools are offered under, in the server's order.

    Raises:
        MissingDependencyError, MCPServerError: as `MCPToolset.open`.
        ConfigError: ``caller`` has no llm_config; ``prefix`` holds characters a tool name
            cannot; a tool's name (after the prefix) is already offered to ``caller``, or two of
            the server's tools give the same name (pass ``prefix=`` or a ``tools`` allow-list);
            or the allow-list names a tool the server lacks.
    """
    if prefix and not _TOOL_NAME.match(prefix):
        raise exceptions.ConfigError(
            f"prefix={prefix!r} cannot start a tool name: use letters, digits, '_' and '-' only.", key="prefix"
        )
    if caller.llm_config is False or caller.llm_config is None:
        raise exceptions.ConfigError(
            f"register_mcp_tools needs a caller with an llm_config, and {caller.name!r} has none: there is no model "
            "to offer the tools to. Pass the agent that calls the model as caller=.",
            key="llm_config",
        )
    tools = await toolset.list_tools()
    already = {spec["function"]["name"] for spec in caller.tools}
    chosen: dict[str, str] = {}
    for tool in tools:
        offered = _model_name(prefix, tool.name)
        if offered in already or offered in chosen:
            other = chosen.get(offered)
            whose = (
                f"tool {other!r} of the same server" if other else f"another tool already offered to {caller.name!r}"
            )
            raise exceptions.ConfigError(
                f"Tool {tool.name!r} of MCP server {toolset.name!r} would be offered as {offered!r}, the name of "
                f"{whose}. Pass prefix= (for example {toolset.name + '_'!r}) or list the tools to keep "
                "in the server's tools: allow-list.",
                key=tool.name,
            )
        chosen[offered] = tool.name
    checker = _adapter().argument_checker

    async def same() -> MCPToolset:
        return toolset

    find = resolve or same
    for tool in tools:
        offered = _model_name(prefix, tool.name)
        schema = tool.input_schema or {"type": "object", "properties": {}}
        description = tool.description or f"Tool {tool.name!r} of MCP server {toolset.name!r}."
        caller.update_tool_signature(
            {"type": "function", "function": {"name": offered, "description": description, "parameters": schema}},
            is_remove=False,
        )
        function = _executor_function(find, toolset.name, tool.name, offered, checker(schema))
        executor.register_function({offered: function})
    return list(chosen)
