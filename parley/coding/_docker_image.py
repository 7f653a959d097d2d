"""Sandbox images with what a task needs: a derived image built once from ``packages`` and ``apt_packages``.

With the network off (the default), code in the sandbox cannot ``pip install``. The user
declares what it needs instead, and `ensure_image` builds an image from the executor's image
with it, on whichever daemon the executor uses (a remote one too: the build context goes over
the API):

- The tag is ``parley-sandbox-derived:<hash>``, the hash of everything that goes in: the base
  image's id (so a rebuilt base gives a new image), the package lists, the bytes of local
  packages, and the recipe's version. An image with that tag is reused without a build.
- The network is on for the build only (``network_mode="host"`` for ``apt-get`` and ``pip``);
  the containers that run code keep the executor's network mode.
- ``apt_packages`` are installed with ``apt-get``; ``packages`` with ``python3 -m pip``
  (``PIP_BREAK_SYSTEM_PACKAGES=1``: the image is the sandbox's own). A package that is a path
  on this machine (a wheel, an sdist or a project directory) is copied into the build context.
  An image without pip gets it from this interpreter's ``ensurepip`` wheel, so no index is needed
  for that step.
- Each line of the build's output is logged (``parley.coding.docker``, INFO); a failed build
  raises `ImageBuildError` quoting the end of the output, where pip and apt-get say what went wrong.

The docker SDK comes through `parley.coding._docker`, the one module that imports it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._docker import docker_sdk
from parley.exceptions import ConfigError, ExecutorUnavailableError, ImageBuildError

__all__ = ["DERIVED_REPOSITORY", "ImageBuildError", "check_packages", "derived_tag", "ensure_image"]

DERIVED_REPOSITORY = "parley-sandbox-derived"
"""The repository derived images are tagged in."""

_RECIPE = "1"  # bump when the Dockerfile below changes, so old images are not reused
_TAIL_LINES = 40  # lines of the build's output quoted in an error
_APT_NAME = re.compile(r"[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+:~\-]+)?")
_log = get_logger("parley.coding.docker")


def check_packages(key: str, value: object) -> tuple[str, ...]:
    """Check ``packages`` or ``apt_packages``: a sequence of single-line strings (apt: Debian package names).

    Raises:
        ConfigError: it is not a list of such strings (the message names ``key``).
    """
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{key} must be a list of strings such as ['numpy', 'pandas==2.2'], got {value!r}.", key=key)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip() or "\n" in item or "\r" in item:
            raise ConfigError(f"{key} must hold non-empty one-line strings, got {item!r}.", key=key)
        if key == "apt_packages" and not _APT_NAME.fullmatch(item):
            raise ConfigError(
                f"apt_packages holds Debian package names such as 'ffmpeg' or 'libgl1=1.6.0-1', got {item!r}.", key=key
            )
    return items


def _local(spec: str) -> Path | None:
    """The path a package spec names on this machine, if it is one (a wheel, an sdist, a directory)."""
    if not (spec.startswith((".", "/", "~")) or os.sep in spec or spec.endswith((".whl", ".tar.gz", ".zip"))):
        return None
    path = Path(spec).expanduser()
    return path.resolve() if path.exists() else None


def _pip_wheel() -> Path | None:
    """A pip wheel on this machine (this interpreter's ``ensurepip``, or Debian's python-wheels)."""
    import ensurepip

    places = [Path(ensurepip.__file__).parent / "_bundled", Path("/usr/share/python-wheels")]
    for place in places:
        found = sorted(place.glob("pip-*.whl")) if place.is_dir() else []
        if found:
            return found[-1]
    return None


def _digest_path(digest: Any, path: Path) -> None:
    """Feed a local package's names and bytes to ``digest`` (files in order; links not followed)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    for file in files:
        digest.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes() + b"\0")


def derived_tag(base_id: str, packages: Sequence[str], apt_packages: Sequence[str]) -> str:
    """The tag of the image derived from the image ``base_id`` with these packages (a hash of all inputs)."""
    digest = hashlib.sha256(f"{_RECIPE}\0{base_id}\0".encode())
    for key, items in (("apt", apt_packages), ("pip", packages)):
        for item in items:
            digest.update(f"{key}\0{item}\0".encode())
            local = _local(item) if key == "pip" else None
            if local is not None:
                _digest_path(digest, local)
    return f"{DERIVED_REPOSITORY}:{digest.hexdigest()[:20]}"


def _context(base_id: str, packages: Sequence[str], apt_packages: Sequence[str], tag: str) -> bytes:
    """The build context: a Dockerfile, and the local packages and pip's wheel under ``parley-build/``."""
    lines = [f"FROM {base_id}"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if apt_packages:
            names = " ".join(shlex.quote(name) for name in apt_packages)
            lines.append(
                "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                f"--no-install-recommends {names} && rm -rf /var/lib/apt/lists/*"
            )
        if packages:
            specs = []
            for number, spec in enumerate(packages):
                local = _local(spec)
                if local is None:
                    specs.append(shlex.quote(spec))
                    continue
                inside = f"parley-build/{number}/{local.name}"
                tar.add(str(local), arcname=inside)
                specs.append(shlex.quote(f"/tmp/{inside}"))
            wheel = _pip_wheel()
            bootstrap = ""
            if wheel is not None:
                tar.add(str(wheel), arcname=f"parley-build/{wheel.name}")
                pip = f"/tmp/parley-build/{wheel.name}"
                bootstrap = (
                    f"(python3 -m pip --version >/dev/null 2>&1 || python3 {pip}/pip install --no-index {pip}) && "
                )
            lines += [
                "COPY parley-build/ /tmp/parley-build/",
                "ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1",
                f"RUN {bootstrap}python3 -m pip install --no-cache-dir {' '.join(specs)} && rm -rf /tmp/parley-build",
            ]
        lines.append(f"LABEL parley.sandbox.derived={shlex.quote(tag)}")
        dockerfile = ("\n".join(lines) + "\n").encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return buffer.getvalue()


def ensure_image(client: Any, base: str, packages: Sequence[str], apt_packages: Sequence[str]) -> str:
    """Return the image to run: ``base`` itself, or the derived image with the packages (built once).

    Blocks for the whole build (minutes for big packages); call it from a worker thread.

    Args:
        client: a docker client for the daemon that runs the sandbox.
        base: the executor's image (pulled first if missing).
        packages: pip requirement specs or local paths.
        apt_packages: Debian package names.

    Raises:
        ImageBuildError: the build failed (the message quotes the end of its output).
        ExecutorUnavailableError: the base image is missing and cannot be pulled, or the daemon failed.
    """
    if not packages and not apt_packages:
        return base
    docker = docker_sdk()
    try:
        try:
            base_id = str(client.images.get(base).id)
        except docker.errors.ImageNotFound:
            base_id = str(client.images.pull(base).id)
        tag = derived_tag(base_id, packages, apt_packages)
        try:
            client.images.get(tag)
            return tag  # built before: reused
        except docker.errors.ImageNotFound:
            pass
        _log.info("building the sandbox image %s from %s (packages %s, apt %s)", tag, base, packages, apt_packages)
        context = _context(base_id, packages, apt_packages, tag)
        output: list[str] = []
        failure = None
        stream = client.api.build(
            fileobj=io.BytesIO(context), custom_context=True, tag=tag, network_mode="host", rm=True, forcerm=True,
            decode=True,
        )  # fmt: skip
        for chunk in stream:
            text = str(chunk.get("stream") or chunk.get("status") or "")
            for line in text.splitlines():
                if line.strip():
                    output.append(line)
                    _log.info("build %s: %s", tag, line)
            if "error" in chunk:
                failure = str(chunk.get("error") or chunk.get("errorDetail"))
    except docker.errors.DockerException as exc:
        raise ExecutorUnavailableError(f"Docker could not build the sandbox image from {base!r}: {exc}") from exc
    if failure is not None:
        tail = "\n".join(output[-_TAIL_LINES:])
        hint = (
            " The image has no pip and none was found on this machine: use an image with pip, or add "
            "apt_packages=['python3-pip']."
            if "No module named pip" in tail
            else ""
        )
        raise ImageBuildError(
            f"Building the sandbox image with packages={list(packages)} apt_packages={list(apt_packages)} from "
            f"{base!r} failed: {failure}.{hint} The end of the build's output:\n{tail}"
        )
    return tag
