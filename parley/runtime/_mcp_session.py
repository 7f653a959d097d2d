"""The MCP SDK adapter: one client connection to one server, kept by a task of its own.

This is the only module that imports the official ``mcp`` SDK (and ``httpx2``, its HTTP client).
`parley.runtime.mcp` imports it when a toolset first opens, so ``import parley.runtime.mcp``
costs no SDK import and works without the ``mcp`` extra.

The SDK is built on anyio: its transports and `ClientSession` are async context managers that
enter task groups and cancel scopes, which must be exited by the task that entered them. A
`Connection` therefore enters all of them in one long-lived *owner task* and leaves them there
when told to stop. Other tasks (each tool call of a chat runs in its own) only send requests
through the session, which the SDK allows from any task of the same event loop.

Every wait has a deadline: the start (spawn, handshake and tool listing) has the config's
``startup_timeout``, each call its ``timeout``, and stopping `STOP_GRACE` seconds before the
owner task is cancelled outright. The SDK's stdio transport ends the server on exit: it closes
the server's stdin, waits 2 s, then sends SIGTERM and, 2 s later, SIGKILL to the server's process
group (the server is started in a session of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import IO, TYPE_CHECKING, Any

import anyio
import httpx2
import jsonschema
import mcp_types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from parley.exceptions import MCPServerError, redact_url

if TYPE_CHECKING:
    from parley.runtime.mcp import MCPServerConfig

__all__ = ["STOP_GRACE", "CallFailed", "Connection", "argument_checker", "result_text"]

STOP_GRACE = 10.0
"""Seconds `Connection.stop` waits for the owner task to leave the SDK's contexts before
cancelling it. The stdio transport's own shutdown takes at most about 6.5 s (2 s for the server
to exit after its stdin closes, 2 s after SIGTERM, 2 s to see the SIGKILL land)."""

_MAX_TOOL_PAGES = 100  # a server whose tools/list cursor never ends cannot hang the start
_STDERR_TAIL = 2_000  # characters of a failed server's stderr quoted in the error
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)  # the SDK's own defaults; each call has its own deadline too


class CallFailed(Exception):
    """A tool call got no result; ``str(e)`` is the text for the model.

    Attributes:
        connection_lost: True when the connection is gone (the server exited or the stream
            broke), so the toolset should start a new one for the next call.
    """

    def __init__(self, message: str, *, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, which anyio's task groups raise."""
    while True:
        group = getattr(error, "exceptions", None)  # BaseExceptionGroup (a backport's on Python 3.10)
        if not isinstance(group, tuple) or not group:
            return error
        inner = [e for e in group if not isinstance(e, asyncio.CancelledError)] or list(group)
        error = inner[0]


def _connection_lost(error: BaseException) -> bool:
    if isinstance(error, MCPError):
        return error.code == mcp_types.CONNECTION_CLOSED
    return isinstance(error, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError))


class Connection:
    """An initialized MCP client session to one server, owned by one task.

    Use `Connection.start`; the constructor only records its arguments.

    Attributes:
        tools: the server's tools, as it listed them at the start (every page).
    """

    def __init__(self, name: str, config: MCPServerConfig, environ: Mapping[str, str]) -> None:
        self._name = name
        self._config = config
        self._environ = environ
        self._session: ClientSession | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._stderr: IO[str] | None = None
        self.tools: list[mcp_types.Tool] = []

    @classmethod
    async def start(cls, name: str, config: MCPServerConfig, environ: Mapping[str, str]) -> Connection:
        """Start the server (stdio) or connect to it (HTTP), do the handshake and list its tools.

        Args:
            name: the toolset's name, for messages.
            config: the server's config.
            environ: the host environment that ``env_from`` and ``headers_env`` read.

        Returns:
            The open connection.

        Raises:
            MCPServerError: the server cannot be started or reached, or the handshake and tool
                listing did not finish within ``config.startup_timeout`` seconds. Nothing is left
                running.
        """
        connection = cls(name, config, environ)
        connection._task = asyncio.create_task(connection._own(), name=f"parley-mcp-{name}")
        try:
            await connection._ready.wait()  # _own sets it on success and on failure, within its deadline
        except BaseException:  # the caller was cancelled: still end the server before going on
            with anyio.CancelScope(shield=True):
                await connection.stop()
            raise
        if connection._error is not None:
            error = connection._start_error(connection._error)  # quotes stderr, which stop() closes
            await connection.stop()
            raise error
        return connection

    @property
    def alive(self) -> bool:
        """True while the owner task holds the session open."""
        return self._session is not None and self._task is not None and not self._task.done()

    async def _own(self) -> None:
        """The owner task: enter the SDK's contexts, signal ready, wait for stop, exit them."""
        startup = self._config.startup_timeout
        if self._stop.is_set():  # stopped before this task first ran
            self._ready.set()
            return
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + startup) as scope:
                self._scope = scope
                async with AsyncExitStack() as stack:
                    read, write = await self._open_transport(stack)
                    session = await stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    self.tools = await _list_all_tools(session)
                    scope.deadline = math.inf
                    self._session = session
                    self._ready.set()
                    await self._stop.wait()
            if scope.cancelled_caught and self._session is None:
                self._error = TimeoutError(f"no handshake within {startup:g} s")
        except BaseException as e:  # reported by start(), or ends a connection already in use
            if self._session is None:
                self._error = _leaf(e)
            if isinstance(e, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
        finally:
            self._session = None
            self._ready.set()

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        config = self._config
        if config.command is not None:
            # Kept past the transport's exit, so a failed start can quote it; stop() closes it.
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            params = StdioServerParameters(
                command=config.command,
                args=list(config.args),
                env=config.child_env(self._environ, self._name),
                cwd=config.cwd,
            )
            return await stack.enter_async_context(stdio_client(params, errlog=self._stderr))
        assert config.url is not None  # the config's validator guarantees command or url
        headers = config.http_headers(self._environ, self._name)
        client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT))
        return await stack.enter_async_context(streamable_http_client(config.url, http_client=client))

    def _stderr_tail(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().strip()
            return text[-_STDERR_TAIL:]
        return ""

    def _start_error(self, error: BaseException) -> MCPServerError:
        config = self._config
        name = self._name
        if config.command:
            where = f"started with {shlex.join([config.command, *config.args])[:200]!r}"
        else:
            where = f"at {redact_url(config.url or '')}"
        if isinstance(error, MCPServerError):
            return error
        if isinstance(error, TimeoutError):
            what = (
                f"did not finish its handshake and tool listing within {config.startup_timeout:g} s "
                "(startup_timeout). Check that the command starts an MCP server that speaks on stdin/stdout "
                "(or that the URL is its MCP endpoint), or raise startup_timeout for a slow server."
            )
        elif isinstance(error, FileNotFoundError) and config.command:
            what = (
                f"could not be started: there is no program {config.command!r} "
                f"({error.strerror}). Give an absolute path, or a program on PATH."
            )
        elif isinstance(error, OSError) and config.command:
            what = f"could not be started: {type(error).__name__}: {error}."
        elif isinstance(error, MCPError) and error.code == mcp_types.CONNECTION_CLOSED and config.command:
            what = "closed the connection before the handshake finished (did the process exit?)."
        elif isinstance(error, MCPError) and config.command:
            what = f"answered the handshake with an error: {error.message} (code {error.code})."
        elif isinstance(error, MCPError):
            what = (
                f"refused the handshake: {error.message} (code {error.code}). Check the URL and the headers "
                f"(headers_env names: {', '.join(config.headers_env) or 'none'})."
            )
        elif isinstance(error, httpx2.HTTPError):
            what = f"could not be reached: {type(error).__name__}: {error}. Check the URL and that the server runs."
        else:
            what = f"failed to start: {type(error).__name__}: {error}"
        message = f"MCP server {name!r} ({where}) {what}"
        tail = self._stderr_tail()
        if tail:
            message += f"\nIts stderr ended with:\n{tail}"
        return MCPServerError(message, server=name)

    async def call(self, tool: str, arguments: Mapping[str, Any], seconds: float) -> mcp_types.CallToolResult:
        """Call one tool, within ``seconds``.

        Raises:
            CallFailed: no result: the deadline passed (the request is cancelled), the server
                answered with a protocol error, or the connection is gone.
        """
        session = self._session
        if session is None or not self.alive:
            raise CallFailed(f"the connection to MCP server {self._name!r} is closed.", connection_lost=True)
        try:
            with anyio.fail_after(seconds):
                return await session.call_tool(tool, dict(arguments))
        except TimeoutError:
            raise CallFailed(
                f"tool {tool!r} on MCP server {self._name!r} gave no answer within {seconds:g} s, so the call "
                "was cancelled. Ask for less in one call, or try another way."
            ) from None
        except Exception as e:
            error = _leaf(e)
            if _connection_lost(error):
                tail = self._stderr_tail()
                raise CallFailed(
                    f"MCP server {self._name!r} closed the connection while {tool!r} ran "
                    f"({type(error).__name__}: {error}); it is started again for the next call."
                    + (f" Its stderr ended with: {tail[-500:]}" if tail else ""),
                    connection_lost=True,
                ) from None
            if isinstance(error, MCPError):
                raise CallFailed(
                    f"MCP server {self._name!r} refused the call to {tool!r}: {error.message} (code {error.code})."
                ) from None
            raise CallFailed(
                f"the call to {tool!r} on MCP server {self._name!r} failed: {type(error).__name__}: {error}"
            ) from None

    async def stop(self) -> None:
        """Leave the SDK's contexts in the owner task, ending a stdio server's process.

        A connection still starting is cancelled at once. An open one gets up to `STOP_GRACE`
        seconds to close, then its owner task's scope is cancelled and it gets as long again.
        Idempotent; never raises for the server's own failures.
        """
        task = self._task
        self._stop.set()
        if task is None:
            return
        if self._session is None and self._scope is not None:
            self._scope.cancel()  # still starting: nothing to wait for, end it now
        with contextlib.suppress(Exception):
            done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
            if not done:
                if self._scope is not None:
                    self._scope.cancel()
                await asyncio.wait({task}, timeout=STOP_GRACE)
        self._session = None
        if self._stderr is not None and task.done():
            self._stderr.close()


async def _list_all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_TOOL_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its head and tail, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit:,} characters cut; the result was {len(text):,} characters ...]\n"
    keep = max(limit - len(marker), 0)
    head = keep // 2
    return text[:head] + marker + text[len(text) - (keep - head) :]


def _part_text(part: Any) -> str:
    if isinstance(part, mcp_types.TextContent):
        return part.text
    if isinstance(part, (mcp_types.ImageContent, mcp_types.AudioContent)):
        return f"[{part.type} ({part.mime_type}), {len(part.data):,} characters of base64, not shown]"
    if isinstance(part, mcp_types.ResourceLink):
        about = f": {part.description}" if part.description else ""
        return f"[resource link {part.uri} ({part.name}){about}]"
    if isinstance(part, mcp_types.EmbeddedResource):
        resource = part.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        kind = resource.mime_type or "binary"
        return f"[resource {resource.uri} ({kind}), {len(resource.blob):,} characters of base64, not shown]"
    return str(part)


def result_text(result: mcp_types.CallToolResult, limit: int) -> str:
    """The text a model reads for a tool's result.

    Text parts are joined by newlines; images, audio and binary resources are named with their
    MIME type and size instead of their data; a result with no content but structured content
    gives that content as JSON. The text is cut to ``limit`` characters (head and tail kept).
    """
    parts: Sequence[Any] = result.content
    if parts:
        text = "\n".join(_part_text(p) for p in parts)
    elif result.structured_content is not None:
        text = json.dumps(result.structured_content, default=str)
    else:
        text = "(the tool returned no content)"
    return _cut(text, limit)


_MAX_PROBLEMS = 10  # argument problems listed for the model in one reply
_PROBLEM_CHARS = 300  # characters of one problem's text


def argument_checker(schema: Mapping[str, Any]) -> Callable[[dict[str, Any]], list[str]] | None:
    """A function that lists what is wrong with a tool call's arguments under a tool's JSON schema.

    Each problem reads ``"where: what"``, ``where`` being the argument's path (``"(arguments)"``
    for the object itself). At most 10 problems are listed.

    Args:
        schema: the tool's ``inputSchema``.

    Returns:
        The checker, or None when the schema itself is not a valid JSON schema (the server then
        judges the arguments alone).
    """
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = validator_class(schema)
    except Exception:  # a server's broken schema: leave the checking to the server
        return None

    def check(arguments: dict[str, Any]) -> list[str]:
        try:
            errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        except Exception:  # an unresolvable $ref and the like: leave it to the server
            return []
        problems = []
        for error in errors[:_MAX_PROBLEMS]:
            where = ".".join(str(p) for p in error.absolute_path) or "(arguments)"
            problems.append(f"{where}: {error.message}"[:_PROBLEM_CHARS])
        return problems

    return check
