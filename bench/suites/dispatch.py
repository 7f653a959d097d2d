"""ExecutionDispatcher: its overhead per request with 1,000 requests queued at once.

An executor that answers at once (no process, no kernel) sits in an `ExecutorPool`, so what is
left is the dispatcher's own cost: queueing, forming batches, grouping, handing results back,
plus the pool's acquire that every request makes. Each sample sends 1,000 requests at once,
from 1,000 sessions (one each; with the default 20 ms window, a batch of 200 fills before its
window ends) and from 100 sessions (ten each, so every session's requests are serialized over
ten batches; the window is 0 here, or each batch would wait 20 ms for arrivals that never come).
The same requests are also run straight on the pool (``acquire`` then ``a_execute_code_blocks``)
in the same round; the overhead is the paired difference. There is no peer: AutoGen has no
dispatcher.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register
from parley.coding import (
    CodeBlock,
    CodeExtractor,
    CodeResult,
    ExecutionDispatcher,
    ExecutorPool,
    MarkdownCodeExtractor,
)

__all__ = ["DispatchSampler"]

TARGET_MS = 1.0
REQUESTS = 1000


class InstantExecutor:
    """A code executor that answers ``ok`` at once, so only the machinery around it is timed."""

    @property
    def code_extractor(self) -> CodeExtractor:
        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        return CodeResult(exit_code=0, output="ok")

    async def a_execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        return CodeResult(exit_code=0, output="ok")

    def restart(self) -> None:
        pass


class DispatchSampler:
    """Times 1,000 queued requests through a dispatcher and straight on the pool, alternately."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._pool = ExecutorPool(InstantExecutor, size=REQUESTS)
        self._loop.run_until_complete(self._pool.a_start())
        self._blocks = [CodeBlock("print(1)", "python")]
        self._wide = ExecutionDispatcher(self._pool)
        self._deep = ExecutionDispatcher(self._pool, batch_window_ms=0)
        self.info: Mapping[str, str] = {"executor": "an in-process executor that answers at once"}

    async def _direct(self, sessions: int) -> float:
        per = REQUESTS // sessions

        async def one_session(key: str) -> None:
            for _ in range(per):
                async with self._pool.acquire(key) as executor:
                    await executor.a_execute_code_blocks(self._blocks)

        start = time.perf_counter()
        await asyncio.gather(*(one_session(f"direct-{n}") for n in range(sessions)))
        elapsed = (time.perf_counter() - start) * 1e3 / REQUESTS
        await self._release("direct", sessions)
        return elapsed

    async def _dispatched(self, dispatcher: ExecutionDispatcher, sessions: int) -> float:
        per = REQUESTS // sessions
        start = time.perf_counter()
        calls = [dispatcher.execute(f"session-{n}", self._blocks) for _ in range(per) for n in range(sessions)]
        results = await asyncio.gather(*calls)
        elapsed = (time.perf_counter() - start) * 1e3 / REQUESTS
        if any(r.output != "ok" for r in results):
            raise RuntimeError("a dispatched request did not come back with its result")
        await self._release("session", sessions)
        return elapsed

    async def _release(self, prefix: str, sessions: int) -> None:
        """Give every key's member back (no reset: the instant executor keeps nothing), untimed."""
        for n in range(sessions):
            await self._pool.release(f"{prefix}-{n}", reset=False)

    def sample(self) -> dict[str, float]:
        """Return ms per request dispatched and direct, for 1,000 and 100 sessions, and the overheads."""
        run = self._loop.run_until_complete
        wide_direct, wide = run(self._direct(REQUESTS)), run(self._dispatched(self._wide, REQUESTS))
        deep_direct, deep = run(self._direct(100)), run(self._dispatched(self._deep, 100))
        return {
            "wide_ms": wide,
            "wide_direct_ms": wide_direct,
            "wide_overhead_ms": wide - wide_direct,
            "deep_ms": deep,
            "deep_direct_ms": deep_direct,
            "deep_overhead_ms": deep - deep_direct,
        }

    def close(self) -> None:
        """Close both dispatchers and the pool, then the loop."""
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._wide.close())
        self._loop.run_until_complete(self._deep.close())
        self._loop.run_until_complete(self._pool.a_close())
        self._loop.close()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return DispatchSampler()


def _verdict(key: str) -> Any:
    def verdict(m: Medians) -> str:
        overhead = m.parley[key]
        return f"{'met' if overhead < TARGET_MS else 'not met'} ({overhead * 1000:.0f} µs per request)"

    return verdict


register(
    Benchmark(
        name="dispatch",
        summary=(
            "1,000 requests sent at once through an ExecutionDispatcher to a pool of instant executors, "
            "against the same requests run straight on the pool (acquire + execute) in the same round; ms per request."
        ),
        params=lambda quick: {},
        parley=_parley,
        metrics=(
            Metric(
                label="Dispatcher overhead, 1,000 requests from 1,000 sessions (default window)",
                unit="ms/request",
                parley_key="wide_overhead_ms",
                target=f"< {TARGET_MS:g} ms per request",
                status=_verdict("wide_overhead_ms"),
            ),
            Metric(
                label="Dispatcher overhead, 1,000 requests from 100 sessions (10 batches, window 0)",
                unit="ms/request",
                parley_key="deep_overhead_ms",
                target=f"< {TARGET_MS:g} ms per request",
                status=_verdict("deep_overhead_ms"),
            ),
            Metric(label="Through the dispatcher, 1,000 sessions", unit="ms/request", parley_key="wide_ms"),
            Metric(
                label="(floor) straight on the pool, 1,000 sessions", unit="ms/request", parley_key="wide_direct_ms"
            ),
        ),
        reps=10,
        quick_reps=3,
        warmup=1,
    )
)
