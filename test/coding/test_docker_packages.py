"""Sandbox images with packages: built once from the test image with a local wheel, on the local and a remote daemon."""

from __future__ import annotations

import base64
import hashlib
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor
from parley.coding._docker_image import DERIVED_REPOSITORY
from parley.exceptions import ConfigError, ImageBuildError

from ._docker_env import SANDBOX_IMAGE, remote_docker_host, require_docker


def make_wheel(dest: Path, value: int, name: str = "parley_probe") -> Path:
    """A minimal pure-Python wheel, byte for byte the same for the same ``value`` (fixed timestamps)."""
    files = {
        f"{name}/__init__.py": f"VALUE = {value}\n".encode(),
        f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    )
    files[f"{name}-1.0.dist-info/RECORD"] = (record + f"{name}-1.0.dist-info/RECORD,,\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel


@pytest.fixture(params=["local", "remote"])
def daemon(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Executor arguments for the daemon; the derived images built on it are removed afterwards."""
    if request.param == "local":
        require_docker()
        client, extra = docker.from_env(), {}
    else:
        host = remote_docker_host()
        client, extra = docker.DockerClient(base_url=host), {"docker_host": host}
    before = {image.id for image in client.images.list(name=DERIVED_REPOSITORY)}
    yield extra
    for image in client.images.list(name=DERIVED_REPOSITORY):
        if image.id not in before:
            client.images.remove(image.id, force=True)
    client.close()


def built(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("building the sandbox image")]


@pytest.mark.timeout(300)
def test_a_local_wheel_is_installed_in_an_image_built_once_and_reused(
    daemon: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wheel = make_wheel(tmp_path / "dist", 42)
    code = [CodeBlock("import parley_probe, socket\nprint(parley_probe.VALUE)", "python")]
    with caplog.at_level(logging.INFO, logger="parley.coding.docker"):
        with DockerCommandLineCodeExecutor(
            SANDBOX_IMAGE, work_dir=tmp_path / "a", packages=[str(wheel)], **daemon
        ) as first:
            result = first.execute_code_blocks(code)
            network = first.execute_code_blocks(
                [CodeBlock("cat /sys/class/net/*/operstate | wc -l; ls /sys/class/net", "sh")]
            )
        assert len(built(caplog)) == 1
        with DockerCommandLineCodeExecutor(
            SANDBOX_IMAGE, work_dir=tmp_path / "b", packages=[str(wheel)], **daemon
        ) as second:
            again = second.execute_code_blocks(code)
        assert len(built(caplog)) == 1  # the same inputs: the image was reused, not built again
    assert (result.exit_code, result.output) == (0, "42\n")
    assert (again.exit_code, again.output) == (0, "42\n")
    assert network.output.split()[-1] == "lo"  # the network was on for the build only
    assert any("Successfully installed parley-probe-1.0" in r.getMessage() for r in caplog.records)  # progress logged


@pytest.mark.timeout(300)
def test_a_changed_local_package_gives_a_new_image(
    daemon: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = [CodeBlock("import parley_probe\nprint(parley_probe.VALUE)", "python")]
    outputs = []
    with caplog.at_level(logging.INFO, logger="parley.coding.docker"):
        for value in (1, 2):
            wheel = make_wheel(tmp_path / f"dist{value}", value)
            with DockerCommandLineCodeExecutor(
                SANDBOX_IMAGE, work_dir=tmp_path / "w", packages=[str(wheel)], **daemon
            ) as executor:
                outputs.append(executor.execute_code_blocks(code).output)
    assert outputs == ["1\n", "2\n"]
    assert len(built(caplog)) == 2


@pytest.mark.timeout(300)
def test_a_failing_pip_install_shows_pips_own_message(daemon: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"this is not a zip file")
    executor = DockerCommandLineCodeExecutor(SANDBOX_IMAGE, work_dir=tmp_path / "w", packages=[str(broken)], **daemon)
    with pytest.raises(ImageBuildError, match=r"Building the sandbox image with packages=\[") as caught:
        executor.execute_code_blocks([CodeBlock("print(1)", "python")])
    executor.close()
    message = str(caught.value)
    assert "The end of the build's output:" in message
    assert "ERROR:" in message  # pip's own words
    assert "broken-1.0-py3-none-any.whl" in message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"packages": "numpy"}, "packages must be a list of strings"),
        ({"packages": ["numpy\nRUN rm -rf /"]}, "packages must hold non-empty one-line strings"),
        ({"apt_packages": ["ffmpeg; rm -rf /"]}, "apt_packages holds Debian package names"),
    ],
)
def test_bad_package_lists_are_config_errors_before_any_io(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DockerCommandLineCodeExecutor(SANDBOX_IMAGE, **kwargs)
