"""A TCP proxy the tests control, put between an executor and a real server to make faults on demand.

`FaultProxy` forwards bytes both ways, unchanged, and on request:

- `FaultProxy.fail_for` answers every new connection with an HTTP error (503, or 429 with a
  ``Retry-After``) for the next seconds, as a gateway behind a load balancer does while it starts;
- `FaultProxy.cut` closes every open connection (a websocket dropped by a proxy or the network);
- `FaultProxy.heads` keeps the head (request line and headers) of each forwarded request;
- with ``tls``, it terminates TLS (https and wss) in front of a plain-http gateway.

It runs in its own threads, so sync executor calls can go through it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from types import TracebackType

_REASONS = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable"}


class FaultProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``upstream_port`` on 127.0.0.1."""

    def __init__(self, upstream_port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self._upstream = upstream_port
        self._tls = tls
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._fail_until = 0.0
        self._fail_status = 503
        self._retry_after: str | None = None
        self.heads: list[str] = []
        """Each forwarded request's head (request line and headers), in order."""
        self.failed = 0
        """How many connections were answered with the injected error."""
        self._closed = False
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    def fail_for(self, seconds: float, status: int = 503, retry_after: str | None = None) -> None:
        """Answer every new connection with HTTP ``status`` for the next ``seconds``."""
        with self._lock:
            self._fail_until = time.monotonic() + seconds
            self._fail_status, self._retry_after = status, retry_after

    def cut(self) -> int:
        """Close every open connection now; return how many there were."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(sockets) // 2

    def close(self) -> None:
        """Stop listening and close every connection. Idempotent."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        self.cut()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._tls is not None:  # terminate TLS here, as a proxy in front of a gateway does
            try:
                client = self._tls.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError):
                client.close()
                return
        with self._lock:
            failing = time.monotonic() < self._fail_until
            status, retry_after = self._fail_status, self._retry_after
        if failing:
            self._refuse(client, status, retry_after)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open += [client, upstream]
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        self._pump(upstream, client, False)

    def _refuse(self, client: socket.socket, status: int, retry_after: str | None) -> None:
        with contextlib.suppress(OSError), client:
            client.settimeout(5)
            client.recv(65536)
            extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
            body = b'{"message": "injected by the test proxy"}'
            client.sendall(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n{extra}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            self.failed += 1

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        pending = b""
        try:
            while data := source.recv(65536):
                if requests:  # note each request's head (a websocket's frames after its upgrade are not heads)
                    pending += data
                    if b"\r\n\r\n" in pending and pending[:4] in (b"GET ", b"POST", b"DELE", b"PUT ", b"PATC"):
                        self.heads.append(pending.split(b"\r\n\r\n", 1)[0].decode(errors="replace"))
                    pending = b""
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
