"""A scripted server that speaks the OpenAI chat-completions wire protocol, for tests and docs.

Point the real ``openai`` SDK (or any OpenAI-compatible client) at `ScriptedOpenAIServer.base_url`
and each ``POST /v1/chat/completions`` is answered with the next scripted reply: text, tool calls,
streamed as server-sent events when the request says ``"stream": true``, or a fault (an HTTP
error, a delay, a malformed body). See `parley.testing._script` for the reply shapes and the
token-usage approximation. ``GET /v1/models`` lists the served models.

Azure OpenAI's route is served too: ``POST /openai/deployments/<deployment>/chat/completions
?api-version=<version>``, with the key in an ``api-key`` header, which is what the SDK's
``AzureOpenAI`` client sends when ``azure_endpoint`` is `ScriptedOpenAIServer.azure_endpoint`. A
request on that route without ``api-version`` gets 404, as Azure answers it. `request_paths`
shows the path and query of each request, so tests can check the deployment and version.

A streamed reply can also pause mid-stream until the test releases it, stall, break off, or send
SSE keep-alive comments forever (``stream_pause``, ``stream_cut``, ``keep_alive``), and
``raw_events`` sends any events at all, so clients can be tested on partial, stalled, truncated,
endless and malformed streams. Any answer can ``trickle`` out one byte (or one SSE event) every
few seconds, headers included if asked, so clients can be tested on servers that are slow but
never silent. A client that hangs up ends the trickle or the keep-alives.

Beyond the script, two checks run before a reply is used, each like OpenAI's own:

- ``api_key``: when set, a request without ``Authorization: Bearer <api_key>`` gets 401. The
  message repeats the presented key, as some servers do, so tests can check that clients scrub it.
- ``models``: when set, a request for any other model gets 404 ``model_not_found``.

It runs in-process on a daemon thread (``with ScriptedOpenAIServer([...]) as server:``), or as a
command that prints its base URL as the first line of stdout::

    python -m parley.testing.openai_server --script replies.yaml [--port N] [--model M] [--verbose]

With ``--verbose`` each request (its model, message count, and the last message cut to 200
characters) and the reply it got are logged to stderr. A client that hangs up is never an error
on stderr.

It is built on the standard library's ``ThreadingHTTPServer``: HTTP/1.1 keep-alive, and TCP_NODELAY
on every connection, since Nagle's algorithm would add ~40 ms stalls to each small response.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from parley._logging import get_logger
from parley.exceptions import ConfigError
from parley.testing._script import Reply, ReplySource, Script, ScriptExhaustedError, load_script, usage_for
from parley.testing._wire import completion_body, error_body, stream_chunks

__all__ = ["ScriptedOpenAIServer", "main"]


_KEEP_ALIVE = b": keep-alive\n\n"
_log = get_logger("parley.testing")
_SHOWN_CHARS = 200  # how much of a request's last message, or of a reply, --verbose shows


@dataclass(frozen=True)
class _Stream:
    """A streamed answer: its SSE events, and its faults.

    ``pause`` is where it pauses and until when, ``cut`` where it breaks, and ``keep_alive``
    after how many events it sends keep-alive comments forever, and every how many seconds.
    """

    events: list[bytes]
    pause: tuple[int, Any, float] | None = None
    cut: int | None = None
    keep_alive: tuple[int, float] | None = None


class _Hangup(Exception):
    """The server closed while an answer was still going out slowly."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (reset, broken pipe, timed out) is normal here: log it, print nothing.

        Anything else is a fault of the server's: it is logged with its traceback on
        ``parley.testing`` (which Python prints to stderr when logging is not configured).
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            _log.debug("client %s hung up: %s", client_address, exc)
            return
        _log.error("error while answering %s", client_address, exc_info=True)


_AZURE_CHAT = re.compile(r"/openai/deployments/[^/]+/chat/completions")


def _chat_route_error(target: str) -> str | None:
    """Why ``target`` (a request's path and query) is not a chat-completions route, or None if it is."""
    url = urlsplit(target)
    path = url.path.rstrip("/")
    if path == "/v1/chat/completions":
        return None
    if _AZURE_CHAT.fullmatch(path):
        if parse_qs(url.query).get("api-version"):
            return None
        return f"Resource not found: POST {target} (an Azure request needs ?api-version=...)"
    return f"No route for POST {target}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer
    _trickle: tuple[str, float, bool] | None = None  # how the answer being sent goes out

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.request, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.request, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read stdout and stderr."""

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.rstrip("/")
        if path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "parley"} for m in owner.models]
            self._send_json(200, {"object": "list", "data": data})
        elif path.startswith("/v1/models/") and path[len("/v1/models/") :] in owner.models:
            self._send_json(200, {"id": path[len("/v1/models/") :], "object": "model", "owned_by": "parley"})
        else:
            self._send_json(404, error_body(f"No route for GET {self.path}", status=404))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        route_error = _chat_route_error(self.path)
        if route_error is not None:
            self._send_json(404, error_body(route_error, status=404))
            return
        try:
            body = json.loads(raw)
        except ValueError as exc:
            self._send_json(400, error_body(f"Request body is not valid JSON: {exc}", status=400))
            return
        if not isinstance(body, dict):
            self._send_json(400, error_body("Request body must be a JSON object", status=400))
            return
        received = {name.lower(): value for name, value in self.headers.items()}
        status, payload, headers, self._trickle = self.server.owner._answer(body, received, self.path)
        if _log.isEnabledFor(logging.INFO):
            _log.info("%s", _describe(self.server.owner.request_count, body, status, payload))
        if payload is None:
            return
        try:
            if isinstance(payload, _Stream):
                self._send_stream(payload)
            else:
                self._send_bytes(status, payload, headers)
        except (_Hangup, OSError):  # the server closed, or the client hung up on a slow answer
            self.close_connection = True
        finally:
            self._trickle = None

    def _send_json(self, status: int, obj: Any) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), {})

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self._write(data)

    def flush_headers(self) -> None:
        trickle = self._trickle
        buffered: list[bytes] | None = getattr(self, "_headers_buffer", None)  # the standard library's
        if trickle is None or not trickle[2] or buffered is None:
            super().flush_headers()
            return
        data = b"".join(buffered)
        buffered.clear()
        self._write(data)

    def _write(self, data: bytes) -> None:
        """Send ``data``, one byte at a time when the answer trickles by byte.

        Raises:
            _Hangup: the server closed meanwhile.
            OSError: the client hung up.
        """
        trickle = self._trickle
        if trickle is None or trickle[0] != "byte":
            self.wfile.write(data)
            return
        for i in range(len(data)):
            self._wait(trickle[1])
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        if self.server.owner._closed.wait(seconds):
            raise _Hangup

    def _send_chunk(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_stream(self, stream: _Stream) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        by_event = self._trickle is not None and self._trickle[0] == "event"
        for sent, event in enumerate([*stream.events, None]):
            if stream.keep_alive is not None and stream.keep_alive[0] == sent:
                while True:  # until the server closes or the client hangs up
                    self._wait(stream.keep_alive[1])
                    self._send_chunk(_KEEP_ALIVE)
            if stream.cut is not None and (stream.cut == sent or (event is None and stream.cut > sent)):
                self._drop()
                return
            if event is None:
                break
            if stream.pause is not None and stream.pause[0] == sent and not self._pause(*stream.pause[1:]):
                return
            if by_event and self._trickle is not None:
                self._wait(self._trickle[1])
            self._send_chunk(event)
        self._write(b"0\r\n\r\n")

    def _pause(self, until: Any, seconds: float) -> bool:
        """Wait for the test's event (or ``seconds``); False when the server closed meanwhile."""
        closed = self.server.owner._closed
        if until is None:
            return not closed.wait(seconds)
        while not until.wait(0.05):
            if closed.is_set():
                return False
        return True

    def _drop(self) -> None:
        """Break the connection mid-body, as a crashed server or a cut network would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


def _sse(obj: Any) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


class ScriptedOpenAIServer:
    """An OpenAI-compatible HTTP server that answers from a script.

    Args:
        script: the replies: a list, a callable ``fn(request_body) -> reply``, or a path to a JSON
            or YAML file (a list, or a mapping with ``replies`` and optional ``models``/``api_key``).
        model: the model reported when a request names none, and listed by ``GET /v1/models``
            when ``models`` is not given. Replies report the model the request named.
        host: the interface to bind.
        port: the TCP port; 0 (the default) picks a free one.
        models: if given, the only models served; any other gets 404 ``model_not_found``.
        api_key: if given, requests must carry ``Authorization: Bearer <api_key>`` or get 401.

    Raises:
        ConfigError: the script or one of its replies is malformed.

    Use it as a context manager (sync or async), or call `start` and `close`. Nothing runs until
    then. Once the script runs out, each request gets HTTP 500 "script exhausted after N replies".
    Reported usage is approximate and deterministic: ``len(text) // 4 + 1`` tokens per message.
    """

    def __init__(
        self,
        script: ReplySource | str | Path,
        *,
        model: str = "gpt-4o-mini",
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] | None = None,
        api_key: str | None = None,
    ) -> None:
        options: dict[str, Any] = {}
        if isinstance(script, (str, Path)):
            script, options = load_script(script)
        self.model = model
        self.host = host
        self._port = port
        self._models = list(models if models is not None else options.get("models") or ())
        self._api_key = api_key if api_key is not None else options.get("api_key")
        self._script = Script(script)
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._paths: list[str] = []
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ScriptedOpenAIServer:
        """Bind the port and serve from a daemon thread; a second call does nothing.

        Raises:
            OSError: the port cannot be bound.
        """
        if self._httpd is None:
            self._closed.clear()
            httpd = _HTTPServer((self.host, self._port), _Handler)
            httpd.owner = self
            self._port = int(httpd.server_address[1])
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="parley-openai-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and drop open connections. Safe to call twice, or before `start`."""
        httpd, self._httpd = self._httpd, None
        self._closed.set()
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> ScriptedOpenAIServer:
        return self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    # -- what tests read -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (the requested one until `start`; kept after `close`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``: pass it as ``base_url`` to an OpenAI client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """``http://HOST:PORT``: pass it as ``azure_endpoint`` to an Azure OpenAI client."""
        return self.base_url.removesuffix("/v1")

    @property
    def models(self) -> list[str]:
        """The models ``GET /v1/models`` lists."""
        return list(self._models) if self._models else [self.model]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every chat-completion request body received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """The HTTP headers (names lowercased) of each request in `requests`, in the same order."""
        with self._lock:
            return list(self._headers)

    @property
    def request_paths(self) -> list[str]:
        """The path and query of each request in `requests`, in the same order.

        For example ``/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01``.
        """
        with self._lock:
            return list(self._paths)

    @property
    def request_count(self) -> int:
        """How many chat-completion requests were received."""
        with self._lock:
            return len(self._requests)

    # -- request handling (called on handler threads) --------------------------------------------

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _answer(
        self, body: dict[str, Any], headers: dict[str, str], path: str = "/v1/chat/completions"
    ) -> tuple[int, bytes | _Stream | None, dict[str, str], tuple[str, float, bool] | None]:
        """Decide the answer to one chat request: ``(status, body bytes or SSE events, headers, trickle)``."""
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            self._paths.append(path)
            number = len(self._requests)
        if self._api_key is not None:
            # OpenAI sends the key as a bearer token; Azure's key authentication uses an api-key header.
            presented = headers.get("authorization", "").removeprefix("Bearer ") or headers.get("api-key", "")
            if presented != self._api_key:
                msg = f"Incorrect API key provided: {presented}."
                return 401, json.dumps(error_body(msg, status=401, code="invalid_api_key")).encode(), {}, None
        model = str(body.get("model") or self.model)
        if self._models and model not in self._models:
            msg = f"The model '{model}' does not exist or you do not have access to it."
            return 404, json.dumps(error_body(msg, status=404, code="model_not_found")).encode(), {}, None
        try:
            reply = self._script.next(body)
        except (ScriptExhaustedError, ConfigError) as exc:
            return 500, json.dumps(error_body(str(exc), status=500)).encode(), {}, None
        if reply.delay and self._closed.wait(reply.delay):
            return 503, None, {}, None
        return (*self._render(reply, body, model, number), reply.trickle)

    def _render(
        self, reply: Reply, body: dict[str, Any], model: str, number: int
    ) -> tuple[int, bytes | _Stream, dict[str, str]]:
        if reply.error is not None:
            status, message, headers = reply.error
            return status, json.dumps(error_body(message, status=status)).encode(), headers
        if reply.raw is not None:
            return 200, reply.raw.encode(), {}
        if reply.raw_json is not None:
            return 200, reply.raw_json.encode(), {}
        if reply.raw_events is not None:
            events = [_sse(e.encode()) for e in reply.raw_events]
            return 200, _Stream(events, reply.stream_pause, reply.stream_cut, reply.keep_alive), {}
        prompt, completion = usage_for(body.get("messages") or [], reply)
        common: dict[str, Any] = {
            "model": model,
            "completion_id": f"chatcmpl-{number}",
            "created": int(time.time()),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = stream_chunks(reply, include_usage=include_usage, **common)
            events = [*(_sse(c) for c in chunks), _sse(b"[DONE]")]
            return 200, _Stream(events, reply.stream_pause, reply.stream_cut, reply.keep_alive), {}
        if reply.keep_alive is not None:
            msg = 'scripted "keep_alive" needs a streamed request ("stream": true); this one did not stream'
            return 500, json.dumps(error_body(msg, status=500)).encode(), {}
        return 200, json.dumps(completion_body(reply, **common)).encode(), {}


def _cut(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + f"... ({len(text):,} characters)"


def _describe(number: int, body: dict[str, Any], status: int, payload: bytes | _Stream | None) -> str:
    """One log line for ``--verbose``: the request (model, messages, the last one cut) and the reply."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    request = (
        f"request {number}: model={body.get('model')} messages={len(messages)} tools={len(body.get('tools') or [])}"
        f"{' stream' if body.get('stream') else ''}; last ({last.get('role', '?')}): {_cut(text)}"
    )
    if payload is None:
        return f"{request}\n  -> no answer (the server closed)"
    if isinstance(payload, _Stream):
        return f"{request}\n  -> {status}, {len(payload.events)} SSE events: {_cut(b''.join(payload.events).decode())}"
    return f"{request}\n  -> {status}: {_cut(payload.decode(errors='replace'))}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM or SIGINT; print the base URL as the first stdout line.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``); see ``--help``.

    Returns:
        The exit status, 0 after a clean stop.
    """
    parser = argparse.ArgumentParser(
        prog="python -m parley.testing.openai_server",
        description="Serve a scripted OpenAI-compatible chat-completions API on 127.0.0.1.",
    )
    parser.add_argument("--script", required=True, help="a JSON or YAML reply file, or pkg.module:fn")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--model", default="gpt-4o-mini", help="model reported by default (default: %(default)s)")
    parser.add_argument("--models", default=None, help="comma-separated models to serve; others get 404")
    parser.add_argument("--api-key", default=None, help="require this bearer key; others get 401")
    parser.add_argument("--verbose", action="store_true", help="log each request and its reply to stderr")
    args = parser.parse_args(argv)
    if args.verbose:  # this command is the application here, so it may configure logging
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        _log.addHandler(handler)
        _log.setLevel(logging.INFO)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    try:
        server = ScriptedOpenAIServer(
            args.script, model=args.model, port=args.port, models=models, api_key=args.api_key
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        print(server.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
