"""Attacks on the Docker executor's persistent runner and warm templates, as model-written code would try them.

The blocks run as the same user as the runner that serves them, its warm templates and their
reapers (``nobody``). Same user is not enough to reach into those: they are not dumpable, so the
kernel refuses their ``/proc/<pid>/mem``, ``environ`` and ``fd/`` to a block, which could
otherwise forge the runner's reply frames (ending its own run early while it runs on), read the
requests of other conversations sharing the container, or rewrite a template's memory so that
every later block runs the attacker's code.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


@pytest.fixture(params=[True, False], ids=["fork-server", "fresh-python3"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


_ANCESTORS = """\
import os

def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

def ancestors():
    found, pid = [], os.getppid()
    while pid > 1:  # the reaper, the template (fork runs), the runner; not Docker's init
        found.append(pid)
        pid = parent(pid)
    return found
"""


def _python(code: str) -> CodeBlock:
    return CodeBlock(_ANCESTORS + textwrap.dedent(code), "python")


def test_a_block_cannot_forge_the_runners_frames(docker_executor: MakeDocker, fork_server: bool) -> None:
    """A block reopens the runner's stdout through /proc and writes fake ``o`` and ``x`` frames for every run id."""
    executor = docker_executor(fork_server=fork_server)
    code = """\
        import time
        def frame(run_id, kind, payload):
            return run_id.to_bytes(4, "big") + kind + len(payload).to_bytes(4, "big") + payload
        for pid in ancestors():
            try:
                with open(f"/proc/{pid}/fd/1", "wb", buffering=0) as stream:
                    for run_id in range(1, 64):
                        stream.write(frame(run_id, b"o", b"FORGED\\n") + frame(run_id, b"x", b"0 exit"))
            except OSError as exc:
                print("refused", exc.errno)
        time.sleep(0.5)
        print("the real end")
    """
    result = executor.execute_code_blocks([_python(code)])
    assert "FORGED" not in result.output
    assert result.output.endswith("the real end\n"), result.output
    assert result.exit_code == 0
    assert executor.execute_code_blocks([CodeBlock("print('next')", "python")]).output == "next\n"


def test_a_block_cannot_read_the_runners_requests(docker_executor: MakeDocker, fork_server: bool) -> None:
    """The runner's stdin carries every conversation's requests (argv, cwd, env): a block must not reopen it."""
    executor = docker_executor(fork_server=fork_server)
    code = """\
        for pid in ancestors():
            try:
                open(f"/proc/{pid}/fd/0", "rb").close()
                print("opened", pid)
            except OSError as exc:
                print("refused", exc.errno)
    """
    result = executor.execute_code_blocks([_python(code)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines, result.output
    assert all(line == "refused 13" for line in lines), result.output


@pytest.mark.parametrize("what", ["mem", "environ"])
def test_a_block_cannot_reach_into_its_runner_template_or_reaper(
    docker_executor: MakeDocker, fork_server: bool, what: str
) -> None:
    """Writing a template's memory would poison every later block; reading any of them would leak state."""
    executor = docker_executor(fork_server=fork_server)
    code = f"""\
        for pid in ancestors():
            try:
                open(f"/proc/{{pid}}/{what}", "r+b" if {what!r} == "mem" else "rb").close()
                print("opened", pid)
            except OSError as exc:
                print("refused", exc.errno)
    """
    result = executor.execute_code_blocks([_python(code)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == (3 if fork_server else 2), result.output  # reaper, template (forked), runner
    assert all(line == "refused 13" for line in lines), result.output


def test_a_forked_block_is_dumpable_like_a_fresh_interpreter(docker_executor: MakeDocker, fork_server: bool) -> None:
    """The template is not dumpable, but the block forked from it is made so: its own /proc is its own."""
    executor = docker_executor(fork_server=fork_server)
    code = """\
        import os
        print(len(open("/proc/self/environ", "rb").read()) > 0, os.stat("/proc/self/environ").st_uid == os.getuid())
    """
    result = executor.execute_code_blocks([CodeBlock(textwrap.dedent(code), "python")])
    assert (result.exit_code, result.output) == (0, "True True\n")


_STOP_SERVER = """\
import os, signal
server = ancestors()[1]  # the warm template (fork runs) or the runner
if STOP:
    os.kill(server, signal.SIGSTOP)
print(server)
"""


def test_a_block_that_stops_its_template_does_not_fail_the_next_block(docker_executor: MakeDocker) -> None:
    """SIGSTOP on the warm template must not stall the runner (and every slot) and time out the next block.

    Before, the runner waited 10 s for a reaper the stopped template could not fork, the next block
    timed out, and the runner was given up. Now the runner continues the template before each run.
    """
    executor = docker_executor(timeout=5)
    stopped = executor.execute_code_blocks([_python("STOP = True\n" + _STOP_SERVER)])
    assert stopped.exit_code == 0, stopped.output
    following = executor.execute_code_blocks([_python("STOP = False\n" + _STOP_SERVER)])
    assert (following.exit_code, following.output) == (0, stopped.output)


@pytest.mark.parametrize("whom", [0, 1], ids=["its-reaper", "its-template-or-runner"])
def test_a_block_that_kills_what_supervises_it_gets_a_result_that_says_so(
    docker_executor: MakeDocker, fork_server: bool, whom: int
) -> None:
    executor = docker_executor(fork_server=fork_server)
    code = f"""\
        import signal, time
        print("killing", flush=True)
        os.kill(ancestors()[{whom}], signal.SIGKILL)
        time.sleep(5)
    """
    result = executor.execute_code_blocks([_python(code)])
    assert result.exit_code == 137, result.output
    if whom == 1 and not fork_server:  # the runner itself: what it had not relayed yet is lost with it
        assert "The runner that runs blocks in the container ended during this block" in result.output
    else:
        assert result.output.startswith("killing\n")
        assert "The process supervising this block was killed" in result.output, result.output
    assert executor.execute_code_blocks([CodeBlock("print('next')", "python")]).output == "next\n"


_RUNNER = """\
import os  # the topmost that names it: a plain run's reaper is the runner's fork, with its command line
runner = [pid for pid in ancestors() if b"parley-runner" in open(f"/proc/{pid}/cmdline", "rb").read()][-1]
"""
_INHERITED = CodeBlock(
    'echo "runner $(cut -d" " -f4 /proc/$PPID/stat)"; grep -v "^Max cpu time" /proc/$$/limits; echo "nice $(nice)"; '
    "grep Cpus_allowed_list /proc/$$/status; chrt -p $$ | sed 's/^pid [0-9]*//'; ionice -p $$",
    "bash",
)


def _runner_and_rest(output: str) -> tuple[str, str]:
    first, _, rest = output.partition("\n")
    return first, rest


@pytest.mark.parametrize(
    ("attack", "kept"),
    [
        ("prlimit --pid {runner} --nproc=1:1", False),  # no later block could start at all
        ("prlimit --pid {runner} --as=60000000:60000000", False),
        ("prlimit --pid {runner} --nofile=8:", True),  # a soft limit under the hard one: put back
        ("renice -n 19 -p {runner}", False),
        ("taskset -p -c 0 {runner}", True),
        ("chrt --idle -p 0 {runner}", False),  # run only when nothing else would
        ("ionice -c 3 -p {runner}", True),  # read and write the disk only when nothing else would
    ],
    ids=["nproc", "address-space", "soft-nofile", "nice", "affinity", "sched-idle", "io-idle"],
)
def test_a_block_cannot_pass_limits_it_sets_on_the_runner_to_later_blocks(
    docker_executor: MakeDocker, fork_server: bool, attack: str, kept: bool
) -> None:
    """A block lowers the runner's limits, raises its nice value or pins it to one CPU (the same user may).

    Every later block is forked from the runner and would inherit them: with ``nproc`` none could
    even start. The runner puts back what it may; what it may not (a hard limit, a nice value)
    makes the host replace it with a fresh one.
    """
    executor = docker_executor(fork_server=fork_server)
    before = executor.execute_code_blocks([_INHERITED])
    assert before.exit_code == 0, before.output
    code = _RUNNER + f"import subprocess\nsubprocess.run({attack!r}.format(runner=runner).split(), check=True)\n"
    attacked = executor.execute_code_blocks([_python(code)])
    assert attacked.exit_code == 0, attacked.output
    for _ in range(2):
        after = executor.execute_code_blocks([_INHERITED])
        assert after.exit_code == 0, after.output
        assert _runner_and_rest(after.output)[1] == _runner_and_rest(before.output)[1]
    runner_kept = _runner_and_rest(after.output)[0] == _runner_and_rest(before.output)[0]
    assert runner_kept == kept, (before.output, after.output)


def test_a_block_that_stops_the_runner_gets_a_result_that_says_so(docker_executor: MakeDocker) -> None:
    """SIGSTOP on the runner (which nothing in the container can undo) leaves the block's end unreported.

    The host waits for the timeout, gets no answer to its kill, and ends everything in the
    container: the result must say that the runner stopped answering, not only that the block,
    which had ended at once, timed out.
    """
    executor = docker_executor(timeout=3)
    code = _RUNNER + "import signal\nprint('stopping', flush=True)\nos.kill(runner, signal.SIGSTOP)\n"
    result = executor.execute_code_blocks([_python(code)])
    assert result.exit_code == 124, result.output
    assert "The runner that runs blocks in the container stopped answering" in result.output, result.output
    assert executor.execute_code_blocks([CodeBlock("print('next')", "python")]).output == "next\n"


@pytest.mark.parametrize("slot", [False, True], ids=["work-dir", "slot-dir"])
def test_a_block_that_takes_away_access_to_its_directory_does_not_break_the_next(
    docker_executor: MakeDocker, slot: bool
) -> None:
    """The code owns its directory, so it may ``chmod 000`` it: no later block could even enter it."""
    executor = docker_executor()
    target = executor._open_slot("slot-0") if slot else executor
    locked = target.execute_code_blocks([CodeBlock('chmod 000 "$PWD" && echo locked', "bash")])
    assert (locked.exit_code, locked.output) == (0, "locked\n")
    following = target.execute_code_blocks([CodeBlock("echo next > next.txt && cat next.txt", "bash")])
    assert following.exit_code == 0, following.output
    assert following.output.endswith("next\n"), following.output
    assert "access to" in following.output, following.output


def test_a_block_that_kills_its_reaper_cannot_leave_processes_that_fork_and_exit_to_outrun_the_kill(
    docker_executor: MakeDocker, fork_server: bool
) -> None:
    """Orphans come to the runner (or template) when the reaper dies; these fork, exit and ``setsid`` without end.

    Each has a new pid and a new process group by the time a pass over ``/proc`` signals the one
    it listed, so one pass (or a stop by process group) misses them: the result said "every
    process it started was ended" while they ran on in the container.
    """
    from .test_docker_executor import processes

    executor = docker_executor(fork_server=fork_server)
    code = """\
        import signal, subprocess, time
        HOP = "import os\\nwhile True:\\n    if os.fork():\\n        os._exit(0)\\n    os.setsid()\\n"
        for _ in range(2):
            subprocess.Popen(["python3", "-c", HOP, "HOPPER"])
        time.sleep(0.5)
        print("killing", flush=True)
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    """
    result = executor.execute_code_blocks([_python(code)])
    assert result.exit_code == 137, result.output
    assert "every process it started was ended" in result.output, result.output
    assert processes(executor, "HOPPER") == []
    assert executor.execute_code_blocks([CodeBlock("print('next')", "python")]).output == "next\n"


_HOOK = """\
warm = b"frozenset(sys.modules)" in open("/proc/self/cmdline", "rb").read()  # a template's command line
open("/tmp/pth.log", "a").write("template\\n" if warm else "block\\n")
if warm and os.fork() == 0:
    os.setsid()
    os.execvp("python3", ["python3", "-c", "import time; time.sleep(1000)", "DAEMON"])
"""
_PLANT_PTH = f"""
version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
site=$HOME/.local/lib/python$version/site-packages
mkdir -p "$site"
cat > "$site/zz.pth" <<'PTH'
import os; exec({_HOOK!r})
PTH
for d in /proc/[0-9]*; do grep -qs 'frozenset(sys.modules)' "$d/cmdline" && kill -9 "${{d#/proc/}}"; done
echo planted
"""


def test_a_startup_hook_planted_by_a_block_does_not_run_in_a_warm_template(docker_executor: MakeDocker) -> None:
    """A ``.pth`` in the user's site-packages (``$HOME`` is ``/tmp``) runs at every ``python3`` start-up.

    In a block's own ``python3`` it runs under the block's reaper. In a warm template it ran
    outside any run: a daemon it started outlived every later block, and code it ran there could
    patch what the reapers forked from the template do. Now no template starts while such a file
    is there: the block runs as a fresh ``python3``, which runs the hook itself.
    """
    executor = docker_executor()
    planted = executor.execute_code_blocks([CodeBlock(_PLANT_PTH, "bash")])
    assert planted.output.endswith("planted\n"), planted.output
    result = executor.execute_code_blocks([CodeBlock("print('block ran')", "python")])
    assert (result.exit_code, result.output) == (0, "block ran\n")
    check = CodeBlock("cat /tmp/pth.log; grep -ls DAEMON /proc/[0-9]*/cmdline; true", "bash")
    assert executor.execute_code_blocks([check]).output == "block\n"


def test_a_replaced_runner_is_told_with_the_background_processes_it_took(docker_executor: MakeDocker) -> None:
    """With ``keep_background``, replacing a tainted runner ends the kept processes: the next result says why."""
    executor = docker_executor(keep_background=True)
    kept = executor.execute_code_blocks([CodeBlock("sleep 300 &\necho kept", "bash")])
    assert kept.output == "kept\n", kept.output
    taint = "prlimit --pid $(cut -d' ' -f4 /proc/$PPID/stat) --nproc=100:100 && echo tainted"
    assert executor.execute_code_blocks([CodeBlock(taint, "bash")]).output == "tainted\n"
    following = executor.execute_code_blocks([CodeBlock("echo next", "bash")])
    assert following.output.startswith("[State lost: "), following.output
    assert "the runner was replaced: a block had changed its RLIMIT_NPROC limit" in following.output
    assert "a background process may have killed it" not in following.output
    assert following.output.endswith("]\nnext\n"), following.output
