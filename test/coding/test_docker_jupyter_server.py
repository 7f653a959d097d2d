"""`DockerJupyterServer` (AutoGen 0.2's ``coding.jupyter``): a real Kernel Gateway in a real container.

This machine's Docker has no working ``docker0`` bridge, so the tests that run code use
``network="host"``; the bridge test checks whichever holds: code runs, or the error says to use
``network="host"``.
"""

from __future__ import annotations

import io
import logging
import urllib.error
import uuid
from collections.abc import Iterator

import docker
import pytest

from parley.coding import CodeBlock
from parley.coding.jupyter import DockerJupyterServer, JupyterCodeExecutor, JupyterConnectable
from parley.coding.jupyter._gateway_image import GATEWAY_REPOSITORY
from parley.coding.jupyter.local_jupyter_server import get_json
from parley.exceptions import ConfigError, ExecutorUnavailableError

from ._docker_env import SANDBOX_IMAGE, our_containers, require_docker

pytestmark = pytest.mark.timeout(600)


def named(name: str) -> list[str]:
    """``docker ps -a`` ids of the containers with exactly this name."""
    client = docker.from_env()
    try:
        return [c.id for c in client.containers.list(all=True, filters={"name": f"^/{name}$"})]
    finally:
        client.close()


def test_the_autogen_way_runs_code_keeps_state_and_stop_removes_the_container() -> None:
    require_docker()
    server = DockerJupyterServer(image=SANDBOX_IMAGE, network="host")
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url  # the constructor started nothing
    assert named(server.container_name) == []
    executor = JupyterCodeExecutor(server)
    try:
        assert isinstance(server, JupyterConnectable)  # (which reads connection_info: it would start it)
        first = executor.execute_code_blocks([CodeBlock("x = 41\nprint(1)", "python")])
        assert (first.exit_code, first.output.strip()) == (0, "1")
        assert executor.execute_code_blocks([CodeBlock("print(x + 1)", "python")]).output.strip() == "42"
        assert len(server.kernel_ids()) == 1
        assert len(named(server.container_name)) == 1
        info = server.connection_info
        assert (info.host, info.token) == ("127.0.0.1", server.token)
        assert len(server.token) == 64
        with pytest.raises(urllib.error.HTTPError) as refused:  # the token is required, and only in a header
            get_json(server.url, "", "/api/kernels")
        assert refused.value.code in (401, 403)
        env = executor.execute_code_blocks([CodeBlock("import os\nprint(sorted(os.environ.values()))", "python")])
        assert server.token not in env.output  # the kernels' environment does not hold it
    finally:
        executor.close()
        server.stop()
        server.stop()
    assert named(server.container_name) == []
    assert our_containers() == []
    with pytest.raises(RuntimeError, match="stopped"):
        _ = server.connection_info  # never restarted behind the caller's back


@pytest.fixture
def fresh_base() -> Iterator[str]:
    """A base image no gateway image was built from yet (the test image with a new label); removed afterwards."""
    require_docker()
    client = docker.from_env()
    tag = f"parley-jupyter-test-base:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {SANDBOX_IMAGE}\nLABEL parley.test={tag}\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    try:
        yield tag
    finally:
        gateway_ids = {i.id for i in client.images.list(name=GATEWAY_REPOSITORY) if f"parley.test={tag}" in _labels(i)}
        for image_id in gateway_ids:
            client.images.remove(image_id, force=True)
        client.images.remove(tag, force=True)
        client.close()


def _labels(image: object) -> str:
    labels = getattr(image, "labels", {}) or {}
    return " ".join(f"{k}={v}" for k, v in labels.items())


def test_the_image_is_built_once_and_reused_and_a_custom_image_is_used_as_it_is(
    fresh_base: str, caplog: pytest.LogCaptureFixture
) -> None:
    code = [CodeBlock("import jupyter_client\nprint('ok')", "python")]
    with caplog.at_level(logging.INFO, logger="parley.coding.docker"):
        with DockerJupyterServer(image=fresh_base, network="host") as first, JupyterCodeExecutor(first) as executor:
            assert executor.execute_code_blocks(code).output.strip() == "ok"
        with DockerJupyterServer(image=fresh_base, network="host") as second, JupyterCodeExecutor(second) as executor:
            assert executor.execute_code_blocks(code).output.strip() == "ok"
    builds = [r.getMessage() for r in caplog.records if r.getMessage().startswith("building the Jupyter gateway")]
    assert len(builds) == 1, builds
    client = docker.from_env()
    try:
        built = [i for i in client.images.list(name=GATEWAY_REPOSITORY) if f"parley.test={fresh_base}" in _labels(i)]
        assert len(built) == 1
        tag = next(t for t in built[0].tags if t.startswith(GATEWAY_REPOSITORY))
    finally:
        client.close()
    caplog.clear()
    with (
        caplog.at_level(logging.INFO, logger="parley.coding.docker"),
        DockerJupyterServer(custom_image_name=tag, network="host", token="my-token") as third,
    ):
        assert third.connection_info.token == "my-token"
        assert third.get("/api")["version"]
    assert not [r for r in caplog.records if r.getMessage().startswith("building")]
    assert our_containers() == []


def test_the_default_bridge_network_runs_code_or_says_to_use_host() -> None:
    require_docker()
    server = DockerJupyterServer(image=SANDBOX_IMAGE)
    try:
        try:
            server.start()
            problem = ""
        except ExecutorUnavailableError as exc:  # no docker0 bridge here (as on this project's CI machine)
            problem = str(exc)
        if problem:
            assert "network='host'" in problem
        else:
            with JupyterCodeExecutor(server) as executor:
                assert executor.execute_code_blocks([CodeBlock("print(1)", "python")]).output.strip() == "1"
    finally:
        server.stop()
    assert our_containers() == []


def test_a_network_it_cannot_be_reached_on_and_a_bad_token_are_refused_at_once() -> None:
    with pytest.raises(ConfigError, match="network='bridge'"):
        DockerJupyterServer(network="none")
    with pytest.raises(ConfigError, match="token must be"):
        DockerJupyterServer(token=42)  # type: ignore[arg-type]
    assert DockerJupyterServer(token=DockerJupyterServer.GenerateToken()).token != ""
    assert DockerJupyterServer(token="").token == ""
