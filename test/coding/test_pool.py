"""ExecutorPool on real executors: local processes and real ipykernel kernels.

Affinity, reset, backpressure, health and the lifecycle, observed through what code running in
the members sees (variables, files, pids) and through the pool's public API. No timing is
asserted: order is forced with events and the pool's own counts, and pytest-timeout bounds waits.
"""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from parley._sync import run_sync
from parley.coding import CodeBlock, ExecutorPool, LocalCommandLineCodeExecutor, PooledExecutor
from parley.exceptions import ConfigError, ExecutorError, PoolExhaustedError

from ._kernel_env import py, require_kernel
from ._procs import is_gone


async def run(executor: PooledExecutor, code: str) -> str:
    """Run one python block and return its output, failing the test on a non-zero exit code."""
    result = await executor.a_execute_code_blocks([py(code)])
    assert result.exit_code == 0, result.output
    return result.output.strip()


LS = "import os; print(sorted(f for f in os.listdir('.') if not f.startswith('tmp_code_')))"
"""A block printing the files in its directory but the local executor's own scripts."""


async def wait_until_waiting(pool: ExecutorPool, count: int) -> None:
    """Yield to the loop until ``count`` callers wait for a member (pytest-timeout bounds it)."""
    while pool.stats().waiting < count:  # noqa: ASYNC110 - the pool's count, not an event; bounded by the test timeout
        await asyncio.sleep(0.005)


# --- construction and config -----------------------------------------------------------------------


def test_constructing_does_no_io_and_an_unstarted_pool_says_so(tmp_path: Path) -> None:
    base = tmp_path / "pool"
    pool = ExecutorPool("local", size=2, base_dir=base)
    assert not base.exists()
    assert pool.stats().idle == 0

    async def use() -> None:
        async with pool.acquire():
            pass

    with pytest.raises(ExecutorError, match="not started"):
        asyncio.run(use())


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("locl",), {}, "Did you mean 'local'"),
        ((LocalCommandLineCodeExecutor(),), {}, "not one executor"),
        ((LocalCommandLineCodeExecutor,), {"options": {"timeout": 5}}, "a callable takes none"),
        (("local",), {"options": {"work_dir": "x"}}, "base_dir"),
        (("local",), {"size": 0}, "size must be a positive int"),
        (("local",), {"acquire_timeout": -1}, "acquire_timeout"),
        ((42,), {}, "zero-argument callable"),
    ],
)
def test_bad_arguments_are_config_errors(args: tuple[object, ...], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ExecutorPool(*args, **kwargs)  # type: ignore[arg-type]


def test_from_config_takes_code_execution_config_keys_and_rejects_unknown_ones() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'size'"):
        ExecutorPool.from_config({"executor": "local", "sise": 4})
    with pytest.raises(ConfigError, match="needs 'executor'"):
        ExecutorPool.from_config({"size": 4})
    with pytest.raises(ConfigError, match="timeout must be"):  # the executor's own check, at build time
        asyncio.run(_start_and_close(ExecutorPool.from_config({"executor": "local", "local": {"timeout": -1}})))


async def _start_and_close(pool: ExecutorPool) -> None:
    async with pool:
        pass


async def test_from_config_builds_members_with_their_options(tmp_path: Path) -> None:
    config = {"executor": "local", "local": {"timeout": 7}, "size": 2, "base_dir": tmp_path, "last_n_messages": 2}
    async with ExecutorPool.from_config(config) as pool:
        assert pool.size == 2
        async with pool.acquire() as executor:
            assert isinstance(executor.executor, LocalCommandLineCodeExecutor)
            assert executor.executor.timeout == 7
            assert executor.work_dir is not None
            assert executor.work_dir.parent == tmp_path
            assert await run(executor, "import os; print(os.getcwd())") == str(executor.work_dir)


# --- affinity and reset --------------------------------------------------------------------------


async def test_a_key_keeps_its_member_and_files_until_release_then_the_next_key_finds_it_empty(
    tmp_path: Path,
) -> None:
    async with ExecutorPool("local", size=2, base_dir=tmp_path) as pool:
        async with pool.acquire("a") as a:
            await run(a, "open('notes.txt', 'w').write('from a')")
            a_dir = a.work_dir
        async with pool.acquire("b") as b:  # a still holds its member: b gets the other
            b_dir = b.work_dir
            assert b_dir != a_dir
        async with pool.acquire("a") as a_again:
            assert a_again.work_dir == a_dir
            assert await run(a_again, "print(open('notes.txt').read())") == "from a"
        await pool.release("a")
        await pool.release("b")
        async with pool.acquire("c") as c, pool.acquire("d") as d:
            assert {c.work_dir, d.work_dir} == {a_dir, b_dir}  # the same members, reused
            for executor in (c, d):
                assert await run(executor, LS) == "[]"
        stats = pool.stats()
        assert (stats.resets, stats.leased) == (2, 2)  # c and d keep their members after the async with


async def test_release_inside_an_open_acquire_gives_the_member_back_when_it_ends(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire("a") as a:
            await run(a, "open('f', 'w').write('x')")
            await pool.release("a")
            assert await run(a, "print(open('f').read())") == "x"  # still a's until the async with ends
        async with pool.acquire("b") as b:
            assert await run(b, LS) == "[]"


async def test_release_without_reset_keeps_what_the_key_left(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire("a") as a:
            await run(a, "open('kept', 'w').write('x')")
        await pool.release("a", reset=False)
        async with pool.acquire("b") as b:
            assert await run(b, LS) == "['kept']"
        assert pool.stats().resets == 0


SEEN = "import os; print(repr(([k for k in globals() if k in ('mine', 'count')], os.listdir('.'))))"
MINE = "import os; print(repr((mine, count, sorted(os.listdir('.')), os.getpid())))"


@pytest.mark.kernel
@pytest.mark.timeout(240)
async def test_32_keys_on_4_kernels_keep_their_own_variables_and_see_nobody_elses(tmp_path: Path) -> None:
    require_kernel()
    async with ExecutorPool("ipython-embedded", size=4, base_dir=tmp_path, options={"timeout": 60}) as pool:

        async def conversation(n: int) -> list[int]:
            key = f"chat-{n}"
            pids = []
            for turn in range(3):
                async with pool.acquire(key) as executor:
                    if turn == 0:  # whoever held this member before was reset: nothing of theirs is left
                        assert await run(executor, SEEN) == "([], [])"
                        await run(executor, f"mine = {key!r}; count = 0; open('{key}.txt', 'w').write('x')")
                    await run(executor, "count += 1")
                    who, count, files, pid = ast.literal_eval(await run(executor, MINE))
                    assert (who, count, files) == (key, turn + 1, [f"{key}.txt"])
                    pids.append(pid)
                await asyncio.sleep(0)  # let other conversations in between turns
            await pool.release(key)
            return pids

        results = await asyncio.gather(*(conversation(n) for n in range(32)))
        assert all(len(set(pids)) == 1 for pids in results)  # each key stayed on one kernel
        assert len({pids[0] for pids in results}) == 4  # and all 32 shared the 4 kernels
        stats = pool.stats()
        assert (stats.acquires, stats.resets, stats.replacements, stats.failures) == (96, 32, 0, 0)
        assert (stats.idle, stats.leased, stats.waiting) == (4, 0, 0)
        async with pool.acquire("newcomer") as executor:
            assert await run(executor, "print('mine' in globals(), 'count' in globals())") == "False False"


# --- backpressure --------------------------------------------------------------------------------


async def test_waiters_are_served_first_come_first_served(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        served: list[int] = []

        async def waiter(n: int) -> None:
            async with pool.acquire(timeout=60):
                served.append(n)

        async with pool.acquire("holder"):
            pass
        tasks = []
        for n in range(5):
            tasks.append(asyncio.create_task(waiter(n)))
            await wait_until_waiting(pool, n + 1)  # each is queued before the next arrives
        await pool.release("holder")
        await asyncio.gather(*tasks)
        assert served == [0, 1, 2, 3, 4]


async def test_a_cancelled_waiter_gives_up_its_place(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire("holder"):
            pass
        first = asyncio.create_task(pool.acquire().__aenter__())
        await wait_until_waiting(pool, 1)
        second_got = asyncio.Event()

        async def second() -> None:
            async with pool.acquire():
                second_got.set()

        task = asyncio.create_task(second())
        await wait_until_waiting(pool, 2)
        first.cancel()
        await pool.release("holder")
        await task
        assert second_got.is_set()
        assert first.cancelled()
        assert pool.stats().idle == 1  # the member came back; none was lost to the cancelled waiter


async def test_exhausted_pool_names_its_size_and_who_holds_it(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=2, base_dir=tmp_path, acquire_timeout=0.2) as pool:
        async with pool.acquire("alice"), pool.acquire(("bob", 7)):
            pass
        with pytest.raises(PoolExhaustedError) as caught:
            async with pool.acquire("late"):
                pass
        error = caught.value
        message = str(error)
        assert "All 2 members are taken" in message
        assert "'alice' for " in message
        assert "('bob', 7) for " in message
        assert "pool.release(key)" in message
        assert "size=" in message
        assert "acquire_timeout=" in message
        assert (error.size, sorted(key for key, _ in error.holders)) == (2, ["'alice'", "('bob', 7)"])
        assert all(seconds >= 0 for _, seconds in error.holders)
        assert isinstance(error, ExecutorError)
        assert not pool.lost("late")
        assert pool.stats().waiting == 0


# --- health --------------------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.timeout(120)
async def test_a_kernel_killed_mid_lease_is_replaced_and_the_key_is_told(tmp_path: Path) -> None:
    require_kernel()
    async with ExecutorPool("ipython-embedded", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire("k") as executor:
            await run(executor, "x = 41")
            old_pid = int(await run(executor, "import os; print(os.getpid())"))
            died = await executor.a_execute_code_blocks([py("import os; os._exit(1)")])
            assert died.exit_code != 0
            assert "All state was lost" in died.output
            assert executor.state_lost
            assert pool.lost("k")
            assert is_gone(old_pid)
            after = await executor.a_execute_code_blocks([py("print(x)")])
            assert "NameError" in after.output
        stats = pool.stats()
        assert (stats.failures, stats.replacements) == (1, 1)
        await pool.release("k")
        assert not pool.lost("k")
        async with pool.acquire("next") as executor:
            assert await run(executor, "print('x' in globals())") == "False"


async def test_a_member_that_fails_mid_lease_is_replaced_and_the_key_runs_on_a_fresh_one(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire("k") as executor:
            await run(executor, "open('state', 'w').write('x')")
            broken_dir = executor.work_dir
            member = executor.executor
            assert isinstance(member, LocalCommandLineCodeExecutor)
            member.close()  # the member fails: it raises ExecutorError from now on
            with pytest.raises(ExecutorError, match="all its state was lost") as caught:
                await executor.a_execute_code_blocks([py("print(1)")])
            assert "closed" in str(caught.value.__cause__)
            assert executor.state_lost
            assert pool.lost("k")
            result = await executor.a_execute_code_blocks([py(LS)])
            assert result.output.startswith("Note: the executor that held this conversation's state failed")
            assert result.output.endswith("[]\n")
            assert executor.work_dir != broken_dir
            assert not broken_dir.exists()  # type: ignore[union-attr]
            again = await executor.a_execute_code_blocks([py("print(2)")])
            assert again.output == "2\n"  # the note is given once
        stats = pool.stats()
        assert (stats.failures, stats.replacements, stats.leased) == (1, 1, 1)


async def test_a_member_that_fails_its_reset_is_replaced_not_handed_out(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        async with pool.acquire() as executor:
            first = executor.executor
            assert isinstance(first, LocalCommandLineCodeExecutor)
            first.close()  # its health check after the reset will fail
        async with pool.acquire() as executor:
            assert executor.executor is not first
            assert await run(executor, "print(3)") == "3"
        stats = pool.stats()
        assert (stats.resets, stats.failures, stats.replacements) == (2, 1, 1)


# --- stats ---------------------------------------------------------------------------------------


async def test_stats_add_up(tmp_path: Path) -> None:
    async with ExecutorPool("local", size=3, base_dir=tmp_path) as pool:
        assert pool.stats() == pool.stats()  # a frozen snapshot
        assert pool.stats().acquire_p50_ms is None
        async with pool.acquire("a"), pool.acquire("b"):
            pass
        for _ in range(10):
            async with pool.acquire():
                pass
        stats = pool.stats()
        assert (stats.size, stats.idle, stats.leased, stats.busy, stats.waiting) == (3, 1, 2, 0, 0)
        assert (stats.acquires, stats.resets, stats.failures, stats.replacements) == (12, 10, 0, 0)
        assert stats.acquire_p50_ms is not None
        assert stats.acquire_p95_ms is not None
        assert 0 <= stats.acquire_p50_ms <= stats.acquire_p95_ms <= (stats.acquire_p99_ms or 0)
        await pool.release("a")
        assert (pool.stats().idle, pool.stats().leased, pool.stats().resets) == (2, 1, 11)
        with pytest.raises(AttributeError):
            stats.idle = 5  # type: ignore[misc]


# --- lifecycle and threads -----------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.timeout(120)
async def test_close_ends_every_kernel_and_fails_waiters(tmp_path: Path) -> None:
    require_kernel()
    pool = ExecutorPool("ipython-embedded", size=2)
    await pool.a_start()
    base = pool.base_dir
    assert base is not None
    assert base.is_dir()
    pids = []
    async with pool.acquire("a") as a, pool.acquire("b") as b:
        for executor in (a, b):
            pids.append(int(await run(executor, "import os; print(os.getpid())")))
    waiter = asyncio.create_task(pool.acquire("c").__aenter__())
    await wait_until_waiting(pool, 1)
    await pool.a_close()
    assert all(is_gone(pid) for pid in pids)
    with pytest.raises(ExecutorError, match="closed"):
        await waiter
    assert not base.exists()
    await pool.a_close()  # idempotent
    with pytest.raises(ExecutorError, match="closed"):
        async with pool.acquire():
            pass
    with pytest.raises(ExecutorError, match="closed"):
        await pool.a_start()


def test_sync_users_on_different_threads_share_a_pool(tmp_path: Path) -> None:
    with ExecutorPool("local", size=1, base_dir=tmp_path) as pool:
        holding, handed = threading.Event(), threading.Event()
        order: list[str] = []

        async def hold() -> None:
            async with pool.acquire("a") as executor:
                await run(executor, "open('a', 'w').write('x')")
            order.append("a holds")
            holding.set()
            await asyncio.to_thread(handed.wait, 60)
            await pool.release("a")

        async def wait_for_it() -> str:
            async with pool.acquire("b", timeout=60) as executor:
                order.append("b got it")
                return await run(executor, LS)

        first = threading.Thread(target=run_sync, args=(hold(),))
        first.start()
        assert holding.wait(60)
        second_result: list[str] = []
        second = threading.Thread(target=lambda: second_result.append(run_sync(wait_for_it())))
        second.start()
        while pool.stats().waiting < 1:  # b waits on its own thread's loop
            threading.Event().wait(0.005)
        handed.set()
        first.join(60)
        second.join(60)
        assert order == ["a holds", "b got it"]
        assert second_result == ["[]"]


@pytest.mark.kernel
@pytest.mark.timeout(120)
def test_no_kernel_and_no_directory_is_left_at_interpreter_exit() -> None:
    require_kernel()
    script = textwrap.dedent(
        """
        import asyncio
        from parley.coding import CodeBlock, ExecutorPool

        async def main():
            pool = ExecutorPool("ipython-embedded", size=2)
            await pool.a_start()
            async with pool.acquire("a") as a:
                result = await a.a_execute_code_blocks([CodeBlock("import os; print(os.getpid())", "python")])
            print(result.output.strip(), pool.base_dir, flush=True)
            return pool  # never closed

        kept = asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    pid, base = done.stdout.split()
    assert is_gone(int(pid))
    assert not Path(base).exists()


def test_blocks_run_through_the_sync_form_too(tmp_path: Path) -> None:
    with ExecutorPool(lambda: LocalCommandLineCodeExecutor(work_dir=tmp_path / "own"), size=1) as pool:

        async def use() -> PooledExecutor:
            async with pool.acquire("k") as executor:
                return executor

        executor = run_sync(use())
        result = executor.execute_code_blocks([CodeBlock("print('sync')", "python")])
        assert result.output == "sync\n"
        run_sync(pool.release("k"))
        assert (tmp_path / "own").is_dir()  # a directory the pool did not make is never emptied or removed


@pytest.mark.timeout(60)
async def test_start_is_awaited_in_async_code(tmp_path: Path) -> None:
    pool = ExecutorPool("local", size=2, base_dir=tmp_path)
    await pool.start()
    try:
        assert pool.stats().idle == 2
    finally:
        await pool.a_close()


@pytest.mark.timeout(60)
def test_start_blocks_in_sync_code(tmp_path: Path) -> None:
    pool = ExecutorPool("local", size=2, base_dir=tmp_path)
    pool.start()  # no loop here: warmed before it returns
    try:
        assert pool.stats().idle == 2
    finally:
        pool.close()
