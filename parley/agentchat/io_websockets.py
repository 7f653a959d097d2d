"""`IOWebsockets`: an IOStream over a websocket, for a chat driven from a browser or another process.

Each connection to the server that `IOWebsockets.run_server_in_thread` starts gets its own
`IOWebsockets`, which is the default IOStream while the user's ``on_connect(iostream)`` runs: what
agents print is sent as text messages, and ``input`` sends its prompt and waits for the client's
next message. This module is the one that imports the ``websockets`` library (an optional extra:
``pip install 'pyparley[websockets]'``), and only when a server starts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from parley.agentchat.io import IOStream
from parley.exceptions import MissingDependencyError

__all__ = ["IOWebsockets"]


class IOWebsockets(IOStream):
    """An IOStream whose output and input are the messages of one websocket connection.

    Args:
        websocket: the connection (a ``websockets.sync`` server or client connection, or any
            object with ``send(str)`` and ``recv()``).
    """

    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket

    @property
    def websocket(self) -> Any:
        """The connection."""
        return self._websocket

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Send the objects, joined by ``sep`` and followed by ``end``, as one text message."""
        self._websocket.send(sep.join(map(str, objects)) + end)

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Send ``prompt`` (when not empty) and return the client's next message as text.

        ``password`` is accepted for the IOStream protocol; the reply travels as sent.
        Waits as long as the client takes, as console input does.
        """
        if prompt:
            self._websocket.send(prompt)
        message = self._websocket.recv()
        return message.decode("utf-8") if isinstance(message, bytes) else str(message)

    @staticmethod
    @contextlib.contextmanager
    def run_server_in_thread(
        *,
        on_connect: Callable[[IOWebsockets], None],
        host: str = "127.0.0.1",
        port: int = 8765,
        ssl_context: Any = None,
        **kwargs: Any,
    ) -> Iterator[str]:
        """Serve websocket connections on a background thread while the ``with`` block runs.

        Args:
            on_connect: called with each connection's `IOWebsockets`, on the server's thread for
                that connection, with it as the default IOStream; the connection closes when it
                returns.
            host: the address to listen on. Default loopback.
            port: the port (0 picks a free one). Default 8765.
            ssl_context: an ``ssl.SSLContext`` for ``wss://``; None for plain ``ws://``.
            **kwargs: passed to ``websockets.sync.server.serve``.

        Yields:
            The server's URI, such as ``"ws://127.0.0.1:8765"``.

        Raises:
            MissingDependencyError: the ``websockets`` library is not installed.
            OSError: the port is taken.
        """
        try:
            from websockets.sync.server import serve
        except ImportError:
            raise MissingDependencyError("websockets", "websockets") from None

        def handler(connection: Any) -> None:
            stream = IOWebsockets(connection)
            with IOStream.set_default(stream):
                on_connect(stream)

        server = serve(handler, host, port, ssl=ssl_context, **kwargs)
        thread = threading.Thread(target=server.serve_forever, name="parley-iowebsockets", daemon=True)
        thread.start()
        scheme = "wss" if ssl_context is not None else "ws"
        try:
            yield f"{scheme}://{host}:{server.socket.getsockname()[1]}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
