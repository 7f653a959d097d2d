"""Fixtures for the code layer: the executor factory the contract suite runs over, process checks."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from parley.coding import CodeExecutor, DockerCommandLineCodeExecutor, LocalCommandLineCodeExecutor
from parley.testing.kernel_gateway import LocalKernelGateway

if TYPE_CHECKING:
    from parley.coding.jupyter import EmbeddedIPythonCodeExecutor, JupyterCodeExecutor

from ._docker_env import (
    SANDBOX_IMAGE,
    docker_was_used,
    our_containers,
    our_remote_containers,
    remote_docker_host,
    remote_was_used,
    require_docker,
)
from ._gateway_env import (
    running_enterprise_gateway,
    running_gateway,
    started_enterprise_gateway,
    started_gateway,
    stop_enterprise_gateway,
    stop_gateway,
)
from ._kernel_env import require_kernel

MakeExecutor = Callable[..., CodeExecutor]
MakeKernelExecutor = Callable[..., "EmbeddedIPythonCodeExecutor | JupyterCodeExecutor"]


def _make_local(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    return LocalCommandLineCodeExecutor(work_dir=work_dir, **kwargs)


def _make_local_plain(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    return LocalCommandLineCodeExecutor(work_dir=work_dir, fork_server=False, **kwargs)


def _make_docker(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    require_docker()
    return DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=work_dir, **kwargs)


def _make_docker_remote(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    host = remote_docker_host()
    return DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=work_dir, docker_host=host, **kwargs)


def _make_ipython(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    require_kernel()
    from parley.coding.jupyter import EmbeddedIPythonCodeExecutor

    return EmbeddedIPythonCodeExecutor(work_dir=work_dir, **kwargs)


def _make_jupyter(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    gateway = running_gateway()
    from parley.coding.jupyter import JupyterCodeExecutor

    return JupyterCodeExecutor(gateway.connection_info, work_dir=work_dir, **kwargs)


def _make_enterprise(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    gateway = running_enterprise_gateway()
    from parley.coding.jupyter import JupyterCodeExecutor

    return JupyterCodeExecutor(gateway.connection_info, work_dir=work_dir, **kwargs)


# Executor name -> builder taking (work_dir, timeout=..., max_output_chars=...).
# Every contract test runs on each of them.
_BUILDERS: dict[str, Callable[..., CodeExecutor]] = {
    "local": _make_local,
    "local-plain": _make_local_plain,
    "docker": _make_docker,
    "docker-remote": _make_docker_remote,
    "ipython-embedded": _make_ipython,
    "jupyter": _make_jupyter,
    "jupyter-enterprise": _make_enterprise,
}


@contextlib.contextmanager
def building(name: str, work_dir: Path) -> Iterator[MakeExecutor]:
    """A function building the executor ``name`` on ``work_dir`` (by default); all are closed after."""
    made: list[CodeExecutor] = []

    def make(**kwargs: Any) -> CodeExecutor:
        kwargs.setdefault("work_dir", work_dir)
        executor = _BUILDERS[name](**kwargs)
        made.append(executor)
        return executor

    try:
        yield make
    finally:
        for executor in made:
            close = getattr(executor, "close", None)
            if close is not None:
                close()


@pytest.fixture(params=sorted(_BUILDERS))
def executor_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeExecutor]:
    """A function building the parametrised executor on a fresh ``work_dir``; all are closed after."""
    with building(request.param, tmp_path / "work") as make:
        yield make


@pytest.fixture(params=["ipython-embedded", "jupyter", "jupyter-enterprise"])
def kernel_executor_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeKernelExecutor]:
    """Like ``executor_factory``, over the two executors that own a kernel (local, and on a gateway)."""
    with building(request.param, tmp_path / "work") as make:
        yield cast(MakeKernelExecutor, make)


@pytest.fixture
def docker_executor(tmp_path: Path) -> Iterator[Callable[..., DockerCommandLineCodeExecutor]]:
    """Builds Docker executors on the test image and ``tmp_path / "work"``; skips without Docker."""
    require_docker()
    made: list[DockerCommandLineCodeExecutor] = []

    def make(**kwargs: Any) -> DockerCommandLineCodeExecutor:
        kwargs.setdefault("image", SANDBOX_IMAGE)
        kwargs.setdefault("work_dir", tmp_path / "work")
        made.append(DockerCommandLineCodeExecutor(**kwargs))
        return made[-1]

    yield make
    for executor in made:
        executor.close()


@pytest.fixture(autouse=True, scope="session")
def _no_docker_container_left() -> Iterator[None]:
    """After the session, no container made by a parley executor in this process remains."""
    yield
    if docker_was_used():
        gc.collect()  # an executor dropped without close() removes its container when collected
        assert our_containers() == [], "parley containers left after the test session"
    if remote_was_used():
        gc.collect()
        assert our_remote_containers() == [], "parley containers left on the remote daemon after the test session"


@pytest.fixture(scope="session")
def kernel_gateway() -> LocalKernelGateway:
    """The session's real Jupyter Kernel Gateway (started on first use, ended with the session)."""
    return running_gateway()


@pytest.fixture(autouse=True, scope="session")
def _kernel_gateway_ends_with_no_kernel_left() -> Iterator[None]:
    """After the session, the gateway (if a test started it) runs no kernel; then it is stopped."""
    yield
    gateway = started_gateway()
    try:
        if gateway is not None:
            gc.collect()  # an executor dropped without close() deletes its kernel when collected
            assert gateway.kernel_ids() == set(), "kernels left on the Jupyter Kernel Gateway after the session"
    finally:
        stop_gateway()


@pytest.fixture(autouse=True, scope="session")
def _enterprise_gateway_ends_with_no_kernel_left() -> Iterator[None]:
    """After the session, the Enterprise Gateway (if a test started it) runs no kernel; then it is stopped."""
    yield
    gateway = started_enterprise_gateway()
    try:
        if gateway is not None:
            gc.collect()
            assert gateway.kernel_ids() == set(), "kernels left on the Jupyter Enterprise Gateway after the session"
    finally:
        stop_enterprise_gateway()
