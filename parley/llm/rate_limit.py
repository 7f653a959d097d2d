"""``api_rate_limit``: at most N requests per second through one config entry, across the process.

The limiter spaces requests ``1 / rate`` seconds apart, the same contract as AutoGen 0.2's
``api_rate_limit`` (a token bucket holding one token). Each caller reserves the next free slot
under a thread lock and then sleeps until it with ``asyncio.sleep``, so one limiter serves any
number of concurrent tasks, on any number of event loops and threads (each sync call may run on
its own loop), without blocking a loop. A caller cancelled while it waits gives up its request
but not its slot, so the limiter errs on the side of fewer requests.

Entries that reach the same server with the same model and the same key share one limiter:
several agents built from one ``config_list`` are throttled together, as the server would count
them.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from parley.exceptions import ConfigError

__all__ = ["RateLimiter", "check_rate", "shared_limiter"]


def check_rate(rate: Any) -> float:
    """Check an ``api_rate_limit`` value and return it as a float.

    Raises:
        ConfigError: ``rate`` is not a number > 0 (requests per second).
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 or rate == float("inf"):
        raise ConfigError(
            f"api_rate_limit is in requests per second and must be a finite number > 0, got {rate!r} "
            "(use 0.5 for one request every two seconds; leave it out for no limit).",
            key="api_rate_limit",
        )
    return float(rate)


class RateLimiter:
    """Lets requests through at most ``rate`` per second, each ``1 / rate`` seconds after the last.

    Args:
        rate: requests per second, > 0.
        clock: a monotonic clock in seconds (for tests); default `time.monotonic`.

    Raises:
        ConfigError: ``rate`` is not a number > 0.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = check_rate(rate)
        self.interval = 1.0 / self.rate
        self._clock = clock
        self._next_free: float | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"

    def reserve(self) -> float:
        """Take the next free slot and return how many seconds to wait for it (0.0 for now)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next_free is None else max(now, self._next_free)
            self._next_free = slot + self.interval
        return slot - now

    async def acquire(self) -> None:
        """Wait, without blocking the event loop, until this caller's slot comes."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


_shared: dict[tuple[str, str, str, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(entry: Mapping[str, Any]) -> RateLimiter | None:
    """The process-wide limiter for an entry's ``api_rate_limit``, or None when it has none.

    Entries with the same ``base_url``, ``model``, ``api_key`` and rate share one limiter. The key
    is kept only as a SHA-256 digest.

    Raises:
        ConfigError: ``api_rate_limit`` is not a number > 0.
    """
    rate = entry.get("api_rate_limit")
    if rate is None:
        return None
    rate = check_rate(rate)
    key_digest = hashlib.sha256(str(entry.get("api_key") or "").encode()).hexdigest()[:16]
    ident = (str(entry.get("base_url") or ""), str(entry.get("model") or ""), key_digest, rate)
    with _shared_lock:
        limiter = _shared.get(ident)
        if limiter is None:
            limiter = _shared[ident] = RateLimiter(rate)
        return limiter
