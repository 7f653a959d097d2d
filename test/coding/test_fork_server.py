"""Python blocks from the warm fork server mean what a fresh ``python file.py`` means.

Each test runs with ``fork_server=True`` (the default) and ``fork_server=False`` (a fresh
interpreter per block) and expects the same result, so the plain path is the reference. The
shared cases first run on both executors that have a fork server, the local one and Docker's
(built as the contract suite builds them, `conftest.building`); the local executor's own cases
follow, and Docker's are in ``test_docker_fork_server.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor, LocalCommandLineCodeExecutor

from ._procs import PROC_TREE, is_gone
from .conftest import building

pytestmark = pytest.mark.timeout(60)

Executor = LocalCommandLineCodeExecutor | DockerCommandLineCodeExecutor
MakeEither = Callable[..., Executor]


@pytest.fixture(params=[True, False], ids=["fork-server", "plain"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(params=["local", pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.timeout(120)])])
def either(request: pytest.FixtureRequest, tmp_path: Path, fork_server: bool) -> Iterator[MakeEither]:
    """Builds the parametrised executor (local or Docker) with ``fork_server``; all are closed after."""
    with building(request.param, tmp_path / "work") as make:

        def build(**kwargs: object) -> Executor:
            executor = make(fork_server=fork_server, timeout=20, **kwargs)
            assert isinstance(executor, LocalCommandLineCodeExecutor | DockerCommandLineCodeExecutor)
            return executor

        yield build


@pytest.fixture
def make(tmp_path: Path, fork_server: bool) -> Iterator[object]:
    made: list[LocalCommandLineCodeExecutor] = []

    def build(**kwargs: object) -> LocalCommandLineCodeExecutor:
        kwargs.setdefault("work_dir", tmp_path / "work")
        kwargs.setdefault("timeout", 20)
        made.append(LocalCommandLineCodeExecutor(fork_server=fork_server, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for executor in made:
        executor.close()


def _run(executor: Executor, code: str) -> tuple[int, str]:
    result = executor.execute_code_blocks([CodeBlock(code=textwrap.dedent(code), language="python")])
    return result.exit_code, result.output


def _workspace(executor: Executor) -> str:
    """``work_dir`` as the code sees it: mounted at /workspace in the container, else the directory itself."""
    return "/workspace" if isinstance(executor, DockerCommandLineCodeExecutor) else str(executor.work_dir.resolve())


def _home(executor: Executor) -> str | None:
    """``HOME`` as the code sees it: /tmp in the container (the default user may have none), else ours."""
    return "/tmp" if isinstance(executor, DockerCommandLineCodeExecutor) else os.environ.get("HOME")


_FORKED = "print(b'_warm_python' in open('/proc/self/cmdline', 'rb').read())"


def test_python_blocks_fork_from_a_warm_interpreter_unless_turned_off(either: MakeEither, fork_server: bool) -> None:
    executor = either()
    assert _run(executor, _FORKED) == (0, f"{fork_server}\n")  # a fork never executed the file
    assert executor.execute_code_blocks([CodeBlock("echo shell", "sh")]).output == "shell\n"


def test_a_block_starts_with_the_state_of_a_fresh_interpreter(either: MakeEither) -> None:
    executor = either()
    code = """\
        import os, sys
        print(__name__, sys.argv == [__file__], __file__.endswith(".py"), os.path.dirname(__file__) == WORKSPACE)
        print(sys.path[0] == os.path.dirname(__file__), os.getcwd() == os.path.dirname(__file__))
        print(sorted(k for k in globals() if k.startswith("__")))
        print(__spec__, __package__, __cached__, type(__loader__).__name__)
        print([m for m in ("json", "socket", "select", "_reaper", "_warm_python", "gc") if m in sys.modules])
        print(sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
        print(sys.exc_info(), sys.flags.isolated, sys.flags.no_site, "site" in sys.modules)
        print(os.environ["PYTHONUNBUFFERED"], os.getenv("HOME") == OUR_HOME, os.environ.get("PARLEY_TEMPLATE_LEAK"))
        import marker
        print(marker.COUNT)
        marker.COUNT += 1
    """
    code = code.replace("WORKSPACE", repr(_workspace(executor))).replace("OUR_HOME", repr(_home(executor)))
    executor.work_dir.mkdir(parents=True, exist_ok=True)
    (executor.work_dir / "marker.py").write_text("COUNT = 0\n")
    first = _run(executor, code)
    second = _run(executor, code)
    assert first == second  # nothing carries over: the imported module starts afresh
    exit_code, output = first
    assert exit_code == 0, output
    assert output.splitlines() == [
        "__main__ True True True",
        "True True",
        "['__annotations__', '__builtins__', '__cached__', '__doc__', '__file__', '__loader__', "
        "'__name__', '__package__', '__spec__']",
        "None None None SourceFileLoader",
        "[]",
        "[0, 1, 2, 3]",  # 3: the listdir's own
        "(None, None, None) 0 0 True",
        "1 True None",
        "0",
    ]


def test_an_uncaught_exception_prints_only_the_scripts_traceback(either: MakeEither) -> None:
    executor = either()
    exit_code, output = _run(executor, "def f():\n    raise ValueError('boom')\nf()\n")
    assert exit_code == 1
    lines = output.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    frames = [line for line in lines if line.startswith("  File")]
    assert len(frames) == 2  # the script's own: none of the fork server's
    assert all(f'File "{_workspace(executor)}/' in line for line in frames), frames
    assert lines[-1] == "ValueError: boom"


@pytest.mark.parametrize(
    ("code", "exit_code", "output"),
    [
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit('bad input')", 1, "bad input\n"),
        ("raise SystemExit", 0, ""),
        ("import os; os._exit(7)", 7, ""),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 143, ""),
        ("print(1", 1, None),  # a syntax error: no traceback header
        ("raise KeyboardInterrupt", 130, None),
    ],
)
def test_exits_are_the_interpreters(either: MakeEither, code: str, exit_code: int, output: str | None) -> None:
    got_code, got_output = _run(either(), code)
    assert got_code == exit_code, got_output
    if output is not None:
        assert got_output == output
    elif exit_code == 1:
        assert "SyntaxError" in got_output
        assert "Traceback" not in got_output
    else:
        assert got_output.splitlines()[-1] == "KeyboardInterrupt"


def test_leaving_joins_threads_runs_atexit_and_flushes_files(either: MakeEither) -> None:
    executor = either()
    code = """\
        import atexit, threading, time
        atexit.register(lambda: print("atexit ran", flush=True))
        def late():
            time.sleep(0.2)
            print("thread done", flush=True)
        threading.Thread(target=late).start()
        log = open("log.txt", "w")
        log.write("written, never closed")
        print("main done", flush=True)
    """
    assert _run(executor, code) == (0, "main done\nthread done\natexit ran\n")
    assert (executor.work_dir / "log.txt").read_text() == "written, never closed"


# The local executor's own cases.


def test_the_environment_is_the_blocks_own(make: object) -> None:
    executor = make(env={"PARLEY_TEST_VALUE": "one"})  # type: ignore[operator]
    other = make(env={"PARLEY_TEST_VALUE": "two"})  # type: ignore[operator]
    code = "import os; print(os.environ['PARLEY_TEST_VALUE'], os.environ['PYTHONUNBUFFERED'])"
    assert _run(executor, code) == (0, "one 1\n")
    assert _run(other, code) == (0, "two 1\n")
    assert _run(executor, code) == (0, "one 1\n")


def test_a_virtual_environment_runs_its_own_interpreter(make: object, tmp_path: Path) -> None:
    context = venv.EnvBuilder(with_pip=False).ensure_directories(tmp_path / "venv")
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    executor = make(virtual_env_context=context)  # type: ignore[operator]
    assert _run(executor, "import sys; print(sys.prefix)") == (0, f"{os.path.abspath(tmp_path / 'venv')}\n")


def test_an_interpreter_that_cannot_serve_falls_back_to_a_fresh_process(make: object, tmp_path: Path) -> None:
    wrapper = tmp_path / "bin" / "python"
    wrapper.parent.mkdir()
    # Refuses "-c" (what starts a warm interpreter), runs files.
    wrapper.write_text(f'#!/bin/sh\ncase "$1" in -c) exit 3;; esac\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    context = SimpleNamespace(env_exe=str(wrapper), bin_path=str(wrapper.parent))
    executor = make(virtual_env_context=context)  # type: ignore[operator]
    for _ in range(3):
        assert _run(executor, "print('ran')") == (0, "ran\n")


def test_a_relative_pythonpath_is_resolved_in_the_work_dir(make: object, tmp_path: Path) -> None:
    (tmp_path / "work" / "lib").mkdir(parents=True)
    (tmp_path / "work" / "lib" / "helper.py").write_text("VALUE = 42\n")
    executor = make(env={"PYTHONPATH": "lib"})  # type: ignore[operator]
    assert _run(executor, "import helper; print(helper.VALUE)") == (0, "42\n")


def test_a_run_request_and_its_file_descriptors_reach_the_server_whole() -> None:
    import _socket
    import marshal
    import socket

    from parley.coding._reaper import _receive
    from parley.coding._reaper_server import _request

    host, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pipes = [os.pipe() for _ in range(3)]
    try:
        for env in ({"PATH": "/bin", "ÜNICODE": "värde"}, None):
            request = _request(["python", "file.py"], Path("/work dir"), env, True)
            socket.send_fds(host, [request], [write for _, write in pipes])
            message, fds = _receive(server, _socket)
            expected = {"argv": ["python", "file.py"], "cwd": "/work dir", "keep": True}
            assert marshal.loads(message) == (expected if env is None else {**expected, "env": env})
            assert len(fds) == 3
            for fd, (read, _) in zip(fds, pipes, strict=True):  # each is the very pipe that was sent
                os.write(fd, b"x")
                os.close(fd)
                assert os.read(read, 1) == b"x"
    finally:
        host.close()
        server.close()
        for read, write in pipes:
            os.close(read)
            os.close(write)


_LEAVE_A_DAEMON = """\
import os, subprocess, sys
daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"], start_new_session=True)
print(os.getppid(), daemon.pid)
"""


def test_one_reaper_serves_block_after_block_and_ends_what_each_left(tmp_path: Path) -> None:
    """A template's reaper is not forked per block: it serves the next once the last one is over.

    What a block left running (here a daemon in a session of its own) is ended before the
    block's result, so the reaper starts each block with nothing of the one before. A reaper
    takes a next run only once the host has closed the last one, so a block that follows at
    once may find the template's other waiting reaper instead: at most two serve them all.
    """
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:
        runs = [executor.execute_code_blocks([CodeBlock(_LEAVE_A_DAEMON, "python")]) for _ in range(5)]
        for result in runs:
            assert result.exit_code == 0, result.output
            daemon = int(result.output.split()[1])
            assert is_gone(daemon)
        assert len({result.output.split()[0] for result in runs}) <= 2


def test_a_block_that_kills_the_waiting_reapers_does_not_stop_the_next_block(tmp_path: Path) -> None:
    """Reapers waiting for a next run are the template's children, which a block may kill (same user)."""
    kill = """\
        import os, signal
        def parent(pid):
            with open(f"/proc/{pid}/stat") as stat:
                return int(stat.read().rsplit(")", 1)[1].split()[1])
        reaper = os.getppid()
        template = parent(reaper)
        with open(f"/proc/{template}/task/{template}/children") as children:
            waiting = [int(pid) for pid in children.read().split() if int(pid) != reaper]
        for pid in waiting:
            os.kill(pid, signal.SIGKILL)
        print(len(waiting))
    """
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:
        # Two blocks at once leave two reapers waiting once both are over.
        async def both() -> None:
            await asyncio.gather(*(executor.a_execute_code_blocks([CodeBlock("print(1)", "python")]) for _ in "ab"))

        asyncio.run(both())
        killed = executor.execute_code_blocks([CodeBlock(textwrap.dedent(kill), "python")])
        assert (killed.exit_code, killed.output) == (0, "1\n")
        after = [executor.execute_code_blocks([CodeBlock("print(2)", "python")]) for _ in range(3)]
    assert [(result.exit_code, result.output) for result in after] == [(0, "2\n")] * 3


def test_a_block_that_kills_the_blocks_forked_ahead_does_not_stop_the_next_block(tmp_path: Path) -> None:
    """A waiting reaper holds the block for its next run, forked ahead; a block may kill it (same user)."""
    kill = PROC_TREE + textwrap.dedent("""\
        import signal
        reaper = os.getppid()
        ahead = [block for other in children(parent(reaper)) if other != reaper for block in children(other)]
        for pid in ahead:
            os.kill(pid, signal.SIGKILL)
        print(len(ahead))
    """)
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=20) as executor:

        async def both() -> None:  # two blocks at once: two reapers wait once both are over
            await asyncio.gather(*(executor.a_execute_code_blocks([CodeBlock("print(1)", "python")]) for _ in "ab"))

        asyncio.run(both())
        killed = executor.execute_code_blocks([CodeBlock(kill, "python")])
        assert (killed.exit_code, killed.output) == (0, "1\n")
        after = [executor.execute_code_blocks([CodeBlock("print(2)", "python")]) for _ in range(3)]
    assert [(result.exit_code, result.output) for result in after] == [(0, "2\n")] * 3
