"""Attacks on the warm templates' reused reapers (`parley.coding._warm_reapers`), on real processes.

A local template's reapers serve one run after another, for every executor whose code runs with
the same environment, and each forks its next run's block ahead. A block runs as the same user
as all of them, so it may kill them, change their limits, or leave a process that outruns a kill.
None of that may reach a later run, of the same executor or of another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, LocalCommandLineCodeExecutor
from parley.coding._process import _escalate, _exit_status
from parley.coding._reaper_server import Launched, launch

from ._procs import PROC_TREE

pytestmark = pytest.mark.timeout(90)

# Three processes, each in a session of its own, that fork and exit over and over, so their pids
# change faster than a kill can list them. They hold the write end of a FIFO: the test reads end of
# file once every incarnation has ended. Each writes its group to GROUPS (the block waits for all
# three) and ends by itself after LIMIT seconds, so a failing test leaves nothing running for long.
_HOPPER = """\
import os, sys, time
fifo, group_file, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
for _ in range(_HOPPERS - 1):
    if os.fork() == 0:
        break
os.setsid()
held = os.open(fifo, os.O_WRONLY)
groups = os.open(group_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(groups, f"{os.getpid()}\\n".encode())
os.close(groups)
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        if os.fork():
            os._exit(0)
    except OSError:
        pass
"""
_HOPPERS = 3
_HOPPER_LIMIT_S = 40.0
_GONE_WITHIN_S = 10.0
"""A generous bound on the time the servers take to end the hopper once the run is over."""


@pytest.fixture
def hopper(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The hopper's script and FIFO (opened for reading here); its process group is killed after the test."""
    script, fifo, group = tmp_path / "hopper.py", tmp_path / "alive.fifo", tmp_path / "hopper.pgid"
    script.write_text(_HOPPER.replace("_HOPPERS", str(_HOPPERS)))
    os.mkfifo(fifo)
    yield script, fifo
    for pgid in group.read_text().split() if group.exists() else ():
        with contextlib.suppress(OSError):
            os.killpg(int(pgid), signal.SIGKILL)


def _start_hopper(script: Path, fifo: Path) -> str:
    """Python for a block: start the hoppers and wait until each holds the FIFO."""
    group = fifo.parent / "hopper.pgid"
    return textwrap.dedent(f"""\
        import os, signal, subprocess, sys, time
        subprocess.Popen([sys.executable, {str(script)!r}, {str(fifo)!r}, {str(group)!r}, "{_HOPPER_LIMIT_S}"])
        while not os.path.exists({str(group)!r}) or len(open({str(group)!r}).read().split()) < {_HOPPERS}:
            time.sleep(0.01)
        """)


def _every_hop_ended(reader: int) -> bool:
    """Wait (at most `_GONE_WITHIN_S`) for end of file on the FIFO: no incarnation of the hopper holds it."""
    deadline = time.monotonic() + _GONE_WITHIN_S
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([reader], [], [], left)
        if ready and not os.read(reader, 64):
            return True
    return False


@pytest.mark.parametrize("kill_the_reaper", [True, False], ids=["reaper-killed", "reaper-alive"])
def test_a_process_that_hops_pids_does_not_outlive_its_run(
    tmp_path: Path, hopper: tuple[Path, Path], kill_the_reaper: bool
) -> None:
    """A forking-and-exiting process is ended with its run, even when the block killed its reaper.

    A killed reaper's orphans go to the template, which ends them: in one pass it listed only
    pids the hopper had already left, and its next incarnation lived on below the template.
    """
    script, fifo = hopper
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        code = _start_hopper(script, fifo)
        if kill_the_reaper:
            code += "os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)\n"
        with LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", timeout=30) as executor:
            result = executor.execute_code_blocks([CodeBlock(code, "python")])
            assert result.exit_code == (137 if kill_the_reaper else 0), result.output
            assert _every_hop_ended(reader)
            after = executor.execute_code_blocks([CodeBlock("print(2)", "python")])
            assert (after.exit_code, after.output) == (0, "2\n")
    finally:
        os.close(reader)


async def _result(run: Launched) -> tuple[int | None, bytes]:
    """The exit code of ``run`` (None: its reaper was killed) and the rest of its output."""
    output = await run.output.read()
    return await _exit_status(run.status), output


def test_a_late_signal_for_a_run_never_reaches_the_next_run_of_its_reaper(tmp_path: Path) -> None:
    """A timeout that fires just as the run ends signals the run's group after the run has ended.

    The reaper is then still the host's for that run: it must not be serving another run (of
    another executor, as a rule), which the interrupt and the kill that follow would end.
    """
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("print('first')\n")
    second.write_text("import time\nprint('second', flush=True)\ntime.sleep(2)\nprint('second ended')\n")
    env = dict(os.environ)

    async def scenario() -> tuple[int, int, tuple[int | None, bytes]]:
        ended = await launch([sys.executable, str(first)], cwd=tmp_path, env=env, keep=False, fork=True)
        over: asyncio.Future[int | None] = asyncio.ensure_future(_exit_status(ended.status))
        assert await ended.output.read() == b"first\n"
        assert await over == 0  # the run is over, and its host still holds it: its timeout fires now
        following = await launch([sys.executable, str(second)], cwd=tmp_path, env=env, keep=False, fork=True)
        try:
            assert await following.output.readline() == b"second\n"
            await _escalate(ended.pid, over, grace=0.2)
            return ended.pid, following.pid, await _result(following)
        finally:
            ended.close()
            following.close()

    late, next_reaper, result = asyncio.run(scenario())
    assert result == (0, b"second ended\n"), (late, next_reaper)


_LIMITS = """\
import os, resource
print(resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE),
      os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0)))
"""

_SET_LIMITS = """\
import resource
for pid in targets:
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (64, 64))
    resource.prlimit(pid, resource.RLIMIT_CORE, (4096, 4096))
    os.setpriority(os.PRIO_PROCESS, pid, 15)
    os.sched_setaffinity(pid, {min(os.sched_getaffinity(0))})
"""
"""Block source that lowers the limits, priority and CPU affinity of every pid in ``targets``."""

_TAMPER = (
    PROC_TREE
    + """\
reaper = os.getppid()
others = [other for other in children(parent(reaper)) if other != reaper]
targets = [reaper, *(block for other in others for block in children(other))]  # and the blocks forked ahead
"""
    + _SET_LIMITS
    + "print(len(targets))\n"
)


def test_limits_a_block_sets_on_the_reapers_do_not_reach_later_blocks(tmp_path: Path) -> None:
    """Resource limits, priority and CPU affinity are each block's own, not what an earlier block left.

    A block may change them in its reaper and in the blocks the reapers forked ahead (the same
    user may ``prlimit``, ``setpriority`` and ``sched_setaffinity`` another process, whatever
    its dumpable flag), and a fork inherits them.
    """
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:

        async def both() -> None:  # two blocks at once: two reapers wait once both are over
            await asyncio.gather(*(executor.a_execute_code_blocks([CodeBlock("print(1)", "python")]) for _ in "ab"))

        asyncio.run(both())
        fresh = executor.execute_code_blocks([CodeBlock(_LIMITS, "python")])
        tampered = executor.execute_code_blocks([CodeBlock(_TAMPER, "python")])
        assert tampered.exit_code == 0, tampered.output
        assert int(tampered.output) >= 2  # its reaper, and at least the other reaper's block forked ahead
        after = [executor.execute_code_blocks([CodeBlock(_LIMITS, "python")]) for _ in range(4)]
    assert fresh.exit_code == 0, fresh.output
    assert "(64, 64)" not in fresh.output
    assert [(result.exit_code, result.output) for result in after] == [(0, fresh.output)] * 4


_TAMPER_TEMPLATE = (
    PROC_TREE
    + """\
template = parent(os.getppid())
targets = [template, *(children(template) if "REAPERS" in os.environ else [])]
"""
    + _SET_LIMITS
    + "print(len(targets))\n"
)


@pytest.mark.parametrize("keep_background", [False, True], ids=["reused-reapers", "reaper-per-run"])
def test_limits_a_block_sets_on_its_template_do_not_reach_later_blocks(tmp_path: Path, keep_background: bool) -> None:
    """A template whose limits, priority or affinity a block changed forks nothing more: a fresh one serves.

    The template is findable (its reapers' parent) and of the same user, and every reaper and
    block is a fork of it: what a block sets on it would reach every later block of every
    executor it serves. With reused reapers the block also changes them, so that the next runs
    need new ones; with ``keep_background`` every run's reaper is a fork of the template.
    """
    env = {"REAPERS": "1"} if not keep_background else {}
    with LocalCommandLineCodeExecutor(
        work_dir=tmp_path, timeout=20, keep_background=keep_background, env=env
    ) as executor:

        async def both() -> None:  # two blocks at once: two reapers wait once both are over
            await asyncio.gather(*(executor.a_execute_code_blocks([CodeBlock("print(1)", "python")]) for _ in "ab"))

        asyncio.run(both())
        fresh = executor.execute_code_blocks([CodeBlock(_LIMITS, "python")])
        tampered = executor.execute_code_blocks([CodeBlock(_TAMPER_TEMPLATE, "python")])
        assert tampered.exit_code == 0, tampered.output
        after = [executor.execute_code_blocks([CodeBlock(_LIMITS, "python")]) for _ in range(4)]
    assert fresh.exit_code == 0, fresh.output
    assert "(64, 64)" not in fresh.output
    assert [(result.exit_code, result.output) for result in after] == [(0, fresh.output)] * 4


_IDLE_ON_TEMPLATE = (
    PROC_TREE
    + """\
import subprocess
template = parent(os.getppid())
for pid in [template, *children(template)]:
    {set_idle}
print("idle")
"""
)


@pytest.mark.parametrize(
    ("probe", "set_idle", "fresh"),
    [
        (
            "import os\nprint(os.sched_getscheduler(0))",
            "os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))",
            f"{os.SCHED_OTHER}\n",
        ),
        (
            "import os, subprocess\nsubprocess.run(['ionice', '-p', str(os.getpid())])",
            "subprocess.run(['ionice', '-c', '3', '-p', str(pid)], check=True)",
            None,  # "none: prio 0" or "best-effort: prio 4", as this machine has it: not idle
        ),
    ],
    ids=["scheduling policy SCHED_IDLE", "I/O priority class idle"],
)
def test_an_idle_class_a_block_sets_on_its_template_does_not_reach_later_blocks(
    tmp_path: Path, probe: str, set_idle: str, fresh: str | None
) -> None:
    """The idle CPU or I/O class set on the template and its reapers (same user, no privilege) is not inherited."""
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:
        before = executor.execute_code_blocks([CodeBlock(probe, "python")])
        tamper = CodeBlock(_IDLE_ON_TEMPLATE.replace("{set_idle}", set_idle), "python")
        tampered = executor.execute_code_blocks([tamper])
        assert (tampered.exit_code, tampered.output) == (0, "idle\n"), tampered.output
        after = [executor.execute_code_blocks([CodeBlock(probe, "python")]) for _ in range(3)]
    assert before.exit_code == 0, before.output
    assert before.output == fresh if fresh is not None else "idle" not in before.output
    assert [(result.exit_code, result.output) for result in after] == [(0, before.output)] * 3
