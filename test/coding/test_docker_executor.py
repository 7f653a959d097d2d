"""The Docker executor on a real daemon: container lifecycle, timeouts, cancellation, a dying container.

Runs on the locally built image ``parley-sandbox:test`` (``bash scripts/docker_setup.sh``); skips
without it, fails on CI. The contract suite (test_executor_contract.py) covers the shared semantics.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
from parley.exceptions import ExecutorError, ExecutorUnavailableError

from ._docker_env import SANDBOX_IMAGE

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

# Lists the commands of the processes in the container whose command line contains `needle`.
_PS = """\
import os, sys
for pid in os.listdir('/proc'):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode().strip()
    except (OSError, ValueError):
        continue
    if NEEDLE in cmd and 'NEEDLE' not in cmd:
        print(cmd)
"""


def py(code: str) -> CodeBlock:
    return CodeBlock(textwrap.dedent(code), "python")


def processes(executor: DockerCommandLineCodeExecutor, needle: str) -> list[str]:
    """Command lines of the processes in the executor's container that contain ``needle``."""
    result = executor.execute_code_blocks([py(_PS.replace("NEEDLE in", f"{needle!r} in"))])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def container(name: str) -> Any:
    """The container named ``name`` as docker-py sees it, or None."""
    import docker

    client = docker.from_env()
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None
    finally:
        client.close()


def wait_for(path: Path) -> None:
    while not path.exists():  # bounded by pytest-timeout
        time.sleep(0.02)


# --- lifecycle ----------------------------------------------------------------------------------


def test_the_container_starts_at_first_run_with_secure_settings(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    assert container(executor.container_name) is None  # the constructor did no I/O
    result = executor.execute_code_blocks([py("import os; print(os.getcwd(), os.getuid())")])
    expected_uid = 65534 if os.getuid() == 0 else os.getuid()
    assert result.output == f"/workspace {expected_uid}\n"
    attrs = container(executor.container_name).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == 1024**3
    assert host["MemorySwap"] == 1024**3  # no swap beyond the limit
    assert host["PidsLimit"] == 256
    assert host["Privileged"] is False
    assert host["Init"] is True
    assert "no-new-privileges" in host["SecurityOpt"]
    assert attrs["Config"]["Labels"]["parley.executor"] == "docker"
    assert attrs["Config"]["Labels"]["parley.pid"] == str(os.getpid())


def test_close_removes_the_container_and_is_idempotent(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    assert executor.execute_code_blocks([py("print(1)")]).exit_code == 0
    executor.close()
    executor.close()
    assert container(executor.container_name) is None
    with pytest.raises(ExecutorError, match="closed"):
        executor.execute_code_blocks([py("print(1)")])


def test_without_auto_remove_close_only_stops_it(docker_executor: MakeDocker) -> None:
    executor = docker_executor(auto_remove=False)
    executor.execute_code_blocks([py("print(1)")])
    executor.close()
    stopped = container(executor.container_name)
    try:
        assert stopped is not None
        assert stopped.status == "exited"
    finally:
        stopped.remove(force=True)


def test_with_stop_container_false_the_container_outlives_close(docker_executor: MakeDocker) -> None:
    executor = docker_executor(stop_container=False)
    executor.execute_code_blocks([py("print(1)")])
    executor.close()
    left = container(executor.container_name)
    try:
        assert left is not None
        assert left.status == "running"
    finally:
        left.remove(force=True)


async def test_async_context_manager_closes(docker_executor: MakeDocker) -> None:
    async with docker_executor() as executor:
        result = await executor.a_execute_code_blocks([py("print('async')")])
        assert result.output == "async\n"
    assert container(executor.container_name) is None


def test_restart_gives_a_fresh_container_and_keeps_work_dir_files(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    executor.execute_code_blocks([CodeBlock("echo kept > kept.txt; echo lost > /tmp/lost.txt", "sh")])
    first = container(executor.container_name).id
    executor.restart()
    result = executor.execute_code_blocks([CodeBlock("cat kept.txt; cat /tmp/lost.txt || echo gone", "sh")])
    assert "kept" in result.output
    assert "gone" in result.output
    assert container(executor.container_name).id != first


def test_a_second_container_with_the_same_name_is_refused_clearly(docker_executor: MakeDocker, tmp_path: Path) -> None:
    name = f"parley-test-{os.urandom(4).hex()}"
    docker_executor(container_name=name).execute_code_blocks([py("print(1)")])
    with pytest.raises(ExecutorError, match=f"docker rm -f {name}"):
        docker_executor(container_name=name, work_dir=tmp_path / "other").execute_code_blocks([py("print(1)")])


def test_a_dropped_executor_removes_its_container_when_collected(docker_executor: MakeDocker, tmp_path: Path) -> None:
    executor = DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=tmp_path / "work")
    executor.execute_code_blocks([py("print(1)")])
    name = executor.container_name
    del executor
    gc.collect()
    assert container(name) is None


@pytest.mark.timeout(60)
def test_no_container_is_left_at_interpreter_exit(docker_executor: MakeDocker, tmp_path: Path) -> None:
    script = f"""
from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
executor = DockerCommandLineCodeExecutor(image={SANDBOX_IMAGE!r}, work_dir={str(tmp_path / "work")!r})
assert executor.execute_code_blocks([CodeBlock("print(1)", "python")]).output == "1\\n"
print(executor.container_name)
"""  # the script exits without close()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert container(done.stdout.strip()) is None


def test_missing_image_is_named_with_how_to_get_it(docker_executor: MakeDocker) -> None:
    executor = docker_executor(image="parley-no-such-image:missing")
    with pytest.raises(ExecutorUnavailableError) as info:
        executor.execute_code_blocks([py("print(1)")])
    assert "'parley-no-such-image:missing' is not on this machine and could not be pulled" in str(info.value)
    assert "docker pull parley-no-such-image:missing" in str(info.value)
    assert container(executor.container_name) is None


def test_an_injected_client_is_used(docker_executor: MakeDocker) -> None:
    import docker

    client = docker.from_env()
    try:
        assert docker_executor(docker_client=client).execute_code_blocks([py("print(2)")]).output == "2\n"
    finally:
        client.close()


def test_bind_dir_is_what_gets_mounted(docker_executor: MakeDocker, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)  # work_dir as parley sees it; bind_dir as the daemon does
    executor = docker_executor(work_dir=tmp_path / "link", bind_dir=real)
    assert executor.execute_code_blocks([CodeBlock("echo hi > out.txt", "sh")]).exit_code == 0
    assert (real / "out.txt").read_text() == "hi\n"


def test_user_can_be_chosen(docker_executor: MakeDocker) -> None:
    result = docker_executor(user="root").execute_code_blocks([CodeBlock("id -u", "sh")])
    assert result.output == "0\n"


def test_shell_languages(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    bash = executor.execute_code_blocks([CodeBlock('[[ 1 == 1 ]] && echo "bash $BASH_VERSION" | cut -c1-5', "bash")])
    assert bash.output == "bash \n"
    sh = executor.execute_code_blocks([CodeBlock("echo from sh; exit 3", "sh")])
    assert (sh.exit_code, sh.output) == (3, "from sh\n")


# --- timeouts, background processes, cancellation -------------------------------------------------


@pytest.mark.timeout(60)
def test_timeout_kills_every_process_of_the_block(docker_executor: MakeDocker) -> None:
    executor = docker_executor(timeout=2)
    result = executor.execute_code_blocks(
        [
            py("""
            import subprocess, time
            subprocess.Popen(['sleep', '301'])
            subprocess.Popen(['setsid', 'sleep', '302'])  # left the process group
            subprocess.Popen(['sh', '-c', 'sleep 303 & wait'])  # a grandchild
            print('started', flush=True)
            time.sleep(60)
            """)
        ]
    )
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert "Timeout after 2 s" in result.output
    assert processes(executor, "sleep 30") == []


def test_background_processes_are_killed_when_the_block_ends(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    block = py("import subprocess; subprocess.Popen(['sleep', '304'], stdout=subprocess.DEVNULL); print('bye')")
    assert executor.execute_code_blocks([block]).output == "bye\n"
    assert processes(executor, "sleep 304") == []


@pytest.mark.timeout(60)
async def test_cancelling_kills_the_running_block(docker_executor: MakeDocker, tmp_path: Path) -> None:
    executor = docker_executor()
    block = py("""\
        # filename: long_runner.py
        import pathlib, subprocess, time
        subprocess.Popen(['setsid', 'sleep', '305'])
        pathlib.Path('started').touch()
        time.sleep(60)
        """)
    task = asyncio.create_task(executor.a_execute_code_blocks([block]))
    while not (tmp_path / "work" / "started").exists():  # noqa: ASYNC110 - a file, not an event
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert processes(executor, "long_runner") == []
    assert processes(executor, "sleep 305") == []


@pytest.mark.timeout(60)
async def test_a_running_block_does_not_block_the_event_loop(docker_executor: MakeDocker, tmp_path: Path) -> None:
    executor = docker_executor(timeout=30)
    block = py("""
        import os, pathlib, time
        pathlib.Path('waiting').touch()
        while not os.path.exists('go'):
            time.sleep(0.01)
        print('went')
        """)
    task = asyncio.create_task(executor.a_execute_code_blocks([block]))
    work = tmp_path / "work"
    while not (work / "waiting").exists():  # noqa: ASYNC110 - only a free loop gets past this
        await asyncio.sleep(0.02)
    (work / "go").touch()
    result = await task
    assert (result.exit_code, result.output) == (0, "went\n")


# --- a container that dies --------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_container_killed_mid_run_is_reported_and_replaced(docker_executor: MakeDocker, tmp_path: Path) -> None:
    executor = docker_executor(timeout=30)
    executor.execute_code_blocks([CodeBlock("echo state > /tmp/state.txt", "sh")])
    first = container(executor.container_name).id

    def kill_when_started() -> None:
        wait_for(tmp_path / "work" / "started")
        container(executor.container_name).kill()

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    result = executor.execute_code_blocks([py("import pathlib, time; pathlib.Path('started').touch(); time.sleep(25)")])
    killer.join()
    assert result.exit_code == 137
    assert not result.timed_out
    assert "The container stopped while this block ran" in result.output
    assert "The next block runs in a fresh container" in result.output
    after = executor.execute_code_blocks([CodeBlock("cat /tmp/state.txt 2>/dev/null || echo fresh", "sh")])
    assert (after.exit_code, after.output) == (0, "fresh\n")
    assert container(executor.container_name).id != first


def test_a_container_stopped_between_blocks_is_replaced_with_a_notice(docker_executor: MakeDocker) -> None:
    executor = docker_executor()
    executor.execute_code_blocks([py("print(1)")])
    container(executor.container_name).kill()
    result = executor.execute_code_blocks([py("print('again')")])
    assert result.exit_code == 0
    assert result.output.startswith("[The container had stopped since the last block")
    assert result.output.endswith("This block runs in a fresh container.]\nagain\n")
