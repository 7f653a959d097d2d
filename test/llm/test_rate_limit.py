"""api_rate_limit: the interval limiter, its process-wide sharing, and its config checks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from parley.exceptions import ConfigError
from parley.llm.config import validate_config_entry
from parley.llm.rate_limit import RateLimiter, shared_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_spaced_one_interval_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock)  # one request every 0.25 s
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    clock.now += 10  # idle long after the last slot: no wait, and no saved-up burst
    assert [limiter.reserve() for _ in range(2)] == [0.0, 0.25]


def test_a_slow_rate_waits_whole_seconds() -> None:
    limiter = RateLimiter(0.5, clock=FakeClock())
    assert [limiter.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]


def test_threads_never_share_a_slot() -> None:
    limiter = RateLimiter(1000, clock=FakeClock())
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(50):
            wait = limiter.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(w * 1000) for w in waits) == list(range(400))


async def test_acquire_sleeps_until_the_slot_without_blocking_the_loop() -> None:
    limiter = RateLimiter(20)  # 50 ms apart
    loop = asyncio.get_running_loop()
    started = loop.time()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    other = asyncio.create_task(ticker())
    await asyncio.gather(*(limiter.acquire() for _ in range(4)))
    other.cancel()
    assert loop.time() - started >= 3 * 0.05 - 0.01  # a lower bound only: the limiter waited
    assert ticks > 0  # the loop kept running while callers waited


def test_entries_for_the_same_endpoint_and_key_share_one_limiter() -> None:
    entry = {"model": "gpt-4o-mini", "base_url": "http://127.0.0.1:1/v1", "api_key": "sk-a", "api_rate_limit": 2}
    same = shared_limiter(dict(entry))
    assert same is not None
    assert shared_limiter(dict(entry)) is same
    assert shared_limiter({**entry, "api_key": "sk-b"}) is not same
    assert shared_limiter({**entry, "api_rate_limit": 3}) is not same
    assert shared_limiter({"model": "gpt-4o-mini"}) is None
    assert "sk-a" not in repr(same)


@pytest.mark.parametrize("rate", [0, -1, "fast", True, float("inf")])
def test_bad_rates_are_config_errors(rate: object) -> None:
    with pytest.raises(ConfigError, match="requests per second") as info:
        validate_config_entry({"model": "m", "api_rate_limit": rate})
    assert info.value.key == "api_rate_limit"
