"""The Docker executor before any container: argument checks, no I/O at construction, clear errors at first use.

Only the docker SDK is needed here; the daemon-missing tests point the executor at a dead socket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent
from parley.agentchat import AgentCapability
from parley.coding import CodeBlock, CodeExecutorFactory, DockerCommandLineCodeExecutor
from parley.exceptions import ConfigError, ExecutorUnavailableError
from parley.testing import ScriptedModelClient

docker = pytest.importorskip("docker", reason="the docker SDK is not installed: pip install 'pyparley[docker]'")

PRINT = [CodeBlock("print(1)", "python")]


@pytest.mark.parametrize(
    ("kwargs", "key", "words"),
    [
        ({"timeout": 0}, "timeout", "positive"),
        ({"timeout": float("inf")}, "timeout", "finite"),
        ({"image": ""}, "image", "python:3-slim"),
        ({"container_name": "-bad name"}, "container_name", "[a-zA-Z0-9]"),
        ({"mem_limit": "lots"}, "mem_limit", "'512m'"),
        ({"pids_limit": 0}, "pids_limit", "positive int"),
        ({"cpus": -1}, "cpus", "positive number"),
        ({"network_mode": "nnone"}, "network_mode", "Did you mean 'none'"),
        ({"bind_dir": "relative/dir"}, "bind_dir", "absolute"),
        ({"auto_remove": "yes"}, "auto_remove", "True or False"),
        ({"keep_background": 1}, "keep_background", "True or False"),
        ({"user": ""}, "user", "uid:gid"),
        ({"max_output_chars": 1}, "max_output_chars", "at least 2"),
        ({"docker_client": object()}, "docker_client", "docker.from_env()"),
        ({"execution_policies": {"javascript": True}}, "execution_policies", "cannot run"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        DockerCommandLineCodeExecutor(**kwargs)
    assert info.value.key == key
    assert words in str(info.value)


def test_defaults_are_autogen_compatible_and_secure() -> None:
    executor = DockerCommandLineCodeExecutor()
    assert executor.image == "python:3-slim"
    assert executor.timeout == 60
    assert executor.work_dir == Path(".")
    assert executor.bind_dir == Path(".")
    assert executor.container_name.startswith("parley-exec-")
    assert executor.execution_policies == {"bash": True, "python": True, "sh": True, "shell": True}
    instructions = executor.user_capability.instructions
    assert "There is no network" in instructions
    assert "memory 1g, at most 256 processes" in instructions
    assert "Every process a block starts ends when the block ends" in instructions


def test_the_factory_builds_it_by_name_without_contacting_docker(tmp_path: Path) -> None:
    executor = CodeExecutorFactory.create(
        {"executor": "docker", "docker": {"image": "x:1", "work_dir": str(tmp_path), "timeout": 5}}
    )
    assert isinstance(executor, DockerCommandLineCodeExecutor)
    assert (executor.image, executor.timeout, executor.work_dir) == ("x:1", 5, tmp_path)


def test_missing_daemon_is_reported_at_first_use_not_construction(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    executor = DockerCommandLineCodeExecutor(work_dir=tmp_path / "work")  # no error: no I/O yet
    with pytest.raises(ExecutorUnavailableError) as info:
        executor.execute_code_blocks(PRINT)
    message = str(info.value)
    assert "Docker is not running or not reachable" in message
    assert "sudo dockerd &" in message
    assert "systemctl start docker" in message
    assert "{'executor': 'local'}" in message
    executor.close()


def test_an_injected_client_for_a_dead_daemon_fails_at_first_use(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-daemon.sock", version="1.41")
    executor = DockerCommandLineCodeExecutor(work_dir=tmp_path, docker_client=client)
    with executor, pytest.raises(ExecutorUnavailableError, match="Docker is not running"):
        executor.execute_code_blocks(PRINT)


def test_refused_blocks_need_no_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    with DockerCommandLineCodeExecutor(work_dir=tmp_path, execution_policies={"python": False}) as executor:
        result = executor.execute_code_blocks([CodeBlock("x = 1", "python"), CodeBlock("{}", "json")])
    assert result.exit_code == 1
    assert "not run, because execution_policies['python'] is False" in result.output
    assert "does not run 'json' code blocks" in result.output


def test_capability_is_added_once_and_describes_the_sandbox(tmp_path: Path) -> None:
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient([]))
    before = assistant.system_message
    executor = DockerCommandLineCodeExecutor(image="sandbox:1", work_dir=tmp_path, timeout=9, cpus=1.5)
    capability = executor.user_capability
    assert isinstance(capability, AgentCapability)
    capability.add_to_agent(assistant)
    once = assistant.system_message
    capability.add_to_agent(assistant)
    assert assistant.system_message == once
    added = once[len(before) :]
    assert "Docker container (image sandbox:1)" in added
    assert "/workspace" in added
    assert "9 seconds" in added
    assert "1.5 CPUs" in added
    assert "no network" in added


def test_with_the_network_on_the_instructions_say_how_to_install(tmp_path: Path) -> None:
    instructions = DockerCommandLineCodeExecutor(network_mode="bridge").user_capability.instructions
    assert "The network is on" in instructions
    assert "python3 -m pip install --user" in instructions


def test_with_keep_background_the_instructions_say_servers_stay() -> None:
    instructions = DockerCommandLineCodeExecutor(keep_background=True).user_capability.instructions
    assert "keep running for the next blocks, until the container is restarted" in instructions
    assert "ends when the block ends" not in instructions
