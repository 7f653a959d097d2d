"""Checking the Docker executor's arguments: pure, no I/O, every error a `ConfigError` that says what to pass."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.coding._docker_image import check_packages
from parley.coding._options import check_max_output_chars, check_path, check_policies, check_seconds
from parley.exceptions import ConfigError

__all__ = ["DockerOptions", "check_options"]

# Docker's own rules: a container name is [a-zA-Z0-9][a-zA-Z0-9_.-]+; a size is a number with an
# optional b/k/m/g unit (docker-py's parse_bytes).
_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_SIZE = re.compile(r"\d+(\.\d+)?[bkmg]?", re.IGNORECASE)
_NETWORK_MODES = ("none", "bridge", "host")


@dataclass(frozen=True)
class DockerOptions:
    """The Docker executor's arguments, checked. See `DockerCommandLineCodeExecutor` for each."""

    image: str
    timeout: float
    work_dir: Path
    bind_dir: Path | None
    auto_remove: bool
    stop_container: bool
    policies: Mapping[str, bool]
    network_mode: str
    mem_limit: str | int | None
    pids_limit: int | None
    cpus: float | None
    user: str | None
    max_output_chars: int
    keep_background: bool = False
    docker_host: str | None = None
    tls: Any = None
    packages: tuple[str, ...] = ()
    apt_packages: tuple[str, ...] = ()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_network_mode(network_mode: object) -> str:
    if not isinstance(network_mode, str) or not network_mode.strip():
        raise ConfigError(
            f"network_mode must be a Docker network mode such as 'none' (the default: no network), 'bridge' or "
            f"'host', got {network_mode!r}.",
            key="network_mode",
        )
    if network_mode not in _NETWORK_MODES and not network_mode.startswith("container:"):
        close = difflib.get_close_matches(network_mode, _NETWORK_MODES, n=1, cutoff=0.75)
        if close:  # a user-defined network may be named anything; only a near miss is an error
            raise ConfigError(f"Unknown network_mode {network_mode!r}.", key="network_mode", suggestions=close)
    return network_mode


def _check_limits(mem_limit: object, pids_limit: object, cpus: object) -> None:
    if mem_limit is not None and not (
        (isinstance(mem_limit, int) and not isinstance(mem_limit, bool) and mem_limit > 0)
        or (isinstance(mem_limit, str) and _SIZE.fullmatch(mem_limit.strip()))
    ):
        raise ConfigError(
            f"mem_limit must be a size such as '512m' or '2g', a number of bytes, or None for no limit; "
            f"got {mem_limit!r}.",
            key="mem_limit",
        )
    if pids_limit is not None and (not isinstance(pids_limit, int) or isinstance(pids_limit, bool) or pids_limit < 1):
        raise ConfigError(
            f"pids_limit must be a positive int (processes) or None for no limit, got {pids_limit!r}.", key="pids_limit"
        )
    if cpus is not None and (not _is_number(cpus) or not cpus > 0):  # type: ignore[operator]
        raise ConfigError(f"cpus must be a positive number of CPUs (e.g. 1.5) or None, got {cpus!r}.", key="cpus")


def _check_bind_dir(bind_dir: object) -> None:
    if bind_dir is not None and not isinstance(bind_dir, (str, os.PathLike)):
        raise ConfigError(f"bind_dir must be a str or Path (a directory on the Docker host), got {bind_dir!r}.")
    if bind_dir is not None and not os.path.isabs(bind_dir):
        raise ConfigError(f"bind_dir must be an absolute path on the Docker host, got {bind_dir!r}.", key="bind_dir")


_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://", "npipe://")


def _check_host(docker_host: object, tls: object, docker_client: object) -> None:
    if docker_host is not None and (
        not isinstance(docker_host, str) or not docker_host.startswith(_HOST_SCHEMES) or docker_host[-3:] == "://"
    ):
        raise ConfigError(
            "docker_host must be a Docker daemon address such as 'tcp://build-box:2376', 'ssh://user@build-box' or "
            f"'unix:///var/run/docker.sock', got {docker_host!r}.",
            key="docker_host",
        )
    if (
        tls is not None
        and not isinstance(tls, bool)
        and not isinstance(tls, Mapping)
        and not hasattr(tls, "configure_client")
    ):
        raise ConfigError(
            "tls must be True (verify the daemon with the system's CAs), a dict with ca_cert, client_cert, client_key "
            f"(paths) and verify, or a docker.tls.TLSConfig; got {type(tls).__name__}.",
            key="tls",
        )
    if tls not in (None, False) and docker_host is None:
        raise ConfigError(
            "tls needs docker_host (with DOCKER_HOST from the environment, set DOCKER_TLS_VERIFY and DOCKER_CERT_PATH "
            "instead).",
            key="tls",
        )
    if docker_client is not None and docker_host is not None:
        raise ConfigError("Pass docker_client or docker_host, not both.", key="docker_host")


def check_options(
    *,
    image: object,
    container_name: object,
    timeout: object,
    work_dir: Any,
    bind_dir: Any,
    auto_remove: object,
    stop_container: object,
    execution_policies: Mapping[str, bool] | None,
    supported: Sequence[str],
    network_mode: object,
    mem_limit: Any,
    pids_limit: Any,
    cpus: Any,
    user: object,
    max_output_chars: object,
    docker_client: object,
    keep_background: object = False,
    docker_host: object = None,
    tls: object = None,
    packages: object = None,
    apt_packages: object = None,
) -> DockerOptions:
    """Check every argument of `DockerCommandLineCodeExecutor` and return them normalised.

    Raises:
        ConfigError: the first argument that is invalid, named, with what is accepted.
    """
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ConfigError(f"image must be an image name such as 'python:3-slim', got {image!r}.", key="image")
    if container_name is not None and (
        not isinstance(container_name, str) or not _CONTAINER_NAME.fullmatch(container_name)
    ):
        raise ConfigError(
            f"container_name must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (Docker's rule), got {container_name!r}.",
            key="container_name",
        )
    seconds = check_seconds("timeout", timeout)
    path = check_path("work_dir", work_dir)
    _check_bind_dir(bind_dir)
    for key, flag in (
        ("auto_remove", auto_remove),
        ("stop_container", stop_container),
        ("keep_background", keep_background),
    ):
        if not isinstance(flag, bool):
            raise ConfigError(f"{key} must be True or False, got {flag!r}.", key=key)
    _check_limits(mem_limit, pids_limit, cpus)
    if user is not None and (not isinstance(user, str) or not user.strip()):
        raise ConfigError(f"user must be a user name, 'uid' or 'uid:gid', or None, got {user!r}.", key="user")
    budget = check_max_output_chars(max_output_chars)
    if docker_client is not None and not (hasattr(docker_client, "api") and hasattr(docker_client, "containers")):
        raise ConfigError(
            f"docker_client must be a docker.DockerClient (e.g. docker.from_env()), got {docker_client!r}.",
            key="docker_client",
        )
    _check_host(docker_host, tls, docker_client)
    return DockerOptions(
        docker_host=docker_host,  # type: ignore[arg-type]
        tls=tls,
        packages=check_packages("packages", packages),
        apt_packages=check_packages("apt_packages", apt_packages),
        image=image,
        timeout=seconds,
        work_dir=path,
        bind_dir=Path(bind_dir) if bind_dir is not None else None,
        auto_remove=bool(auto_remove),
        stop_container=bool(stop_container),
        policies=check_policies(execution_policies, supported),
        network_mode=_check_network_mode(network_mode),
        mem_limit=mem_limit.strip() if isinstance(mem_limit, str) else mem_limit,
        pids_limit=pids_limit,
        cpus=float(cpus) if cpus is not None else None,
        user=user,
        max_output_chars=budget,
        keep_background=bool(keep_background),
    )
