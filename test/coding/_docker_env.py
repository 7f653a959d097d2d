"""Docker for the tests: is a daemon with the test image here, and which parley containers remain.

The "remote" daemon is a second dockerd on a loopback TCP port with its own data root
(``bash scripts/docker_remote_setup.sh``, run by ``scripts/test.sh``, which exports its address
as ``PARLEY_TEST_DOCKER_HOST``): the executor reaches it as a daemon on another machine, without
a bind mount.

``bash scripts/docker_setup.sh`` (run by ``scripts/test.sh``) installs Docker, starts the
daemon and builds the image. Without them the Docker tests skip, each with the same reason;
with ``CI=true`` they fail instead (`conftest.require`).
"""

from __future__ import annotations

import functools
import os
import subprocess

from conftest import require

SANDBOX_IMAGE = os.environ.get("PARLEY_SANDBOX_IMAGE", "parley-sandbox:test")
"""The image the Docker tests run: a debootstrapped Debian with python3, built locally."""

_used = False
_remote_used = False


@functools.cache
def docker_problem() -> str | None:
    """Why the Docker tests cannot run here, or None when they can."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed: pip install 'pyparley[docker]'"
    try:
        client = docker.from_env()
        try:
            client.images.get(SANDBOX_IMAGE)
        finally:
            client.close()
    except docker.errors.ImageNotFound:
        return f"the image {SANDBOX_IMAGE} is missing: bash scripts/docker_setup.sh builds it"
    except docker.errors.DockerException as exc:
        return f"no Docker daemon answers ({exc}): bash scripts/docker_setup.sh starts one"
    return None


def require_docker() -> None:
    """Skip the calling test when Docker or the test image is missing (fail on CI)."""
    global _used
    problem = docker_problem()
    require(problem is None, f"Docker with the image {SANDBOX_IMAGE} ({problem})")
    _used = True


def docker_was_used() -> bool:
    """True once a test in this session got past `require_docker`."""
    return _used


def our_containers() -> list[str]:
    """``docker ps -a`` lines for the containers parley executors made in this process."""
    done = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=parley.executor", "--filter", f"label=parley.pid={os.getpid()}",
         "--format", "{{.ID}} {{.Names}} {{.Status}}"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout.splitlines()


@functools.cache
def remote_docker_problem() -> str | None:
    """Why the remote-daemon tests cannot run here, or None when they can."""
    host = os.environ.get("PARLEY_TEST_DOCKER_HOST")
    if not host:
        return "PARLEY_TEST_DOCKER_HOST is not set: bash scripts/docker_remote_setup.sh starts that daemon"
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed: pip install 'parley[docker]'"
    try:
        client = docker.DockerClient(base_url=host, timeout=10)
        try:
            client.images.get(SANDBOX_IMAGE)
        finally:
            client.close()
    except docker.errors.DockerException as exc:
        return f"the daemon at {host} does not answer or lacks {SANDBOX_IMAGE} ({exc})"
    return None


def remote_docker_host() -> str:
    """The remote daemon's address; skips the calling test when it is not there (fails on CI)."""
    global _remote_used
    problem = remote_docker_problem()
    require(problem is None, f"a remote Docker daemon ({problem})")
    _remote_used = True
    return os.environ["PARLEY_TEST_DOCKER_HOST"]


def remote_was_used() -> bool:
    """True once a test in this session got past `remote_docker_host`."""
    return _remote_used


def our_remote_containers() -> list[str]:
    """Like `our_containers`, on the remote daemon."""
    done = subprocess.run(
        ["docker", "-H", os.environ["PARLEY_TEST_DOCKER_HOST"], "ps", "-a", "--filter", "label=parley.executor",
         "--filter", f"label=parley.pid={os.getpid()}", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout.splitlines()
