"""The Docker image `DockerJupyterServer` runs by default: a base image with a Jupyter Kernel Gateway, built once.

No index needs to be reachable from inside a container: the gateway's wheels (jupyter-kernel-gateway,
ipykernel and their dependencies) are downloaded on this machine by this interpreter's pip, for the
base image's Python and platform (asked of the image once, in a container without network), and
installed from those files by the shared image builder (`parley.coding._docker_image.ensure_image`).

The result is tagged ``parley-jupyter-gateway:<hash>``, the hash of the base image's id, the
requirements and this recipe's version; an image with that tag is used as it is, so the download
and the build happen once per base image (a rebuilt base gives a new image). The wheels are
downloaded to a temporary directory, removed after the build.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._docker import Container, ContainerSpec, RunHandle, docker_sdk
from parley.coding._docker_image import ensure_image
from parley.exceptions import ExecutorUnavailableError, ImageBuildError

__all__ = ["GATEWAY_REPOSITORY", "GATEWAY_REQUIREMENTS", "gateway_image"]

GATEWAY_REPOSITORY = "parley-jupyter-gateway"
"""The repository the gateway images are tagged in."""

GATEWAY_REQUIREMENTS = ("jupyter-kernel-gateway>=3.0", "ipykernel>=6.29")
"""What is installed in the base image."""

_RECIPE = "1"  # bump when what goes into the image changes, so old images are not reused
_DOWNLOAD_TIMEOUT_S = 900.0
_PROBE = (
    "import platform, sys; libc, version = platform.libc_ver(); "
    'print(f\'{sys.version_info[0]}.{sys.version_info[1]} {libc or "none"} {version or "0.0"} {platform.machine()}\')'
)
_log = get_logger("parley.coding.docker")


def gateway_image(client: Any, base: str) -> str:
    """The tag of ``base`` with the gateway installed; built (once) when missing.

    Blocks for the whole download and build (a minute or more the first time).

    Args:
        client: a docker client.
        base: the image to start from: glibc Linux with ``python3`` (``python:3-slim``, Debian, Ubuntu).

    Raises:
        ImageBuildError: the image has no usable Python, the wheels could not be downloaded, or
            the build failed (the message quotes pip's or the build's output).
        ExecutorUnavailableError: the base image is missing and cannot be pulled, or the daemon failed.
    """
    docker = docker_sdk()
    try:
        try:
            base_id = str(client.images.get(base).id)
        except docker.errors.ImageNotFound:
            base_id = str(client.images.pull(base).id)
        digest = hashlib.sha256("\0".join((_RECIPE, base_id, *GATEWAY_REQUIREMENTS)).encode()).hexdigest()[:20]
        tag = f"{GATEWAY_REPOSITORY}:{digest}"
        try:
            client.images.get(tag)
            return tag  # built before: reused
        except docker.errors.ImageNotFound:
            pass
    except docker.errors.DockerException as exc:
        raise ExecutorUnavailableError(f"Docker could not find or pull the image {base!r}: {exc}") from exc
    python = _probe(client, base)
    _log.info("building the Jupyter gateway image %s from %s (Python %s)", tag, base, python)
    with tempfile.TemporaryDirectory(prefix="parley-gateway-wheels-") as wheels:
        files = _download(python, base, Path(wheels))
        built = ensure_image(client, base, files, ())
        try:
            client.images.get(built).tag(GATEWAY_REPOSITORY, digest)
        except docker.errors.DockerException as exc:
            raise ExecutorUnavailableError(f"Docker could not tag the image {built}: {exc}") from exc
    return tag


def _probe(client: Any, base: str) -> tuple[str, str, str, str]:
    """The base image's Python version, libc, libc version and machine, asked in a container without network.

    Raises:
        ImageBuildError: the image has no ``python3``.
    """
    spec = ContainerSpec(
        image=base, name=f"parley-gateway-probe-{uuid.uuid4().hex[:8]}", bind_dir=None, mount="/",
        network_mode="none", mem_limit=None, pids_limit=None, nano_cpus=None, auto_remove=False,
        labels={"parley.executor": "jupyter-probe", "parley.pid": str(os.getpid())},
    )  # fmt: skip
    container = Container.start(client, spec)
    output: list[bytes] = []
    try:
        code = container.run(["python3", "-c", _PROBE], env={}, user="", on_output=output.append, handle=RunHandle())
    finally:
        container.remove()
    words = b"".join(output).decode(errors="replace").split()
    if code != 0 or len(words) != 4:
        raise ImageBuildError(
            f"The image {base!r} cannot run a Jupyter Kernel Gateway: `python3` there failed "
            f"({b''.join(output).decode(errors='replace').strip()[-500:] or f'exit code {code}'}). Use an image with "
            "Python 3.9 or later on glibc (python:3-slim, Debian, Ubuntu), or pass custom_image_name= with a gateway."
        )
    version, libc, libc_version, machine = words
    if libc != "glibc":
        raise ImageBuildError(
            f"The image {base!r} is not glibc-based (libc {libc!r}); the gateway's wheels are downloaded for glibc "
            "Linux. Use a Debian or Ubuntu based image such as python:3-slim, or pass custom_image_name= with a "
            "gateway installed."
        )
    return version, libc, libc_version, machine


def _download(python: tuple[str, str, str, str], base: str, dest: Path) -> list[str]:
    """Download the gateway's wheels for ``python`` (see `_probe`) into ``dest``; their paths, sorted.

    Raises:
        ImageBuildError: pip failed (its output is quoted) or is missing.
    """
    version, _, libc_version, machine = python
    major, _, minor = libc_version.partition(".")
    platforms = [f"manylinux_2_{n}_{machine}" for n in range(5, int(minor or 0) + 1)] if major == "2" else []
    platforms += [f"manylinux{n}_{machine}" for n in ("1", "2010", "2014")] + [f"linux_{machine}"]
    argv = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
        "--python-version", version, "--implementation", "cp", "--abi", "cp" + version.replace(".", ""),
        *(arg for platform in platforms for arg in ("--platform", platform)), "--dest", str(dest),
        *GATEWAY_REQUIREMENTS,
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageBuildError(f"Downloading the Jupyter gateway's wheels with pip failed: {exc}") from exc
    files = sorted(str(path) for path in dest.glob("*.whl"))
    if done.returncode != 0 or not files:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise ImageBuildError(
            f"Downloading the Jupyter gateway's wheels ({', '.join(GATEWAY_REQUIREMENTS)}) for Python {version} on "
            f"{machine} (the image {base!r}) failed: pip needs its index reachable from this machine (check `pip "
            f"config list`), or pass custom_image_name= with a gateway installed. pip said:\n{tail}"
        )
    return files
