"""Attacks on the local executor's reaper server and warm templates, as model-written code would try them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, LocalCommandLineCodeExecutor
from parley.coding._reaper_server import _SERVER

_SECRET = "redteam-secret-value"


@pytest.fixture
def secret_in_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A secret-looking variable of this process, with the reaper server started afresh to see it."""
    monkeypatch.setenv("REDTEAM_API_KEY", _SECRET)
    _SERVER.restart()
    yield
    _SERVER.restart()


_WALK = """\
import os
pid, leaked = os.getppid(), []
while pid > 1:
    try:
        if SECRET in open(f"/proc/{pid}/environ", "rb").read():
            leaked.append(pid)
    except OSError:
        pass
    with open(f"/proc/{pid}/stat") as stat:
        pid = int(stat.read().rsplit(")", 1)[1].split()[1])
print("leaked" if leaked else "clean")
"""


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("secret_in_host")
@pytest.mark.parametrize("language", ["python", "bash"])
@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "fresh-python"])
def test_a_blocks_ancestors_do_not_show_the_hosts_secrets(tmp_path: Path, language: str, fork_server: bool) -> None:
    """``/proc/<parent>/environ`` of a block's reaper (a fork of the reaper server) must not hold the host's keys.

    The secret is set at run time, so the host's own ``/proc/self/environ`` (its environment at
    start) does not show it: only a process started since with this environment could.
    """
    code = f"SECRET = {_SECRET.encode()!r}\n" + _WALK
    if language == "bash":
        code = f"python3 - <<'EOF'\n{code}EOF\n"
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, fork_server=fork_server) as executor:
        result = executor.execute_code_blocks([CodeBlock(textwrap.dedent(code), language)])
    assert (result.exit_code, result.output) == (0, "clean\n")


_STOP_GRANDPARENT = """\
import os, signal
def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
server = parent(os.getppid())  # the warm template (python), or the reaper server (bash's python3)
if STOP:
    os.kill(server, signal.SIGSTOP)
print(server)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("language", ["python", "bash"])
def test_a_block_that_stops_its_server_does_not_stall_the_next_block(tmp_path: Path, language: str) -> None:
    """SIGSTOP on the process that forks the runs (same user: allowed) must not hold the next block.

    Before, the next block waited 10 s for a reaper that the stopped server could not fork, whatever
    its timeout, and then went to a new server. Now the server is continued before each run: the
    same server serves the next block at once. (No fixture restarts the servers around this test:
    what a stopped server did to later runs is covered by ``test_stopped_helpers_local.py``.)
    """

    def block(stop: bool) -> CodeBlock:
        code = f"STOP = {stop}\n" + _STOP_GRANDPARENT
        if language == "bash":
            code = f"exec python3 - <<'EOF'\n{code}EOF\n"
        return CodeBlock(code, language)

    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=5) as executor:
        stopped = executor.execute_code_blocks([block(True)])
        assert stopped.exit_code == 0, stopped.output
        following = executor.execute_code_blocks([block(False)])
    assert (following.exit_code, following.output) == (0, stopped.output)


_PRINT_LIMITS = 'echo "$(ulimit -n) $(ulimit -c) $(nice)"\n'
_TAMPER_SERVER = """\
server=$(awk '{print $4}' /proc/$PPID/stat)
prlimit --pid "$server" --nofile=64:64 --core=4096:4096 && renice -n 15 -p "$server" > /dev/null && echo tampered
"""


def test_limits_a_block_sets_on_the_reaper_server_do_not_reach_later_blocks(tmp_path: Path) -> None:
    """The reaper server that forks every plain block's reaper is its grandparent, of the same user.

    Limits or a priority a block sets on it (``prlimit``, ``renice``) would pass to every later
    block of every executor; the server ends instead, and a fresh one runs the next block.
    """
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:
        fresh = executor.execute_code_blocks([CodeBlock(_PRINT_LIMITS, "sh")])
        tampered = executor.execute_code_blocks([CodeBlock(_TAMPER_SERVER, "sh")])
        after = [executor.execute_code_blocks([CodeBlock(_PRINT_LIMITS, "sh")]) for _ in range(3)]
    assert (tampered.exit_code, tampered.output) == (0, "tampered\n")
    assert fresh.exit_code == 0, fresh.output
    assert not fresh.output.startswith("64 ")
    assert [(result.exit_code, result.output) for result in after] == [(0, fresh.output)] * 3
