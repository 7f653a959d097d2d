"""ExecutorPool: a warm acquire against a cold start, and many chats sharing a few kernels.

- **Acquire.** A pool of warm embedded kernels lends a member to 200 keys in turn (acquire, then
  release without reset); the figure is the acquire's median. In the same round a kernel
  executor is started cold and runs ``print(1)``: that is what a conversation pays without a pool.
- **Throughput.** Two-agent chats run concurrently, each with a scripted assistant that sends 5
  blocks of ``time.sleep(0.05)`` and then ``TERMINATE``, and a user proxy whose executor is the
  pool (`code_execution_config={"executor": pool}`: a slot per chat, reset when the chat ends).
  The ideal is the blocks' own time spread over every member: chats × 5 × 50 ms / size. The
  figure is ideal / measured (1.0 is perfect); it includes the per-chat reset (``%reset -f``).

- **Against one kernel per chat.** The same burst of chats runs twice in one round: on a warm pool of
  ``size`` kernels, and the way it runs without a pool, each chat with its own embedded kernel
  (``code_execution_config={"executor": "ipython-embedded"}``), started when the chat first runs
  code and closed when it ends. The figure is the blocks run per second on each side, and their ratio.

There is no peer: AutoGen 0.2 has no pool.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from typing import Any

from bench.registry import Benchmark, Medians, Metric, Sampler, register
from parley import AssistantAgent, UserProxyAgent
from parley.coding import CodeBlock, ExecutorPool
from parley.coding.jupyter import EmbeddedIPythonCodeExecutor
from parley.testing import ScriptedModelClient

__all__ = ["DockerSlotsSampler", "PerChatSampler", "PoolSampler"]

ACQUIRE_TARGET_MS = 10.0
THROUGHPUT_TARGET = 0.8
BLOCKS_PER_CHAT = 5
BLOCK_S = 0.05


async def run_chats(chats: int, code_execution_config: dict[str, Any]) -> float:
    """Run ``chats`` concurrent two-agent chats of 5 sleeping blocks each; return the wall time (s).

    Each chat's user proxy gets ``code_execution_config``; when that makes an executor of its own
    (not a pool), the executor is closed after the chats, outside the timed part.

    Raises:
        RuntimeError: not every block ran and printed ``ok``.
    """
    script = [f"```python\nimport time\ntime.sleep({BLOCK_S})\nprint('ok')\n```"] * BLOCKS_PER_CHAT + ["TERMINATE"]
    pairs = []
    for n in range(chats):
        assistant = AssistantAgent(f"a{n}", llm_config={"model_client": ScriptedModelClient(script)})
        user = UserProxyAgent(f"u{n}", human_input_mode="NEVER", code_execution_config=dict(code_execution_config))
        pairs.append((user, assistant))
    start = time.perf_counter()
    try:
        results = await asyncio.gather(*(u.a_initiate_chat(a, message="go", silent=True) for u, a in pairs))
        elapsed = time.perf_counter() - start
    finally:
        for user, _ in pairs:
            executor = user.code_executor
            if not isinstance(executor, ExecutorPool) and hasattr(executor, "a_close"):
                await executor.a_close()
    ran = sum(str(m.get("content", "")).count("Code output: ok") for r in results for m in r.chat_history)
    if ran != chats * BLOCKS_PER_CHAT:
        raise RuntimeError(f"{ran} blocks ran, not {chats * BLOCKS_PER_CHAT}")
    return elapsed


class PoolSampler:
    """Warms two kernel pools once; each sample times acquires, a cold start, and a burst of chats."""

    def __init__(self, chats: int, size: int) -> None:
        self._chats, self._size = chats, size
        self._loop = asyncio.new_event_loop()
        self._small = ExecutorPool("ipython-embedded", size=2, options={"timeout": 60})
        self._pool = ExecutorPool("ipython-embedded", size=size, options={"timeout": 60})
        self._loop.run_until_complete(self._small.start())
        self._loop.run_until_complete(self._pool.start())
        self.info: Mapping[str, str] = {
            "pools": f"2 and {size} warm embedded ipykernel kernels",
            "chats": f"{chats} concurrent chats × {BLOCKS_PER_CHAT} blocks of {BLOCK_S * 1000:.0f} ms",
        }

    async def _acquires(self) -> float:
        times = []
        for n in range(200):
            start = time.perf_counter()
            async with self._small.acquire(f"bench-{n}"):
                times.append(time.perf_counter() - start)
            await self._small.release(f"bench-{n}", reset=False)
        return statistics.median(times) * 1e3

    async def _cold(self) -> float:
        start = time.perf_counter()
        async with EmbeddedIPythonCodeExecutor(timeout=60) as executor:
            result = await executor.a_execute_code_blocks([CodeBlock("print(1)", "python")])
            elapsed = time.perf_counter() - start
        if result.output.strip() != "1":
            raise RuntimeError(f"the cold kernel printed {result.output!r}")
        return elapsed * 1e3

    async def _chats_burst(self) -> tuple[float, float]:
        elapsed = await run_chats(self._chats, {"executor": self._pool})
        ideal = self._chats * BLOCKS_PER_CHAT * BLOCK_S / self._size
        return elapsed, ideal / elapsed

    def sample(self) -> dict[str, float]:
        """Return the acquire median and a cold start (ms), and the chats' wall time (s) and throughput ratio."""
        run = self._loop.run_until_complete
        acquire_ms, cold_ms = run(self._acquires()), run(self._cold())
        wall_s, ratio = run(self._chats_burst())
        return {"acquire_ms": acquire_ms, "cold_ms": cold_ms, "chats_s": wall_s, "throughput": ratio}

    def close(self) -> None:
        """Close both pools, then the loop."""
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._small.a_close())
        self._loop.run_until_complete(self._pool.a_close())
        self._loop.close()


class PerChatSampler:
    """Each sample runs the same burst of chats on a warm pool and with one new kernel per chat."""

    def __init__(self, chats: int, size: int) -> None:
        self._chats = chats
        self._loop = asyncio.new_event_loop()
        self._pool = ExecutorPool("ipython-embedded", size=size, options={"timeout": 60})
        self._loop.run_until_complete(self._pool.start())
        self.info: Mapping[str, str] = {
            "pool": f"{size} warm embedded ipykernel kernels",
            "per chat": f"{chats} embedded ipykernel kernels, one started by each chat",
            "chats": f"{chats} concurrent chats × {BLOCKS_PER_CHAT} blocks of {BLOCK_S * 1000:.0f} ms",
        }

    def sample(self) -> dict[str, float]:
        """Return blocks per second on the pool and with one kernel per chat."""
        blocks = self._chats * BLOCKS_PER_CHAT
        pooled = self._loop.run_until_complete(run_chats(self._chats, {"executor": self._pool}))
        per_chat = self._loop.run_until_complete(
            run_chats(self._chats, {"executor": "ipython-embedded", "ipython-embedded": {"timeout": 60}})
        )
        return {"pooled_blocks_s": blocks / pooled, "per_chat_blocks_s": blocks / per_chat}

    def close(self) -> None:
        """Close the pool, then the loop."""
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._pool.a_close())
        self._loop.close()


def _per_chat(params: Mapping[str, Any]) -> Sampler:
    return PerChatSampler(params["chats"], params["size"])


def _per_chat_verdict(m: Medians) -> str:
    pooled, per_chat = m.parley["pooled_blocks_s"], m.parley["per_chat_blocks_s"]
    return f"{pooled / per_chat:.1f}× the blocks per second of one kernel per chat"


def _parley(params: Mapping[str, Any]) -> Sampler:
    return PoolSampler(params["chats"], params["size"])


def _acquire_verdict(m: Medians) -> str:
    acquire, cold = m.parley["acquire_ms"], m.parley["cold_ms"]
    met = "met" if acquire < ACQUIRE_TARGET_MS else "not met"
    return f"{met} ({acquire:.3f} ms; {cold / acquire:,.0f}× faster than a cold start)"


def _throughput_verdict(m: Medians) -> str:
    ratio = m.parley["throughput"]
    return f"{'met' if ratio >= THROUGHPUT_TARGET else 'not met'} ({ratio:.2f} × ideal)"


register(
    Benchmark(
        name="pool",
        summary=(
            "ExecutorPool of embedded kernels: a warm acquire against a cold kernel start, and concurrent two-agent "
            "chats (5 blocks of 50 ms each) sharing the pool, against the ideal of every member busy."
        ),
        params=lambda quick: {"chats": 32, "size": 4} if quick else {"chats": 256, "size": 8},
        parley=_parley,
        metrics=(
            Metric(
                label="Pool acquire, warm kernel (p50 of 200)",
                unit="ms",
                parley_key="acquire_ms",
                target=f"p50 < {ACQUIRE_TARGET_MS:g} ms",
                status=_acquire_verdict,
            ),
            Metric(label="(context) cold kernel start + print(1)", unit="ms", parley_key="cold_ms"),
            Metric(
                label="{chats} chats × 5 blocks of 50 ms on {size} pooled kernels: throughput / ideal",
                unit="× ideal",
                parley_key="throughput",
                target=f"≥ {THROUGHPUT_TARGET:g} × ideal",
                status=_throughput_verdict,
            ),
            Metric(label="{chats} chats on {size} pooled kernels, wall time", unit="s", parley_key="chats_s"),
        ),
        reps=3,
        quick_reps=1,
        warmup=1,
    )
)

register(
    Benchmark(
        name="pool-per-chat",
        summary=(
            "The same concurrent two-agent chats (5 blocks of 50 ms each) on a warm pool of embedded kernels, and "
            "with one kernel started by each chat, as without a pool; blocks per second on each side."
        ),
        params=lambda quick: {"chats": 16, "size": 4} if quick else {"chats": 64, "size": 8},
        parley=_per_chat,
        metrics=(
            Metric(
                label="{chats} chats on {size} pooled kernels",
                unit="blocks/s",
                parley_key="pooled_blocks_s",
                target="faster than one kernel per chat",
                status=_per_chat_verdict,
            ),
            Metric(label="{chats} chats, one kernel per chat", unit="blocks/s", parley_key="per_chat_blocks_s"),
        ),
        reps=1,
        quick_reps=1,
        warmup=0,
    )
)


SLOT_BLOCKS = 5
SLOT_BLOCK = "sleep 0.05; echo ok"


class DockerSlotsSampler:
    """64 command-line sessions on 4 containers through slots, against the same sessions on 4 unslotted members.

    Each session acquires its key, runs ``SLOT_BLOCKS`` sh blocks of ``sleep 0.05`` and releases
    (reset: the slot's directory emptied). With slots every session has its own slot and they
    all run at once; without, the sessions queue for the 4 members (one call at a time each).
    """

    def __init__(self, sessions: int, size: int) -> None:
        from bench.suites.docker_executor import IMAGE

        self._sessions, self._size = sessions, size
        self._loop = asyncio.new_event_loop()
        options = {"image": IMAGE, "timeout": 60}
        slots = -(-sessions // size)
        self._slotted = ExecutorPool("docker", size=size, slots_per_member=slots, options=options)
        self._plain = ExecutorPool("docker", size=size, options=options, acquire_timeout=600)
        self._loop.run_until_complete(self._slotted.start())
        self._loop.run_until_complete(self._plain.start())
        self.info: Mapping[str, str] = {
            "docker slots": f"{sessions} sessions × {SLOT_BLOCKS} sh blocks; {size} containers × {slots} slots",
        }

    async def _burst(self, pool: ExecutorPool) -> float:
        block = [CodeBlock(SLOT_BLOCK, "sh")]

        async def session(n: int) -> int:
            async with pool.acquire(f"s{n}") as executor:
                ran = 0
                for _ in range(SLOT_BLOCKS):
                    result = await executor.a_execute_code_blocks(block)
                    ran += result.output == "ok\n"
            await pool.release(f"s{n}")
            return ran

        start = time.perf_counter()
        ran = sum(await asyncio.gather(*(session(n) for n in range(self._sessions))))
        elapsed = time.perf_counter() - start
        if ran != self._sessions * SLOT_BLOCKS:
            raise RuntimeError(f"{ran} blocks ran, not {self._sessions * SLOT_BLOCKS}")
        return elapsed

    def sample(self) -> dict[str, float]:
        """Return both bursts' wall times (s) and blocks per second, and the slots' speed-up."""
        slotted = self._loop.run_until_complete(self._burst(self._slotted))
        plain = self._loop.run_until_complete(self._burst(self._plain))
        blocks = self._sessions * SLOT_BLOCKS
        return {
            "slots_s": slotted,
            "plain_s": plain,
            "slots_blocks_per_s": blocks / slotted,
            "speedup": plain / slotted,
            "ideal_ratio": SLOT_BLOCKS * 0.05 / slotted,
        }

    def close(self) -> None:
        """Close both pools, then the loop."""
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._slotted.a_close())
        self._loop.run_until_complete(self._plain.a_close())
        self._loop.close()


def _slots(params: Mapping[str, Any]) -> Sampler:
    return DockerSlotsSampler(params["sessions"], params["size"])


def _slots_verdict(m: Medians) -> str:
    return f"{m.parley['speedup']:.1f}× faster than the same sessions queued on unslotted members"


register(
    Benchmark(
        name="pool-docker-slots",
        summary=(
            "concurrent command-line sessions (5 sh blocks of 50 ms each) on a few Docker containers through "
            "ExecutorPool slots (slots_per_member), against the same sessions on as many unslotted members."
        ),
        params=lambda quick: {"sessions": 16, "size": 2} if quick else {"sessions": 64, "size": 4},
        parley=_slots,
        metrics=(
            Metric(
                label="{sessions} sessions on {size} containers through slots, wall time",
                unit="s",
                parley_key="slots_s",
                target="(issue 9) 64 sessions on 4 containers through slots",
                status=_slots_verdict,
            ),
            Metric(
                label="(context) the same sessions on {size} unslotted members, wall time",
                unit="s",
                parley_key="plain_s",
            ),
            Metric(label="{sessions} sessions through slots", unit="blocks/s", parley_key="slots_blocks_per_s"),
            Metric(
                label="(context) slots: the blocks' own time (5 × 50 ms) / wall time",
                unit="× ideal",
                parley_key="ideal_ratio",
            ),
        ),
        reps=3,
        quick_reps=1,
        warmup=0,
    )
)
