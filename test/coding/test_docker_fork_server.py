"""Python blocks on the Docker runner's warm interpreter mean what a fresh ``python3 file.py`` means.

Each semantic test runs with ``fork_server=True`` (the default: the runner forks each python block
from a warm ``python3`` in the container) and ``fork_server=False`` (a fresh ``python3`` per block
through the same runner), and expects the same result, so the plain path is the reference. The
containment, timeout and output-budget contracts run on the fork path already (it is the default);
the cases here are the fork path's own: that blocks are forked, that a fork starts from a fresh
module state, and that a block killing its template, or its reaper, leaves nothing and is followed
by a block that works.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor

from .test_docker_executor import processes

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


@pytest.fixture(params=[True, False], ids=["fork-server", "fresh-python3"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _run(executor: DockerCommandLineCodeExecutor, code: str) -> tuple[int, str]:
    result = executor.execute_code_blocks([CodeBlock(code=textwrap.dedent(code), language="python")])
    return result.exit_code, result.output


_FORKED = "print(b'_warm_python' in open('/proc/self/cmdline', 'rb').read())"


def test_python_blocks_fork_from_a_warm_interpreter_unless_turned_off(
    docker_executor: MakeDocker, fork_server: bool
) -> None:
    executor = docker_executor(fork_server=fork_server)
    assert _run(executor, _FORKED) == (0, f"{fork_server}\n")
    assert executor.execute_code_blocks([CodeBlock("echo shell", "sh")]).output == "shell\n"


def test_a_block_starts_with_the_state_of_a_fresh_interpreter(docker_executor: MakeDocker, fork_server: bool) -> None:
    executor = docker_executor(fork_server=fork_server)
    code = """\
        import os, sys
        print(__name__, sys.argv == [__file__], __file__.startswith("/workspace/"))
        print(sys.path[0] == os.path.dirname(__file__), os.getcwd() == os.path.dirname(__file__))
        print(sorted(k for k in globals() if k.startswith("__")))
        print(__spec__, __package__, __cached__, type(__loader__).__name__)
        print([m for m in ("json", "socket", "select", "_reaper", "_warm_python", "gc") if m in sys.modules])
        print(sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
        print(sys.exc_info(), sys.flags.isolated, sys.flags.no_site, "site" in sys.modules)
        print(os.environ["PYTHONUNBUFFERED"], os.environ["HOME"], os.environ.get("PARLEY_TEMPLATE_LEAK"))
        import marker
        print(marker.COUNT)
        marker.COUNT += 1
    """
    executor.work_dir.mkdir(parents=True, exist_ok=True)
    (executor.work_dir / "marker.py").write_text("COUNT = 0\n")
    first = _run(executor, code)
    second = _run(executor, code)
    assert first == second  # nothing carries over: the imported module starts afresh
    exit_code, output = first
    assert exit_code == 0, output
    assert output.splitlines() == [
        "__main__ True True",
        "True True",
        "['__annotations__', '__builtins__', '__cached__', '__doc__', '__file__', '__loader__', "
        "'__name__', '__package__', '__spec__']",
        "None None None SourceFileLoader",
        "[]",
        "[0, 1, 2, 3]",  # 3: the listdir's own
        "(None, None, None) 0 0 True",
        "1 /tmp None",
        "0",
    ]


def test_an_uncaught_exception_prints_only_the_scripts_traceback(
    docker_executor: MakeDocker, fork_server: bool
) -> None:
    exit_code, output = _run(docker_executor(fork_server=fork_server), "def f():\n    raise ValueError('boom')\nf()\n")
    assert exit_code == 1
    lines = output.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    frames = [line for line in lines if line.startswith("  File")]
    assert len(frames) == 2
    assert all("/workspace/" in line for line in frames)
    assert lines[-1] == "ValueError: boom"


@pytest.mark.parametrize(
    ("code", "exit_code", "output"),
    [
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit('bad input')", 1, "bad input\n"),
        ("raise SystemExit", 0, ""),
        ("import os; os._exit(7)", 7, ""),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 143, ""),
        ("raise KeyboardInterrupt", 130, None),
    ],
)
def test_exits_are_the_interpreters(
    docker_executor: MakeDocker, fork_server: bool, code: str, exit_code: int, output: str | None
) -> None:
    got_code, got_output = _run(docker_executor(fork_server=fork_server), code)
    assert got_code == exit_code, got_output
    if output is not None:
        assert got_output == output
    else:
        assert got_output.splitlines()[-1] == "KeyboardInterrupt"


def test_leaving_joins_threads_runs_atexit_and_flushes_files(docker_executor: MakeDocker, fork_server: bool) -> None:
    executor = docker_executor(fork_server=fork_server)
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


def test_a_timeout_kills_the_forked_block_and_keeps_its_output(docker_executor: MakeDocker, fork_server: bool) -> None:
    executor = docker_executor(fork_server=fork_server, timeout=2)
    code = """\
        import subprocess, time
        subprocess.Popen(["sleep", "1011"])
        print("started", flush=True)
        time.sleep(60)
    """
    result = executor.execute_code_blocks([CodeBlock(textwrap.dedent(code), "python")])
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert processes(executor, "sleep 1011") == []
    assert _run(executor, _FORKED) == (0, f"{fork_server}\n")


# Kills this block's template: the parent of its reaper (its own parent).
_KILL_TEMPLATE = """\
import os, signal, subprocess, time
def parent(pid):
    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
subprocess.Popen(['setsid', 'sleep', '1012'])
print('killing the template', flush=True)
os.kill(parent(os.getppid()), signal.SIGKILL)
time.sleep(20)
"""


def test_a_block_that_kills_its_template_ends_and_leaves_nothing(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=30)
    result = executor.execute_code_blocks([CodeBlock(_KILL_TEMPLATE, "python")])
    assert result.exit_code == 137, result.output
    assert not result.timed_out
    assert result.output.startswith("killing the template\n")
    assert processes(executor, "sleep 1012") == []
    assert _run(executor, _FORKED) == (0, "True\n")  # a new template serves the next block


def test_background_processes_are_kept_with_keep_background_and_end_at_restart(docker_executor: MakeDocker) -> None:
    executor = docker_executor(keep_background=True)
    started = _run(executor, "import subprocess; subprocess.Popen(['sleep', '1013']); print('ok')")
    assert started == (0, "ok\n")
    assert _run(executor, _FORKED) == (0, "True\n")
    assert len(processes(executor, "sleep 1013")) == 1
    executor.restart()
    assert processes(executor, "sleep 1013") == []
