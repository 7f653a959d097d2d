"""A Docker daemon that stops answering costs a block its timeout plus a few seconds, never the event loop.

The real daemon is frozen with SIGSTOP for a few seconds (other users of this machine's daemon
wait meanwhile, so the window is kept short). It is always resumed: by the fixture when the test
ends however it ends, and by a watchdog process of its own should this process die first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
from parley.exceptions import ExecutorUnavailableError

MakeDocker = Callable[..., DockerCommandLineCodeExecutor]

pytestmark = pytest.mark.docker

_WATCHDOG_S = 20  # the daemon is resumed after this many seconds whatever happens here


def _dockerd_pid() -> int:
    """The main daemon's pid (its pidfile), not the second one the remote tests use."""
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/var/run/docker.pid").read_text().strip())
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "dockerd":
                return int(entry.name)
    pytest.fail("no dockerd process runs here (the Docker tests need a local daemon)")


@pytest.fixture
def freeze_daemon() -> Iterator[Callable[[], Callable[[], None]]]:
    """``freeze()`` stops dockerd and returns ``resume()``; the daemon is resumed after the test in any case."""
    frozen: list[int] = []
    watchdogs: list[subprocess.Popen[bytes]] = []

    def resume() -> None:
        while frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen.pop(), signal.SIGCONT)

    def freeze() -> Callable[[], None]:
        pid = _dockerd_pid()
        watchdogs.append(
            subprocess.Popen(["sh", "-c", f"sleep {_WATCHDOG_S}; kill -CONT {pid}"], start_new_session=True)
        )
        frozen.append(pid)
        os.kill(pid, signal.SIGSTOP)
        return resume

    try:
        yield freeze
    finally:
        resume()
        for watchdog in watchdogs:
            os.killpg(watchdog.pid, signal.SIGKILL)
            watchdog.wait()


@pytest.mark.timeout(90)
async def test_a_frozen_daemon_costs_a_block_its_timeout_and_says_so(
    docker_executor: MakeDocker, freeze_daemon: Callable[[], Callable[[], None]]
) -> None:
    executor = docker_executor(timeout=2)
    assert (await executor.a_execute_code_blocks([CodeBlock("print('up')", "python")])).output == "up\n"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    other = asyncio.create_task(ticker())
    resume = freeze_daemon()
    try:
        result = await executor.a_execute_code_blocks([CodeBlock("print('frozen?')", "python")])
        during = ticks
    finally:
        resume()
        other.cancel()
    assert (result.exit_code, result.timed_out) == (124, True)
    assert "the Docker daemon did not answer when asked to kill the block's processes" in result.output
    assert "limit of processes" not in result.output  # not blamed on the pids limit
    assert "The next block runs in a fresh container" not in result.output
    assert "The next block will try to reach the Docker daemon again" in result.output
    # The other task kept running all along (5 s of 10 ms ticks; a stalled loop gives a handful).
    assert during > 100
    after = await executor.a_execute_code_blocks([CodeBlock("print('back')", "python")])
    assert (after.exit_code, after.output) == (0, "back\n")


class DaemonLine:
    """A unix socket that forwards to the real daemon's; `cut` breaks it as a daemon that stopped would.

    The daemon and the container keep running meanwhile, so no other user of the daemon notices.
    """

    def __init__(self, path: Path, daemon: str = "/var/run/docker.sock") -> None:
        self.path, self._daemon = path, daemon
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def connect(self) -> None:
        """Listen (again, if cut) and forward every connection to the daemon."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_UNIX)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener.bind(str(self.path))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close every connection and refuse new ones (connection refused)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            daemon = socket.socket(socket.AF_UNIX)
            daemon.connect(self._daemon)
            self._open += [client, daemon]
            for src, dst in ((client, daemon), (daemon, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@pytest.mark.timeout(90)
def test_a_daemon_that_goes_away_mid_block_is_reported_without_promising_a_fresh_container(
    docker_executor: MakeDocker, tmp_path: Path
) -> None:
    import docker

    line = DaemonLine(tmp_path / "docker.sock")
    line.connect()
    client = docker.DockerClient(base_url=f"unix://{line.path}", timeout=10)
    executor = docker_executor(docker_client=client, timeout=60)
    try:
        assert executor.execute_code_blocks([CodeBlock("print('up')", "python")]).output == "up\n"
        started = tmp_path / "work" / "started"

        def cut_when_started() -> None:
            while not started.exists():  # bounded by pytest-timeout
                time.sleep(0.02)
            line.cut()

        cutter = threading.Thread(target=cut_when_started)
        cutter.start()
        block = CodeBlock("import pathlib, time; pathlib.Path('started').touch(); time.sleep(50)", "python")
        result = executor.execute_code_blocks([block])
        cutter.join()
        assert result.exit_code == 137, result.output
        assert "The block lost its connection to the Docker daemon, which does not answer" in result.output
        assert "fresh container." not in result.output.replace("start a fresh container if it answers", "")
        assert "The next block will try to reach the Docker daemon again" in result.output
        with pytest.raises(ExecutorUnavailableError, match="Check that `docker info` answers"):
            executor.execute_code_blocks([CodeBlock("print('while down')", "python")])
        line.connect()  # the daemon is back: the next block runs in a fresh container
        after = executor.execute_code_blocks([CodeBlock("print('back')", "python")])
        assert (after.exit_code, after.output) == (0, "back\n")
    finally:
        line.connect()  # so that close() can remove the container
        executor.close()
        client.close()
        line.cut()
