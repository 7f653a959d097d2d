"""ExecutionDispatcher on real executors: local processes and real ipykernel kernels.

Affinity, order, fairness, timeout grouping, backpressure, cancellation and dead members,
observed through what the code running in the slots wrote, the batches the dispatcher reports to
``on_batch``, and its stats. No timing is asserted: order is forced with files, events and the
dispatcher's own counts, and pytest-timeout bounds every wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import pytest

from parley.coding import (
    CodeBlock,
    CodeResult,
    DispatchedBatch,
    ExecutionDispatcher,
    ExecutorPool,
    LocalCommandLineCodeExecutor,
)
from parley.exceptions import ConfigError, DispatcherFullError, ExecutorError, PoolExhaustedError

from ._kernel_env import py, require_kernel
from ._procs import is_gone

pytestmark = pytest.mark.timeout(120)


def block(code: str) -> list[CodeBlock]:
    return [py(code)]


async def until(condition: object, what: str) -> None:
    """Yield to the loop until ``condition()`` holds (pytest-timeout bounds it)."""
    while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - a file or a count, not an event
        await asyncio.sleep(0.01)


def hang(marker: Path) -> str:
    """A block that writes its pid to ``marker`` and then sleeps far longer than any test.

    The pid is written to a side file first and renamed into place, so ``marker`` never exists empty.
    """
    path = str(marker)
    return (
        f"import os, time; open({path + '.tmp'!r}, 'w').write(str(os.getpid())); "
        f"os.replace({path + '.tmp'!r}, {path!r}); time.sleep(300)"
    )


# --- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_window_ms": -1}, "batch_window_ms"),
        ({"max_batch_size": 0}, "max_batch_size must be a positive int"),
        ({"max_queue": 1.5}, "max_queue"),
        ({"when_full": "drop"}, "'wait' or 'error'"),
        ({"timeout_range": (5, 1)}, "shortest, longest"),
        ({"timeout_range": (0, 1)}, "timeout_range must be a positive"),
        ({"queue_timeout": float("inf")}, "queue_timeout"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    pool = ExecutorPool("local", size=1, base_dir=tmp_path / "pool")
    with pytest.raises(ConfigError, match=match):
        ExecutionDispatcher(pool, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be an ExecutorPool"):
        ExecutionDispatcher(LocalCommandLineCodeExecutor())  # type: ignore[arg-type]
    assert not (tmp_path / "pool").exists()


def test_a_callers_timeout_is_clamped_into_the_range(tmp_path: Path) -> None:
    dispatcher = ExecutionDispatcher(ExecutorPool("local", size=1), timeout_range=(2, 30))
    assert [dispatcher.clamp_timeout(t) for t in (None, 0, -5, 1, 2.5, 30, 1e9, float("inf"))] == [
        30,
        2,
        2,
        2,
        2.5,
        30,
        30,
        30,
    ]
    for bad in ("10", float("nan"), True):
        with pytest.raises(ConfigError, match="timeout must be a number"):
            dispatcher.clamp_timeout(bad)  # type: ignore[arg-type]


# --- affinity and order --------------------------------------------------------------------------


async def test_each_session_runs_on_its_own_slot_one_request_at_a_time_in_the_order_sent(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=3, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        step = (
            "import os, time\n"
            "open('log', 'a').write('start-{n} ')\n"
            "time.sleep(0.02)\n"
            "open('log', 'a').write('end-{n} ')\n"
            "print(os.getcwd())"
        )
        calls = [dispatcher.execute(session, block(step.format(n=n))) for n in range(5) for session in ("a", "b", "c")]
        results = await asyncio.gather(*calls)
        assert all(r.exit_code == 0 for r in results), results
        dirs = {session: {r.output.strip() for r in results[i::3]} for i, session in enumerate("abc")}
        assert all(len(d) == 1 for d in dirs.values())  # each session stayed on one slot
        assert len(set().union(*dirs.values())) == 3  # and each had its own
        for session in "abc":
            log = await dispatcher.execute(session, block("print(open('log').read())"))
            assert log.output.split() == [f"{what}-{n}" for n in range(5) for what in ("start", "end")]
        stats = dispatcher.stats()
        assert (stats.requests, stats.completed, stats.errors, stats.queue_depth, stats.running) == (18, 18, 0, 0, 0)
        assert stats.batch_size_max is not None
        assert stats.batch_size_max <= 3  # a batch holds at most one request per session


async def test_release_session_resets_its_slot_for_the_next_session(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        sent = asyncio.ensure_future(dispatcher.execute("a", block("open('mine', 'w').write('a')")))
        await until(lambda: dispatcher.stats().requests == 1, "a's request is sent")
        await dispatcher.release_session("a")  # waits for a's request, then resets the slot
        assert sent.done()
        assert (await sent).exit_code == 0
        listing = await dispatcher.execute("b", block("import os; print(sorted(os.listdir('.')))"))
        assert "mine" not in listing.output
        await dispatcher.release_session("nobody")  # a session without a slot is ignored


# --- fairness ------------------------------------------------------------------------------------


@pytest.mark.timeout(300)  # a loaded CI machine once needed more than the default 120 s
async def test_a_session_with_1000_requests_queued_delays_anothers_by_at_most_one_batch(tmp_path: Path) -> None:
    batches: list[DispatchedBatch] = []
    async with ExecutorPool("local", size=2, base_dir=tmp_path, options={"timeout": 20}) as pool:
        dispatcher = ExecutionDispatcher(pool, max_batch_size=5, batch_window_ms=5, on_batch=batches.append)
        flood = [asyncio.ensure_future(dispatcher.execute("greedy", block("print(1)"))) for _ in range(1000)]
        await until(lambda: len(batches) >= 2, "the greedy session is served")
        assert dispatcher.stats().queue_depth >= 990
        dispatched_before = len(batches)
        single = await dispatcher.execute("modest", block("print('mine')"))
        assert single.output == "mine\n"
        modest_batch = next(b for b in batches if "modest" in b.session_ids)
        assert modest_batch.number <= dispatched_before + 1
        assert all(b.session_ids.count("greedy") <= 1 for b in batches)
        await dispatcher.close()
        outcomes = await asyncio.gather(*flood, return_exceptions=True)
        done = [o for o in outcomes if isinstance(o, CodeResult)]
        closed = [o for o in outcomes if isinstance(o, ExecutorError) and "closed" in str(o)]
        assert len(done) + len(closed) == 1000  # every request got exactly one outcome
        assert all(r.output == "1\n" for r in done)


async def test_sessions_take_turns_round_robin_across_batches(tmp_path: Path) -> None:
    batches: list[DispatchedBatch] = []
    async with ExecutorPool("local", size=6, base_dir=tmp_path) as pool:
        async with ExecutionDispatcher(pool, max_batch_size=4, batch_window_ms=50, on_batch=batches.append) as d:
            release = tmp_path / "go"
            wait = f"import os, time\nwhile not os.path.exists({str(release)!r}): time.sleep(0.01)"
            holders = [asyncio.ensure_future(d.execute(f"s{n}", block(wait))) for n in range(6)]
            await until(lambda: len(batches) >= 2, "two batches out")
            release.write_text("")
            await asyncio.gather(*holders)
        first, second = batches[0].session_ids, batches[1].session_ids
        assert first == ("s0", "s1", "s2", "s3")  # the oldest turns first, at most max_batch_size
        assert second == ("s4", "s5")  # those left out go first in the next batch


# --- timeout grouping and deadlines --------------------------------------------------------------


async def test_a_short_request_does_not_wait_for_a_long_one_in_the_same_batch(tmp_path: Path) -> None:
    batches: list[DispatchedBatch] = []
    marker = tmp_path / "long-started"
    async with (
        ExecutorPool("local", size=2, base_dir=tmp_path / "pool", options={"timeout": 60}) as pool,
        ExecutionDispatcher(pool, batch_window_ms=50, on_batch=batches.append) as dispatcher,
    ):
        long = asyncio.ensure_future(dispatcher.execute("long", block(hang(marker)), timeout=20))
        short = asyncio.ensure_future(dispatcher.execute("short", block("print('quick')"), timeout=1))
        assert (await short).output == "quick\n"
        assert not long.done()  # still running: the short one came back first
        assert [b.groups for b in batches] == [((1.0, 1), (20.0, 1))]  # one batch, two groups
        await until(marker.exists, "the long block started")
        long.cancel()
        await dispatcher.release_session("long")
        assert is_gone(int(marker.read_text()))  # the cancelled request's process was killed


class BatchingPool(ExecutorPool):
    """A pool that runs a whole timeout group in one call, recording each call (as a container runner would)."""

    calls: list[tuple[float, list[Hashable]]]

    async def execute_batch(
        self, items: Sequence[tuple[Hashable, Sequence[CodeBlock]]], timeout: float
    ) -> list[CodeResult | BaseException]:
        self.calls.append((timeout, [key for key, _ in items]))

        async def one(key: Hashable, blocks: Sequence[CodeBlock]) -> CodeResult:
            async with self.acquire(key) as executor:
                return await executor.a_execute_code_blocks(blocks)

        return list(await asyncio.gather(*(one(k, b) for k, b in items), return_exceptions=True))


async def test_a_native_batch_gets_one_call_per_timeout_group_and_short_groups_return_first(tmp_path: Path) -> None:
    marker = tmp_path / "long-started"
    pool = BatchingPool("local", size=3, base_dir=tmp_path / "pool")
    pool.calls = []
    async with pool, ExecutionDispatcher(pool, batch_window_ms=50) as dispatcher:
        long = asyncio.ensure_future(dispatcher.execute("long", block(hang(marker)), timeout=20))
        shorts = [asyncio.ensure_future(dispatcher.execute(f"s{n}", block(f"print({n})"), timeout=1)) for n in (1, 2)]
        assert [(await s).output for s in shorts] == ["1\n", "2\n"]
        assert not long.done()
        assert pool.calls == [(1.0, ["s1", "s2"]), (20.0, ["long"])]
        await until(marker.exists, "the long block started")
    with pytest.raises(ExecutorError, match="closed while this request ran"):
        await long
    assert is_gone(int(marker.read_text()))  # closing stopped the native batch, and its process


async def test_a_request_past_its_deadline_gets_exit_code_124_and_its_session_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    async with (
        ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 60}) as pool,
        ExecutionDispatcher(pool, timeout_range=(0.2, 0.5)) as dispatcher,
    ):
        result = await dispatcher.execute("s", block(hang(marker)), timeout=3600)  # clamped to 0.5 s
        assert result.exit_code == 124
        assert "Timeout after 0.5 s" in result.output
        assert "at most 0.5 s" in result.output
        assert is_gone(int(marker.read_text()))
        again = await dispatcher.execute("s", block("print('next')"))
        assert again.output == "next\n"
        stats = dispatcher.stats()
        assert (stats.timeouts, stats.completed, stats.errors) == (1, 2, 0)


# --- backpressure --------------------------------------------------------------------------------


async def test_a_full_queue_raises_a_clear_error_or_waits_for_room(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    async with ExecutorPool("local", size=3, base_dir=tmp_path / "pool") as pool:
        async with ExecutionDispatcher(pool, max_queue=3, when_full="error") as dispatcher:
            running = asyncio.ensure_future(dispatcher.execute("busy", block(hang(marker))))
            await until(marker.exists, "the first request runs")
            queued = [asyncio.ensure_future(dispatcher.execute("busy", block("print(1)"))) for _ in range(3)]
            await until(lambda: dispatcher.stats().queue_depth == 3, "three requests wait")
            with pytest.raises(DispatcherFullError) as caught:
                await dispatcher.execute("other", block("print(2)"))
            message = str(caught.value)
            assert "queue is full: 3 requests are waiting" in message
            assert "most are from 'busy' (3)" in message
            assert "max_queue=" in message
            assert "when_full='wait'" in message
            assert (caught.value.max_queue, caught.value.busiest) == (3, (("'busy'", 3),))
            assert isinstance(caught.value, ExecutorError)
            assert dispatcher.stats().rejected == 1
            for task in (running, *queued):
                task.cancel()
        async with ExecutionDispatcher(pool, max_queue=1, when_full="wait", queue_timeout=0.3) as dispatcher:
            marker.unlink()
            running = asyncio.ensure_future(dispatcher.execute("busy-too", block(hang(marker))))
            await until(marker.exists, "the first request runs")
            queued_one = asyncio.ensure_future(dispatcher.execute("busy-too", block("print(1)")))
            await until(lambda: dispatcher.stats().queue_depth == 1, "one request waits")
            with pytest.raises(DispatcherFullError, match=r"no room came within 0\.3 s"):
                await dispatcher.execute("other", block("print(2)"))
            waiter = asyncio.ensure_future(dispatcher.execute("other", block("print('got in')")))
            await asyncio.sleep(0)
            queued_one.cancel()  # its place frees up: the waiter gets in
            assert (await waiter).output == "got in\n"
            running.cancel()


# --- cancellation, dead members, close -----------------------------------------------------------


async def test_cancelling_callers_mid_batch_leaves_every_other_request_exactly_one_result(tmp_path: Path) -> None:
    marker = tmp_path / "victim-started"
    async with (
        ExecutorPool("local", size=4, base_dir=tmp_path / "pool") as pool,
        ExecutionDispatcher(pool, batch_window_ms=50) as dispatcher,
    ):
        gate = tmp_path / "gate"
        wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)\nprint('{{}}')"
        victim = asyncio.ensure_future(dispatcher.execute("victim", block(hang(marker))))
        others = {f"s{n}": asyncio.ensure_future(dispatcher.execute(f"s{n}", block(wait.format(n)))) for n in range(3)}
        queued_victim = asyncio.ensure_future(dispatcher.execute("s0", block("print('never')")))
        after = asyncio.ensure_future(dispatcher.execute("s0", block("print('after')")))
        await until(marker.exists, "the batch runs")
        await until(lambda: dispatcher.stats().queue_depth == 2, "s0's next two wait")
        victim.cancel()
        queued_victim.cancel()
        gate.write_text("")
        results = {key: (await task).output for key, task in others.items()}
        assert results == {f"s{n}": f"{n}\n" for n in range(3)}
        assert (await after).output == "after\n"  # s0's queue went on without the dropped request
        assert victim.cancelled()
        assert queued_victim.cancelled()
        await dispatcher.release_session("victim")
        assert is_gone(int(marker.read_text()))
        stats = dispatcher.stats()
        assert (stats.cancelled, stats.completed, stats.errors, stats.running, stats.queue_depth) == (2, 4, 0, 0, 0)
        again = await dispatcher.execute("victim", block("print('fine')"))
        assert again.output == "fine\n"


@pytest.mark.timeout(60)
async def test_a_caller_cancelled_as_its_batch_goes_out_does_not_stall_its_session(tmp_path: Path) -> None:
    victims: list[asyncio.Future[CodeResult]] = []

    def cancel_the_victim(batch: DispatchedBatch) -> None:
        if batch.number == 1:
            victims[0].cancel()  # dispatched, but its task has not started yet

    async with (
        ExecutorPool("local", size=2, base_dir=tmp_path) as pool,
        ExecutionDispatcher(pool, on_batch=cancel_the_victim) as dispatcher,
    ):
        victims.append(asyncio.ensure_future(dispatcher.execute("v", block("print('never')"))))
        other = asyncio.ensure_future(dispatcher.execute("o", block("print('other')")))
        assert (await other).output == "other\n"
        with pytest.raises(asyncio.CancelledError):
            await victims[0]
        assert (await dispatcher.execute("v", block("print('next')"))).output == "next\n"
        assert dispatcher.stats().running == 0


async def test_a_member_that_fails_mid_batch_gives_only_its_request_a_clear_error(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=2, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        await asyncio.gather(*(dispatcher.execute(k, block("open('state', 'w').write('x')")) for k in ("a", "b")))
        async with pool.acquire("a") as lent:
            member = lent.executor
            assert isinstance(member, LocalCommandLineCodeExecutor)
            member.close()  # a's member dies: it raises ExecutorError from now on
        broken, fine = await asyncio.gather(
            dispatcher.execute("a", block("print(1)")),
            dispatcher.execute("b", block("print(open('state').read())")),
            return_exceptions=True,
        )
        assert isinstance(broken, ExecutorError)
        assert "all its state was lost" in str(broken)
        assert isinstance(fine, CodeResult)
        assert fine.output == "x\n"
        fresh = await dispatcher.execute("a", block("import os; print(os.path.exists('state'))"))
        assert fresh.output.startswith("Note: the executor that held this conversation's state failed")
        assert fresh.output.endswith("False\n")
        assert dispatcher.stats().errors == 1


@pytest.mark.kernel
@pytest.mark.timeout(180)
async def test_a_kernel_killed_mid_batch_gives_its_request_a_result_that_says_state_was_lost(tmp_path: Path) -> None:
    require_kernel()
    async with ExecutorPool("ipython-embedded", size=2, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as d:
        await asyncio.gather(d.execute("k1", block("x = 1")), d.execute("k2", block("y = 2")))
        killed, other = await asyncio.gather(
            d.execute("k1", block("import os; os._exit(1)")), d.execute("k2", block("print(y)"))
        )
        assert killed.exit_code != 0
        assert "All state was lost" in killed.output
        assert other.output.strip() == "2"
        after = await d.execute("k1", block("print('x' in globals())"))
        assert after.output.strip() == "False"
        assert pool.lost("k1")
        assert not pool.lost("k2")


@pytest.mark.kernel
@pytest.mark.timeout(180)
async def test_a_kernel_request_past_its_deadline_is_interrupted_and_keeps_its_variables(tmp_path: Path) -> None:
    require_kernel()
    async with (
        ExecutorPool("ipython-embedded", size=1, base_dir=tmp_path, options={"timeout": 120}) as pool,
        ExecutionDispatcher(pool) as dispatcher,
    ):
        await dispatcher.execute("k", block("kept = 'yes'"))
        slow = await dispatcher.execute("k", block("import time\nfor _ in range(600): time.sleep(0.1)"), timeout=1)
        assert slow.exit_code == 124
        assert "Timeout after 1 s" in slow.output
        after = await dispatcher.execute("k", block("print(kept)"))
        assert after.output.strip() == "yes"
        assert not pool.lost("k")


async def test_close_gives_every_waiting_and_running_request_an_error(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool") as pool:
        dispatcher = ExecutionDispatcher(pool)
        running = asyncio.ensure_future(dispatcher.execute("s", block(hang(marker))))
        waiting = asyncio.ensure_future(dispatcher.execute("s", block("print(1)")))
        await until(marker.exists, "the first request runs")
        await dispatcher.close()
        with pytest.raises(ExecutorError, match="closed while this request ran"):
            await running
        with pytest.raises(ExecutorError, match="ExecutionDispatcher was closed; create a new one"):
            await waiting
        assert is_gone(int(marker.read_text()))
        await dispatcher.close()  # idempotent
        with pytest.raises(ExecutorError, match="closed"):
            await dispatcher.execute("s", block("print(1)"))


async def test_an_unstarted_pool_gives_each_request_the_pools_error(tmp_path: Path) -> None:
    pool = ExecutorPool("local", size=1, base_dir=tmp_path, acquire_timeout=0.2)
    async with ExecutionDispatcher(pool) as dispatcher:
        with pytest.raises(ExecutorError, match="not started"):
            await dispatcher.execute("s", block("print(1)"))
    async with pool, ExecutionDispatcher(pool) as dispatcher:
        async with pool.acquire("holder"):
            pass
        with pytest.raises(PoolExhaustedError):
            await dispatcher.execute("s", block("print(1)"))
        assert dispatcher.stats().errors == 1


@pytest.mark.timeout(60)
async def test_live_output_reaches_the_callers_listener_while_the_block_runs(tmp_path: Path) -> None:
    from parley.coding.live_output import listen

    block = CodeBlock("import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second', flush=True)", "python")
    async with ExecutorPool("local", size=2, base_dir=tmp_path) as pool, ExecutionDispatcher(pool) as dispatcher:
        pieces: dict[str, list[str]] = {"a": [], "b": []}
        first = asyncio.Event()

        def heard(session: str) -> Callable[[str], None]:
            def on_text(text: str) -> None:
                pieces[session].append(text)
                if session == "a" and "first" in "".join(pieces["a"]):
                    first.set()

            return on_text

        async def run(session: str, blocks: list[CodeBlock]) -> CodeResult:
            with listen(heard(session)):
                return await dispatcher.execute(session, blocks)

        a = asyncio.ensure_future(run("a", [block]))
        b = asyncio.ensure_future(run("b", [CodeBlock("print('only b')", "python")]))
        await asyncio.wait_for(first.wait(), 30)
        assert not a.done()  # the first line came while the block still slept
        result = await a
        await b
    assert result.exit_code == 0
    assert "".join(pieces["a"]) == "first\nsecond\n"
    assert "".join(pieces["b"]) == "only b\n"  # each caller hears its own request only
