"""The Docker executor on a daemon reached over TCP, as on another machine: no bind mount, files through the API.

The daemon is a real second dockerd on a loopback port with its own data root
(``scripts/docker_remote_setup.sh``). The contract suites run on it too (``docker-remote`` in
conftest); this module covers what is particular to a daemon that cannot mount ``work_dir``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
from parley.exceptions import ConfigError, ExecutorError

from ._docker_env import SANDBOX_IMAGE, remote_docker_host

MakeRemote = Callable[..., DockerCommandLineCodeExecutor]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeRemote]:
    host = remote_docker_host()
    made: list[DockerCommandLineCodeExecutor] = []

    def build(**kwargs: Any) -> DockerCommandLineCodeExecutor:
        kwargs.setdefault("image", SANDBOX_IMAGE)
        kwargs.setdefault("work_dir", tmp_path / "work")
        kwargs.setdefault("docker_host", host)
        made.append(DockerCommandLineCodeExecutor(**kwargs))
        return made[-1]

    yield build
    for executor in made:
        executor.close()


def remote_client() -> Any:
    return docker.DockerClient(base_url=remote_docker_host(), timeout=30)


def py(code: str) -> CodeBlock:
    return CodeBlock(code, "python")


def test_the_container_has_no_bind_mount_and_files_travel_both_ways(make: MakeRemote, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "input.txt").write_text("from this machine")
    executor = make()
    code = (
        "import os\n"
        "print(open('data/input.txt').read())\n"
        "os.makedirs('results', exist_ok=True)\n"
        "open('results/out.txt', 'w').write('made in the container')\n"
        "open('plot.png', 'wb').write(b'\\x89PNG fake')\n"
        "os.symlink('/etc/passwd', 'leak')\n"
    )
    result = executor.execute_code_blocks([py(code)])
    assert (result.exit_code, result.output) == (0, "from this machine\n")
    assert (work / "results" / "out.txt").read_text() == "made in the container"
    assert (work / "plot.png").read_bytes() == b"\x89PNG fake"
    assert not (work / "leak").is_symlink()  # links are not copied back
    assert not (work / "leak").exists()
    client = remote_client()
    try:
        [container] = client.containers.list(filters={"name": executor.container_name})
        assert container.attrs["Mounts"] == []
        assert container.attrs["HostConfig"]["Binds"] in (None, [])
    finally:
        client.close()


def test_files_in_work_dir_are_seen_by_later_blocks_and_changes_come_back_each_block(make: MakeRemote) -> None:
    executor = make()
    first = executor.execute_code_blocks([py("# filename: lib.py\nVALUE = 41")])
    assert first.exit_code == 0
    second = executor.execute_code_blocks([py("import lib\nopen('n.txt', 'w').write(str(lib.VALUE + 1))")])
    assert second.exit_code == 0
    assert (executor.work_dir / "n.txt").read_text() == "42"
    third = executor.execute_code_blocks([py("open('n.txt', 'w').write('43!')")])
    assert third.exit_code == 0
    assert (executor.work_dir / "n.txt").read_text() == "43!"


def test_links_planted_on_this_side_are_never_written_through(make: MakeRemote, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("untouched")
    executor = make()
    executor.execute_code_blocks([py("print('start')")])
    (work / "out.txt").symlink_to(outside / "target.txt")  # as if planted where the container writes
    (work / "sub").symlink_to(outside, target_is_directory=True)
    code = "import os\nopen('out.txt', 'w').write('new')\nos.makedirs('sub')\nopen('sub/target.txt', 'w').write('x')"
    result = executor.execute_code_blocks([py(code)])
    assert result.exit_code == 0
    assert (outside / "target.txt").read_text() == "untouched"
    assert not (work / "out.txt").is_symlink()  # the link was replaced by the file, not followed
    assert (work / "out.txt").read_text() == "new"
    assert "[/workspace/sub/target.txt was not copied back: a link on this side is in its way.]" in result.output


def test_docker_host_comes_from_the_environment_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = remote_docker_host()
    monkeypatch.setenv("DOCKER_HOST", host)
    with DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=tmp_path) as executor:
        result = executor.execute_code_blocks([py("open('x.txt', 'w').write('via DOCKER_HOST')")])
        client = remote_client()
        try:
            [container] = client.containers.list(filters={"name": executor.container_name})
            assert container.attrs["Mounts"] == []  # a daemon reached over TCP mounts nothing of this machine
        finally:
            client.close()
    assert result.exit_code == 0
    assert (tmp_path / "x.txt").read_text() == "via DOCKER_HOST"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"docker_host": "build-box:2376"}, "docker_host must be a Docker daemon address"),
        ({"docker_host": "tcp://"}, "docker_host must be a Docker daemon address"),
        ({"tls": True}, "tls needs docker_host"),
        ({"docker_host": "tcp://127.0.0.1:1", "tls": "yes"}, "tls must be True"),
    ],
)
def test_bad_host_settings_are_config_errors_before_any_io(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, **kwargs)


def test_an_unreachable_host_is_a_clear_error_at_first_use(tmp_path: Path) -> None:
    from parley.exceptions import ExecutorUnavailableError

    executor = DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=tmp_path, docker_host="tcp://127.0.0.1:1")
    with pytest.raises(ExecutorUnavailableError, match="Docker is not running or not reachable"):
        executor.execute_code_blocks([py("print(1)")])
    executor.close()


def _restart_remote_daemon() -> None:
    """Stop the remote dockerd (SIGTERM, as a host restart would) and start it again with the setup script."""
    pid = int(Path("/run/parley-docker-remote.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TMPDIR": "/tmp"}  # the daemon and its log outlive the session's temporary directory
    script = str(root / "scripts" / "docker_remote_setup.sh")
    subprocess.run(["bash", script], check=True, capture_output=True, timeout=120, env=env)


@pytest.mark.timeout(180)
def test_the_remote_daemon_restarted_between_blocks_gives_a_fresh_container_and_says_so(make: MakeRemote) -> None:
    executor = make()
    first = executor.execute_code_blocks([py("open('kept.txt', 'w').write('kept')")])
    assert first.exit_code == 0
    _restart_remote_daemon()
    began = time.monotonic()
    result = executor.execute_code_blocks([py("print(open('kept.txt').read())")])
    took = time.monotonic() - began
    assert result.exit_code == 0
    assert "The container had stopped since the last block" in result.output
    assert result.output.endswith("kept\n")  # work_dir's files were copied into the fresh container
    assert took < 60  # bound: a fresh container on a daemon that answers


def test_executable_scripts_keep_their_bit(make: MakeRemote, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "tool.sh").write_text("#!/bin/sh\necho tool ran\n")
    (work / "tool.sh").chmod(0o755)
    result = make().execute_code_blocks([CodeBlock("./tool.sh", "sh")])
    assert (result.exit_code, result.output) == (0, "tool ran\n")


def test_a_work_dir_too_big_to_copy_is_an_error_saying_so(make: MakeRemote, tmp_path: Path) -> None:
    from parley.coding import _docker_files

    work = tmp_path / "big"
    work.mkdir()
    (work / "data.bin").write_bytes(b"x" * 2048)
    original = _docker_files.DEFAULT_PULL_BYTES
    try:
        _docker_files.FileSync.__init__.__defaults__ = (1024,)  # a 1 KiB limit stands in for 256 MiB
        executor = make(work_dir=work)
        with pytest.raises(ExecutorError, match=r"holds more than 1,024 bytes of files"):
            executor.execute_code_blocks([py("print(1)")])
    finally:
        _docker_files.FileSync.__init__.__defaults__ = (original,)
