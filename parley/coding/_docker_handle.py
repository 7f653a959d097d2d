"""`RunHandle`: how one thread stops another's reading of a ``docker exec``'s output."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

__all__ = ["RunHandle"]


class RunHandle:
    """Lets another thread stop a run's reading thread (thread-safe, idempotent).

    The run's output comes over a socket; `abort` shuts it down, which wakes a thread blocked
    reading it (closing a generator or file from another thread would not). A run aborted
    before its ``docker exec`` started is not started.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self._aborted = False

    def attach(self, sock: Any) -> None:
        """Note the run's output socket (shut down at once if the run was aborted meanwhile)."""
        with self._lock:
            self._sock = sock
            aborted = self._aborted
        if aborted:
            self._shut(sock)

    @property
    def aborted(self) -> bool:
        """True once `abort` was called: the run may still be going, with nobody reading it."""
        return self._aborted

    def abort(self) -> None:
        """Shut the output socket down; the reading thread then sees its end."""
        with self._lock:
            self._aborted = True
            sock = self._sock
        if sock is not None:
            self._shut(sock)

    @staticmethod
    def _shut(sock: Any) -> None:
        inner: Any = getattr(sock, "_sock", None)  # a SocketIO wraps the socket
        for candidate in (inner, sock):
            if candidate is not None and hasattr(candidate, "shutdown"):
                with contextlib.suppress(OSError):
                    candidate.shutdown(socket.SHUT_RDWR)
                return
