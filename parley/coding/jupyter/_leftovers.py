"""Kernels still running when the interpreter exits: `Leftovers` ends each one in an ``atexit`` hook.

Both kernel kinds keep one: local kernel processes (`parley.coding.jupyter._kernel`) are killed,
kernels on a gateway (`parley.coding.jupyter._gateway`) deleted. A kernel is added when it
starts and discarded when it ends, from any thread.
"""

from __future__ import annotations

import atexit
import threading
from typing import Generic, Protocol, TypeVar

__all__ = ["Leftovers"]


class _Killable(Protocol):
    def kill(self) -> None: ...


K = TypeVar("K", bound=_Killable)


class Leftovers(Generic[K]):
    """A thread-safe set of running kernels whose ``kill()`` is called at interpreter exit."""

    def __init__(self) -> None:
        self._kernels: set[K] = set()
        self._lock = threading.Lock()
        atexit.register(self.kill_all)

    def add(self, kernel: K) -> None:
        """Remember a kernel that started."""
        with self._lock:
            self._kernels.add(kernel)

    def discard(self, kernel: K) -> None:
        """Forget a kernel that ended (or was never added)."""
        with self._lock:
            self._kernels.discard(kernel)

    def kill_all(self) -> None:
        """Call ``kill()`` on every kernel still here; each discards itself."""
        with self._lock:
            kernels = list(self._kernels)
        for kernel in kernels:
            kernel.kill()
