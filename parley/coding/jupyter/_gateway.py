"""A kernel on a Jupyter gateway: its REST calls and its websocket (tornado's, through `_gateway_rest`).

`GatewayKernel` speaks the Kernel Gateway's ``jupyter_websocket`` API, which Jupyter Server and
Jupyter Enterprise Gateway serve too (https://jupyter-kernel-gateway.readthedocs.io/en/latest/websocket-mode.html):

- REST (`parley.coding.jupyter._gateway_rest`, with retries): ``POST /api/kernels`` starts a
  kernel, ``GET /api/kernels/{id}`` says whether the gateway still has it,
  ``POST /api/kernels/{id}/interrupt`` interrupts it, ``DELETE /api/kernels/{id}`` ends it. A
  token goes in ``Authorization: token ...``, never in a URL.
- A websocket, ``/api/kernels/{id}/channels``, carries the Jupyter messages as JSON text, each
  with a ``channel`` key (``shell``, ``iopub`` ...).

It knows the transport, nothing about code blocks or outputs (see
`parley.coding.jupyter._messages`). Choices worth knowing:

- Start. One deadline covers it all: the gateway answering (connection errors, 502/503/504 and
  429 are retried with capped backoff), the kernel starting, the websocket opening (retried the
  same way) and the kernel's first answer.
- Latency. The gateway does not set ``TCP_NODELAY`` on its websockets, so its small messages
  wait for our ACK, which Linux delays by up to 40 ms: a ``print(1)`` took 48 ms on loopback.
  We ACK at once (``TCP_QUICKACK`` after every message received) and send without delay
  (``TCP_NODELAY``): about 5 ms.
- A dropped websocket is not a dead kernel. When it closes, the gateway is asked
  (``GET /api/kernels/{id}``, retried for up to `RECOVER_S` seconds) whether it still has the
  kernel: if so, a new websocket is opened and the kernel's state is kept; a request that was
  waiting for its reply is reported lost (`GatewayKernel.take_lost_connection`) and the
  kernel interrupted, never sent again. If the gateway no longer has the kernel (it was culled,
  deleted, or the gateway restarted), or cannot be reached in that time, the kernel counts as dead.
- A dead kernel. The gateway restarts a kernel that died and says so on IOPub (``status:
  restarting``; ``dead`` when it gives up); a kernel shut down or restarted through the REST
  API sends ``shutdown_reply``. Each counts as a death here, noticed as it arrives, also in the
  middle of a block: the state is gone, so the executor replaces the kernel and tells the model.
  Before a call, anything that arrived since the last one is read (by a ``kernel_info`` round
  trip, only then), so a kernel that died between calls is noticed before a cell is sent.
- Event loops. The websocket belongs to the loop it was opened on; a call from another loop
  (sync calls after async ones) opens a new websocket to the same kernel, whose state is kept.
- Ending. `GatewayKernel.shutdown` closes the websocket and deletes the kernel, retrying for
  up to `DELETE_DEADLINE_S` seconds; a gateway gone by then is logged as a warning.
  `GatewayKernel.kill` deletes it with a blocking request from any thread (garbage
  collection, interpreter exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import json
import select
import socket
import ssl
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from parley._logging import get_logger
from parley.coding.jupyter._gateway_rest import (
    BACKOFF_S,
    GatewayAnswered,
    GatewayRest,
    GatewayUnreachable,
    certificate_rejected,
    rejected,
    tornado_api,
    unreachable_message,
)
from parley.coding.jupyter._leftovers import Leftovers
from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.exceptions import ConfigError, ExecutorUnavailableError

__all__ = ["DELETE_DEADLINE_S", "RECOVER_S", "GatewayKernel"]

_log = get_logger("parley.coding.jupyter")
_LIVE: Leftovers[GatewayKernel] = Leftovers()  # kernels started and not yet deleted; ended at exit
_REQUEST_S = 10.0  # seconds an interrupt may take, retries included
_SYNC_TIMEOUT_S = 5.0  # the kernel_info round trip that reads what arrived between calls
RECOVER_S = 15.0
"""Seconds to find out, after the websocket dropped, whether the gateway still has the kernel, and reconnect."""
DELETE_DEADLINE_S = 10.0
"""Seconds `GatewayKernel.shutdown` keeps trying to delete the kernel (a gateway mid-restart answers 500)."""
_DIED = 1  # the gateway does not report a dead kernel's exit status
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
_GONE = "the gateway no longer has it (it was culled or deleted there, or the gateway restarted)"


class GatewayKernel:
    """A kernel of the spec ``kernel_name`` on the gateway ``server``.

    Not thread-safe: one caller at a time (the executors serialise their calls), except `kill`,
    which any thread may call.

    Args:
        server: where the gateway listens and its token.
        kernel_name: the kernel spec to start there (``"python3"``).
        headers: extra HTTP headers for every request and the websocket (a proxy's auth ...).
        validate_cert: check the gateway's TLS certificate. Default True.
        env: variables for the kernel, sent with the start request (Enterprise Gateway passes
            those named ``KERNEL_*`` to the kernel). Default none.
    """

    def __init__(
        self,
        server: JupyterConnectionInfo,
        kernel_name: str,
        *,
        headers: Mapping[str, str] | None = None,
        validate_cert: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._server = server
        self._rest = GatewayRest(server, headers, validate_cert=validate_cert)
        self._kernel_name = kernel_name
        self._env = dict(env or {})
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
        self._dropped = False  # the websocket closed; whether the kernel lives is not known yet
        self._lost: str | None = None  # a request lost with a dropped websocket, not yet reported
        self._in_flight: str | None = None  # a request whose reply has not been waited for
        self._watched: str | None = None  # the request sent when the kernel died, watched until it is deleted
        self._ran_after_death = False  # that request reached the kernel the gateway restarted

    # --- start ------------------------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Start the kernel on the gateway, open its websocket and wait until it answers.

        Args:
            timeout: seconds the whole start may take: the gateway answering (transient
                failures are retried with capped backoff), the kernel starting, the websocket
                opening and the kernel's first answer.

        Raises:
            MissingDependencyError: tornado is not installed.
            ExecutorUnavailableError: the gateway did not answer in time (the message says what
                was tried and what answered last), or the kernel did not start or answer.
                Nothing is left running.
            ConfigError: the gateway refused the token, or has no kernel spec ``kernel_name``
                (with the names it has, and a "did you mean").
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        body: dict[str, Any] = {"name": self._kernel_name}
        if self._env:
            body["env"] = self._env
        try:
            model = await self._rest.call("POST", "/api/kernels", body=body, deadline=timeout, retry_timeouts=False)
        except GatewayAnswered:  # perhaps it has no such kernel spec (Kernel Gateway answers 500)
            await self._check_kernel_name(max(1.0, end - loop.time()))
            raise
        self.kernel_id = str(model["id"])
        _LIVE.add(self)
        try:
            await self._connect_until(end)
            if await self._round_trip(max(0.1, end - loop.time())) is None:
                raise ExecutorUnavailableError(
                    f"The kernel {self._kernel_name!r} on the Jupyter Kernel Gateway at {self._server.url} did not "
                    f"answer within {timeout:g} s of the start ({self._death or 'no reply'})."
                )
        except BaseException:
            await self.shutdown()
            raise

    async def _check_kernel_name(self, timeout: float) -> None:
        """Raise `ConfigError` when the gateway has no kernel spec ``kernel_name``."""
        with contextlib.suppress(ExecutorUnavailableError):
            specs = await self._rest.call("GET", "/api/kernelspecs", deadline=timeout)
            names = sorted(specs.get("kernelspecs", {})) if isinstance(specs, dict) else []
            if names and self._kernel_name not in names:
                raise ConfigError(
                    f"The Jupyter Kernel Gateway at {self._server.url} has no kernel named {self._kernel_name!r} "
                    f"(it has: {', '.join(names)}). Pass kernel_name= one of those, or install the kernel there.",
                    key="kernel_name",
                    suggestions=difflib.get_close_matches(self._kernel_name, names, n=1),
                )

    async def _connect_until(self, end: float) -> None:
        """Open the websocket, retrying transient failures with capped backoff until the loop time ``end``.

        Raises:
            ExecutorUnavailableError: it did not open by then (the last failure is quoted).
            ConfigError: the gateway refused the token.
        """
        loop = asyncio.get_running_loop()
        wait = BACKOFF_S[0]
        while True:
            try:
                await self._connect(max(0.1, min(end - loop.time(), _REQUEST_S)))
                return
            except GatewayAnswered as exc:
                if exc.code not in (429, 502, 503, 504) or loop.time() + wait >= end:
                    raise
            except GatewayUnreachable:
                if loop.time() + wait >= end:
                    raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, BACKOFF_S[1])

    async def _connect(self, timeout: float) -> None:
        """Open the kernel's websocket on the running loop (closing one opened on another loop).

        Raises:
            GatewayUnreachable: the websocket did not open.
            GatewayAnswered: the gateway answered the upgrade with an HTTP error.
            ConfigError: the gateway refused the token.
        """
        api = tornado_api()
        HTTPClientError, WebSocketError = api.HTTPClientError, api.WebSocketError
        self._disconnect()
        self._loop, self._in_flight, self._dropped = asyncio.get_running_loop(), None, False
        self._iopub, self._shell = asyncio.Queue(), asyncio.Queue()
        if self._death is not None:  # a death seen on the old websocket still counts
            self._iopub.put_nowait(None)
            self._shell.put_nowait(None)
        url = f"{self._server.websocket_url}/api/kernels/{self.kernel_id}/channels?session_id={self._session}"
        request = api.HTTPRequest(
            url,
            headers=self._rest.headers,
            connect_timeout=timeout,
            request_timeout=timeout,
            validate_cert=self._rest.validate_cert,
        )
        on_message = functools.partial(self._on_message, self._generation)
        try:
            conn = await api.websocket_connect(request, on_message_callback=on_message)
        except HTTPClientError as exc:
            if exc.code in (401, 403):
                raise rejected(self._server, exc.code, exc.message or "") from exc
            if exc.code == 599:
                raise GatewayUnreachable(
                    unreachable_message(self._server, f"the kernel's websocket: {exc.message}")
                ) from exc
            raise GatewayAnswered(
                unreachable_message(self._server, f"the kernel's websocket: HTTP {exc.code} {exc.message}"), exc.code
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise certificate_rejected(self._server, exc) from exc
        except (OSError, WebSocketError, ssl.SSLError) as exc:
            raise GatewayUnreachable(unreachable_message(self._server, f"the kernel's websocket: {exc}")) from exc
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

    async def _recover(self) -> None:
        """After the websocket dropped: reconnect if the gateway still has the kernel, else count it dead.

        A request that was waiting for its reply is noted as lost (`take_lost_connection`) and
        the kernel is interrupted, so it does not go on unseen.
        """
        in_flight, self._in_flight = self._in_flight, None
        loop = asyncio.get_running_loop()
        end = loop.time() + RECOVER_S
        try:
            await self._rest.call("GET", f"/api/kernels/{self.kernel_id}", deadline=RECOVER_S)
            await self._connect_until(end)
        except GatewayAnswered as exc:
            self._dropped = False
            self._died(_GONE if exc.code == 404 else f"the gateway answered HTTP {exc.code} when asked for it")
            return
        except (ExecutorUnavailableError, ConfigError) as exc:
            self._dropped = False
            self._died(f"the connection to the gateway closed, and the gateway did not answer for {RECOVER_S:g} s")
            _log.warning("gateway kernel %s given up: %s", self.kernel_id, exc)
            return
        if in_flight is not None:
            self._lost = "the connection to the gateway dropped while the kernel was running it"
            await self.interrupt()

    def take_lost_connection(self) -> str | None:
        """Why the connection dropped while a request waited for its reply (once; then None)."""
        lost, self._lost = self._lost, None
        return lost

    # --- messages ---------------------------------------------------------------------------------

    def _on_message(self, generation: int, raw: str | bytes | None) -> None:
        if generation != self._generation:
            return
        if self._sock is not None and _QUICKACK is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        if raw is None:  # the websocket closed: the kernel may live on (see _recover)
            if self._death is None and not self._dropped:
                self._dropped = True
                self._iopub.put_nowait(None)  # wake whoever waits
                self._shell.put_nowait(None)
            return
        if isinstance(raw, bytes):  # messages with binary buffers (widgets, comms): not ours
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        channel = msg.get("channel")
        if self._watched is not None and msg.get("parent_header", {}).get("msg_id") == self._watched:
            self._ran_after_death = True
        if msg.get("msg_type") == "shutdown_reply":  # shut down or restarted through the REST API
            restart = bool(msg.get("content", {}).get("restart"))
            self._died(f"it was {'restarted' if restart else 'shut down'} on the gateway")
        elif channel == "shell":
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
            self._watched = self._in_flight
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
            self._on_message(self._generation, None)
        return msg_id

    async def _attach(self) -> None:
        """Make sure the websocket is open on the running loop, reconnecting after a drop (see `_recover`)."""
        if self._dropped:
            await self._recover()
        elif self._conn is None or self._loop is not asyncio.get_running_loop():
            await self._connect_until(asyncio.get_running_loop().time() + _REQUEST_S)

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

        Messages that came before the death (or a dropped websocket) are returned first, in order.
        """
        try:
            return self._iopub.get_nowait()  # no task and no timer when a message is waiting
        except asyncio.QueueEmpty:
            if self._death is not None or self._dropped:
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
        while self._death is None and not self._dropped and (left := deadline - loop.time()) > 0:
            try:
                msg = await asyncio.wait_for(self._shell.get(), left)
            except asyncio.TimeoutError:
                return None
            if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    async def exit_status(self) -> int | None:
        """None while the kernel lives; 1 once it died (the gateway reports no exit status).

        After the websocket dropped, the gateway is asked whether it still has the kernel, and a
        new websocket is opened if so (see `_recover`); this may take up to `RECOVER_S` seconds.
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
        if self._dropped:  # it closed during that round trip
            await self._recover()
        return None if self._death is None else _DIED

    @property
    def usable(self) -> bool:
        """False once the kernel is known dead or its websocket dropped (no network call)."""
        return self._death is None and not self._dropped

    def describe_exit(self, status: int) -> str:
        """How the kernel ended, as far as the gateway said (it reports no exit status)."""
        return self._death or "it died"

    async def interrupt(self) -> None:
        """Ask the gateway to interrupt the kernel; a gateway that cannot do it is not an error here."""
        with contextlib.suppress(ExecutorUnavailableError, ConfigError):
            await self._rest.call("POST", f"/api/kernels/{self.kernel_id}/interrupt", deadline=_REQUEST_S)

    # --- ending -----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close the websocket and delete the kernel on the gateway. Idempotent; never raises.

        Transient failures are retried for up to `DELETE_DEADLINE_S` seconds, and so is an
        answer of 500 (a gateway mid-restart refuses the delete until the restart is over). A
        gateway that cannot be reached by then is logged as a warning; nothing else can end
        the kernel.
        """
        kernel_id, self.kernel_id = self.kernel_id, None
        _LIVE.discard(self)
        if kernel_id is None:
            self._disconnect()
            return
        try:
            await self._delete(kernel_id)
        finally:
            self._disconnect()  # only now: until the kernel is gone, its messages tell `ran_after_death`

    def ran_after_death(self) -> bool:
        """Whether the request sent as the kernel died reached the kernel the gateway restarted.

        The gateway restarts a dead kernel on the same channels, and may hand it a request sent
        to its predecessor; its messages arrive on this websocket until the kernel is deleted
        (`shutdown` reads them until then). Meaningful after `shutdown`.
        """
        return self._ran_after_death

    async def _delete(self, kernel_id: str) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + DELETE_DEADLINE_S
        wait = BACKOFF_S[0]
        while True:
            try:
                await self._rest.call("DELETE", f"/api/kernels/{kernel_id}", deadline=max(0.1, end - loop.time()))
            except GatewayAnswered as exc:
                if exc.code >= 500 and loop.time() + wait < end:  # perhaps mid-restart: try again
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, BACKOFF_S[1])
                    continue
                if exc.code != 404:  # 404: it is gone already
                    _log.warning("could not delete kernel %s on %s: %s", kernel_id, self._server.url, exc)
            except (ExecutorUnavailableError, ConfigError) as exc:
                _log.warning("could not delete kernel %s on %s: %s", kernel_id, self._server.url, exc)
            return

    def kill(self) -> None:
        """Delete the kernel on the gateway now, blocking (at most 10 s). Idempotent, any thread, no loop needed."""
        kernel_id, self.kernel_id = self.kernel_id, None
        _LIVE.discard(self)
        if kernel_id is None:
            return
        request = urllib.request.Request(
            f"{self._server.url}/api/kernels/{kernel_id}", method="DELETE", headers=self._rest.headers
        )
        context = None if self._rest.validate_cert else ssl._create_unverified_context()
        handlers: list[Any] = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)]
        opener = urllib.request.build_opener(*handlers)  # as tornado: no proxy
        with contextlib.suppress(OSError), opener.open(request, timeout=_REQUEST_S):
            pass
