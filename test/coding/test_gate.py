"""The Docker executor's Gate: one holder at a time across event loops and threads; cancelled waiters leave."""

from __future__ import annotations

import asyncio
import threading

import pytest

from parley.coding._gate import Gate


@pytest.mark.timeout(30)
def test_one_holder_at_a_time_across_loops_and_threads() -> None:
    gate, lock = Gate(), threading.Lock()
    inside, peak, entered = 0, 0, 0

    async def hold() -> None:
        nonlocal inside, peak, entered
        async with gate:
            with lock:
                inside += 1
                entered += 1
                peak = max(peak, inside)
            await asyncio.sleep(0.002)
            with lock:
                inside -= 1

    async def many() -> None:
        await asyncio.gather(*(hold() for _ in range(10)))

    threads = [threading.Thread(target=asyncio.run, args=(many(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (peak, entered) == (1, 40)


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    gate = Gate()
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with gate:
            order.append("first")
            await release.wait()

    async def waiter(name: str) -> None:
        async with gate:
            order.append(name)

    holder = asyncio.create_task(first())
    await asyncio.sleep(0)
    cancelled, third = asyncio.create_task(waiter("cancelled")), asyncio.create_task(waiter("third"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(holder, third)
    assert cancelled.cancelled()
    assert order == ["first", "third"]
    async with gate:  # free again
        order.append("last")
    assert order[-1] == "last"
