"""A kernel on a Jupyter Kernel Gateway: the only module in parley that imports ``tornado``.

`GatewayKernel` speaks the Kernel Gateway's ``jupyter_websocket`` API, which Jupyter Server and
Jupyter Enterprise Gateway serve too (https://jupyter-kernel-gateway.readthedocs.io/en/latest/websocket-mode.html):

- REST: ``POST /api/kernels`` starts a kernel, ``POST /api/kernels/{id}/interrupt`` interrupts
  it, ``DELETE /api/kernels/{id}`` ends it. A token goes in ``Authorization: token ...``.
- A websocket, ``/api/kernels/{id}/channels``, carries the Jupyter messages as JSON text, each
  with a ``channel`` key (``shell``, ``iopub`` ...).

It knows the transport, nothing about code blocks or outputs (see
`parley.coding.jupyter._messages`). Choices worth knowing:

- Latency. The gateway does not set ``TCP_NODELAY`` on its websockets, so its small messages
  wait for our ACK, which Linux delays by up to 40 ms: a ``print(1)`` took 48 ms on loopback.
  We ACK at once (``TCP_QUICKACK`` after every message received) and send without delay
  (``TCP_NODELAY``): about 5 ms.
- A dead kernel. The gateway restarts a kernel that died and says so on IOPub (``status:
  restarting``; ``dead`` when it gives up). Either, or the websocket closing, counts as a death
  here: the state is gone, so the executor replaces the kernel and tells the model. Before a
  call, anything that arrived since the last one is read (by a ``kernel_info`` round trip, only
  then), so a kernel that died between calls is noticed before a cell is sent to its successor.
- Event loops. The websocket belongs to the loop it was opened on; a call from another loop
  (sync calls after async ones) opens a new websocket to the same kernel, whose state is kept.
- Ending. `GatewayKernel.shutdown` closes the websocket and deletes the kernel; `GatewayKernel.kill`
  deletes it with a blocking request from any thread (garbage collection, interpreter exit).
  A gateway that cannot be reached keeps its kernel: nothing else can end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import json
import select
import socket
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any

from parley.coding.jupyter._leftovers import Leftovers
from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.exceptions import ConfigError, ExecutorUnavailableError, MissingDependencyError

__all__ = ["GatewayKernel"]

_LIVE: Leftovers[GatewayKernel] = Leftovers()  # kernels started and not yet deleted; ended at exit
_REQUEST_TIMEOUT_S = 10.0  # interrupt and delete
_SYNC_TIMEOUT_S = 5.0  # the kernel_info round trip that reads what arrived between calls
# Waits between attempts to delete a kernel the gateway is restarting: jupyter_client 8.10 answers
# 500 (InvalidStateError in MultiKernelManager.shutdown_kernel) until the restart is over.
_DELETE_RETRY_S = (0.1, 0.2, 0.4, 0.8, 1.5, 2.0, 2.0, 2.0)
_DIED = 1  # the gateway does not report a dead kernel's exit status
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def _tornado() -> Any:
    try:
        import tornado
    except ImportError as exc:
        raise MissingDependencyError("tornado", "jupyter") from exc
    return tornado


def _unreachable(server: JupyterConnectionInfo, why: object) -> ExecutorUnavailableError:
    return ExecutorUnavailableError(
        f"Cannot reach the Jupyter Kernel Gateway at {server.url} ({why}). Check that it is running and that "
        "the host, port and scheme (http or https) are right; start one with `jupyter kernelgateway "
        "--KernelGatewayApp.ip=<address> --KernelGatewayApp.port=<port> --KernelGatewayApp.auth_token=<token>`."
    )


def _rejected(server: JupyterConnectionInfo, code: int, reason: str) -> ConfigError:
    given = "the token given was refused" if server.token else "no token was given"
    return ConfigError(
        f"The Jupyter Kernel Gateway at {server.url} refused the request (HTTP {code} {reason}): {given}. Pass the "
        "token it was started with (--KernelGatewayApp.auth_token, or KG_AUTH_TOKEN in its environment) as "
        "JupyterConnectionInfo(token=...) or as ?token=... in the URL.",
        key="token",
    )


class _GatewayAnswered(ExecutorUnavailableError):
    """The gateway answered a request with an HTTP error (``code``) other than a refused token."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _gateway_message(body: bytes | None) -> str:
    """The ``message`` (else ``reason``) of the gateway's JSON error body, or ""."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return ""
    return str(data.get("message") or data.get("reason") or "") if isinstance(data, dict) else ""


class GatewayKernel:
    """A kernel of the spec ``kernel_name`` on the gateway ``server``.

    Not thread-safe: one caller at a time (the executors serialise their calls), except `kill`,
    which any thread may call.

    Args:
        server: where the gateway listens and its token.
        kernel_name: the kernel spec to start there (``"python3"``).
    """

    def __init__(self, server: JupyterConnectionInfo, kernel_name: str) -> None:
        self._server = server
        self._kernel_name = kernel_name
        self._session = uuid.uuid4().hex
        self.kernel_id: str | None = None
        """The gateway's id for the kernel once started."""
        self._conn: Any = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._iopub: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._shell: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._generation = 0  # which websocket the messages come from; older ones are ignored
        self._death: str | None = None
        self._in_flight: str | None = None  # a request whose reply has not been waited for

    # --- HTTP -------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, timeout: float, body: Any = None) -> Any:
        """Send one REST request; return its decoded JSON body (None for none).

        Raises:
            ExecutorUnavailableError: the gateway cannot be reached, or answered with an error
                other than 401 and 403 (the message quotes it).
            ConfigError: the gateway refused the token (401 or 403).
        """
        _tornado()
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        payload = "" if body is None and method == "POST" else None if body is None else json.dumps(body)
        try:
            response = await AsyncHTTPClient().fetch(
                self._server.url + path,
                method=method,
                headers={**self._server.headers(), "Content-Type": "application/json"},
                body=payload,
                connect_timeout=timeout,
                request_timeout=timeout,
            )
        except HTTPClientError as exc:
            if exc.code == 599:  # tornado's code for a timeout or a dropped connection
                raise _unreachable(self._server, exc.message or "no answer") from exc
            details = _gateway_message(exc.response.body if exc.response is not None else None)
            if exc.code in (401, 403) and "limit" not in details.lower():  # 403 "Resource Limit": too many kernels
                raise _rejected(self._server, exc.code, exc.message or "") from exc
            raise _GatewayAnswered(
                f"The Jupyter Kernel Gateway at {self._server.url} answered {method} {path} with HTTP {exc.code} "
                f"{exc.message}: {details or 'no details'}.",
                exc.code,
            ) from exc
        except OSError as exc:  # refused, unknown host, TLS failure ...
            raise _unreachable(self._server, exc) from exc
        return json.loads(response.body) if response.body else None

    # --- start ------------------------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Start the kernel on the gateway, open its websocket and wait until it answers.

        Args:
            timeout: seconds each step (start, connect, first answer) may take.

        Raises:
            MissingDependencyError: tornado is not installed.
            ExecutorUnavailableError: the gateway cannot be reached, or the kernel did not
                start or answer. Nothing is left running.
            ConfigError: the gateway refused the token, or has no kernel spec ``kernel_name``
                (with the names it has, and a "did you mean").
        """
        try:
            model = await self._call("POST", "/api/kernels", body={"name": self._kernel_name}, timeout=timeout)
        except _GatewayAnswered:  # perhaps it has no such kernel spec (Kernel Gateway answers 500)
            await self._check_kernel_name(timeout)
            raise
        self.kernel_id = str(model["id"])
        _LIVE.add(self)
        try:
            await self._connect(timeout)
            if await self._round_trip(timeout) is None:
                raise ExecutorUnavailableError(
                    f"The kernel {self._kernel_name!r} on the Jupyter Kernel Gateway at {self._server.url} did not "
                    f"answer within {timeout:g} s ({self._death or 'no reply'})."
                )
        except BaseException:
            await self.shutdown()
            raise

    async def _check_kernel_name(self, timeout: float) -> None:
        """Raise `ConfigError` when the gateway has no kernel spec ``kernel_name``."""
        with contextlib.suppress(ExecutorUnavailableError):
            specs = await self._call("GET", "/api/kernelspecs", timeout=timeout)
            names = sorted(specs.get("kernelspecs", {})) if isinstance(specs, dict) else []
            if names and self._kernel_name not in names:
                raise ConfigError(
                    f"The Jupyter Kernel Gateway at {self._server.url} has no kernel named {self._kernel_name!r} "
                    f"(it has: {', '.join(names)}). Pass kernel_name= one of those, or install the kernel there.",
                    key="kernel_name",
                    suggestions=difflib.get_close_matches(self._kernel_name, names, n=1),
                )

    async def _connect(self, timeout: float) -> None:
        """Open the kernel's websocket on the running loop (closing one opened on another loop).

        Raises:
            ExecutorUnavailableError: the websocket did not open.
            ConfigError: the gateway refused the token.
        """
        _tornado()
        from tornado.httpclient import HTTPClientError, HTTPRequest
        from tornado.websocket import WebSocketError, websocket_connect

        self._disconnect()
        self._loop, self._in_flight = asyncio.get_running_loop(), None
        self._iopub, self._shell = asyncio.Queue(), asyncio.Queue()
        if self._death is not None:  # a death seen on the old websocket still counts
            self._iopub.put_nowait(None)
            self._shell.put_nowait(None)
        url = f"{self._server.websocket_url}/api/kernels/{self.kernel_id}/channels?session_id={self._session}"
        request = HTTPRequest(url, headers=self._server.headers(), connect_timeout=timeout, request_timeout=timeout)
        on_message = functools.partial(self._on_message, self._generation)
        try:
            conn = await websocket_connect(request, on_message_callback=on_message)
        except HTTPClientError as exc:
            if exc.code in (401, 403):
                raise _rejected(self._server, exc.code, exc.message or "") from exc
            raise _unreachable(self._server, f"the kernel's websocket: HTTP {exc.code} {exc.message}") from exc
        except (OSError, WebSocketError) as exc:
            raise _unreachable(self._server, f"the kernel's websocket: {exc}") from exc
        stream = conn.protocol.stream if conn.protocol is not None else None
        if stream is not None:
            stream.set_nodelay(True)
            self._sock = stream.socket
        self._conn = conn

    def _disconnect(self) -> None:
        """Close the websocket, from its own loop's thread when that loop still runs."""
        conn, loop, self._conn, self._sock = self._conn, self._loop, None, None
        self._generation += 1  # its close, and anything still on its way, is no news
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if loop is not None and loop.is_running() and loop is not asyncio.get_running_loop():
                loop.call_soon_threadsafe(conn.close)
            else:
                conn.close()

    # --- messages ---------------------------------------------------------------------------------

    def _on_message(self, generation: int, raw: str | bytes | None) -> None:
        if generation != self._generation:
            return
        if self._sock is not None and _QUICKACK is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        if raw is None:
            self._died("the connection to the gateway closed")
            return
        if isinstance(raw, bytes):  # messages with binary buffers (widgets, comms): not ours
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        channel = msg.get("channel")
        if channel == "shell":
            self._shell.put_nowait(msg)
        elif channel == "iopub":
            state = msg.get("content", {}).get("execution_state") if msg.get("msg_type") == "status" else None
            if state == "restarting":
                self._died("the gateway found it dead and restarted it")
            elif state == "dead":
                self._died("the gateway reports it dead")
            else:
                self._iopub.put_nowait(msg)

    def _died(self, how: str) -> None:
        if self._death is None:
            self._death = how
            self._iopub.put_nowait(None)  # wake whoever waits
            self._shell.put_nowait(None)

    async def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": "parley",
            "session": self._session,
            "date": datetime.now(timezone.utc).isoformat(),
            "version": "5.3",
        }
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
        self._in_flight = msg_id
        try:
            await self._conn.write_message(json.dumps(msg))
        except Exception:  # closed: WebSocketClosedError, a broken stream, or no connection at all
            self._died("the connection to the gateway closed")
        return msg_id

    async def _attach(self) -> None:
        """Make sure the websocket is open on the running loop."""
        if self._conn is None or self._loop is not asyncio.get_running_loop():
            await self._connect(_REQUEST_TIMEOUT_S)

    async def _round_trip(self, timeout: float) -> dict[str, Any] | None:
        """Ask for ``kernel_info`` and return the reply; everything sent before it has then been read."""
        return await self.reply(await self._send("kernel_info_request", {}), timeout)

    async def execute(self, code: str, *, silent: bool = False) -> str:
        """Send an ``execute_request`` and return its ``msg_id``.

        History is off and there is no stdin. ``stop_on_error`` is off, so a request sent while
        an interrupted one is still ending waits its turn instead of being aborted. A ``silent``
        request shows no result and runs no cell hooks.

        Raises:
            ExecutorUnavailableError: the websocket had to be reopened (another event loop) and
                could not be.
        """
        await self._attach()
        content = {
            "code": code,
            "silent": silent,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        return await self._send("execute_request", content)

    async def iopub(self, timeout: float) -> dict[str, Any] | None:
        """The next IOPub message; None when none arrives within ``timeout`` seconds, or the kernel died.

        Messages that came before the death are returned first, in order.
        """
        try:
            return self._iopub.get_nowait()  # no task and no timer when a message is waiting
        except asyncio.QueueEmpty:
            if self._death is not None:
                return None
        try:
            return await asyncio.wait_for(self._iopub.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The shell reply to ``msg_id`` (earlier replies are dropped); None after ``timeout`` s or a death."""
        if self._in_flight == msg_id:
            self._in_flight = None  # waited for, answered or not
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._death is None and (left := deadline - loop.time()) > 0:
            try:
                msg = await asyncio.wait_for(self._shell.get(), left)
            except asyncio.TimeoutError:
                return None
            if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    async def exit_status(self) -> int | None:
        """None while the kernel lives; 1 once it died (the gateway reports no exit status).

        Between calls (no request waiting for its reply), anything that arrived since the last
        call is read first (one ``kernel_info`` round trip, only then), so a restart the gateway
        announced in between is seen now.

        Raises:
            ExecutorUnavailableError: the websocket had to be reopened and could not be.
        """
        await self._attach()
        if self._death is None and self._in_flight is None and self._sock is not None:
            try:
                pending = bool(select.select([self._sock], [], [], 0)[0])
            except (OSError, ValueError):  # closed under us
                pending = True
            if pending:
                await self._round_trip(_SYNC_TIMEOUT_S)
        return None if self._death is None else _DIED

    def describe_exit(self, status: int) -> str:
        """How the kernel ended, as far as the gateway said (it reports no exit status)."""
        return self._death or "it died"

    async def interrupt(self) -> None:
        """Ask the gateway to interrupt the kernel; a gateway that cannot do it is not an error here."""
        with contextlib.suppress(ExecutorUnavailableError, ConfigError):
            await self._call("POST", f"/api/kernels/{self.kernel_id}/interrupt", timeout=_REQUEST_TIMEOUT_S)

    # --- ending -----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close the websocket and delete the kernel on the gateway. Idempotent; never raises."""
        self._disconnect()
        kernel_id, self.kernel_id = self.kernel_id, None
        _LIVE.discard(self)
        if kernel_id is None:
            return
        for wait in (*_DELETE_RETRY_S, None):
            try:
                await self._call("DELETE", f"/api/kernels/{kernel_id}", timeout=_REQUEST_TIMEOUT_S)
            except _GatewayAnswered as exc:
                if exc.code >= 500 and wait is not None:  # perhaps mid-restart: try again
                    await asyncio.sleep(wait)
                    continue
            except (ExecutorUnavailableError, ConfigError):  # unreachable: nothing more can be done
                pass
            return

    def kill(self) -> None:
        """Delete the kernel on the gateway now, blocking (at most 10 s). Idempotent, any thread, no loop needed."""
        kernel_id, self.kernel_id = self.kernel_id, None
        _LIVE.discard(self)
        if kernel_id is None:
            return
        request = urllib.request.Request(
            f"{self._server.url}/api/kernels/{kernel_id}", method="DELETE", headers=self._server.headers()
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as tornado: no proxy
        with contextlib.suppress(OSError), opener.open(request, timeout=_REQUEST_TIMEOUT_S):
            pass
