"""What this machine can run: the checks behind ``parley doctor`` and ``parley executors``.

Each check is a function that returns a `Check`: ``ok``, ``missing`` (not installed or not set
up: the ``fix`` says how) or ``fail`` (set up, but it does not work: the ``detail`` says what
happened). Every probe that talks to something (a daemon, a server) has a deadline, so a check
never hangs.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["PROBE_TIMEOUT_S", "Check", "all_checks", "executor_checks", "format_checks"]

PROBE_TIMEOUT_S = 3.0
"""Seconds each network probe (daemon, gateway, Redis, model endpoint) may take."""

SANDBOX_IMAGES = ("python:3-slim", "parley-sandbox:test")
"""Images the Docker check looks for: the executor's default, and the test suite's local image."""

Status = Literal["ok", "missing", "fail"]


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: what was checked (``"docker"``, ``"redis"`` ...).
        status: ``"ok"``, ``"missing"`` (not set up) or ``"fail"`` (set up but broken).
        detail: what was found, in one line.
        fix: what to do about it, in one line; empty when ``status`` is ``"ok"``.
    """

    name: str
    status: Status
    detail: str
    fix: str = ""


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_python() -> Check:
    """The interpreter running parley (3.10 or newer, or parley would not import)."""
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "ok", f"Python {version} at {sys.executable}")


def check_docker() -> Check:
    """The docker SDK, a daemon that answers, and which sandbox images it has."""
    if not _has("docker"):
        return Check("docker", "missing", "the docker SDK is not installed", "pip install 'pyparley[docker]'")
    from parley.coding._docker import _docker  # the one module that imports the SDK

    docker = _docker()
    try:
        client = docker.from_env(timeout=PROBE_TIMEOUT_S)
        try:
            client.ping()
            have = [image for image in SANDBOX_IMAGES if _image_exists(client, image)]
        finally:
            client.close()
    except Exception as exc:
        return Check(
            "docker",
            "fail",
            f"no Docker daemon answers ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            "start Docker (`sudo dockerd &` or `systemctl start docker`), or set DOCKER_HOST; see `docker info`",
        )
    if not have:
        return Check(
            "docker",
            "ok",
            f"the daemon answers; none of {', '.join(SANDBOX_IMAGES)} is pulled yet",
            "the first run pulls python:3-slim (or pass image=...); scripts/docker_setup.sh builds parley-sandbox:test",
        )
    return Check("docker", "ok", f"the daemon answers; images: {', '.join(have)}")


def _image_exists(client: object, image: str) -> bool:
    try:
        client.images.get(image)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def check_kernels() -> Check:
    """Jupyter kernels: jupyter_client and ipykernel installed, and the kernel specs found."""
    if not (_has("jupyter_client") and _has("ipykernel")):
        return Check(
            "kernels", "missing", "jupyter_client or ipykernel is not installed", "pip install 'pyparley[jupyter]'"
        )
    from parley.coding.jupyter._kernel import kernel_names  # the one module that imports jupyter_client

    specs = kernel_names()
    if not specs:
        return Check("kernels", "missing", "no kernel spec is installed", "python -m ipykernel install --user")
    return Check("kernels", "ok", f"kernel specs: {', '.join(specs)}")


def check_gateway(url: str | None) -> Check:
    """A Jupyter Kernel Gateway (or Enterprise Gateway) at ``url``, asked for ``/api``."""
    if not url:
        return Check(
            "gateway",
            "missing",
            "no gateway URL given",
            "set JUPYTER_GATEWAY_URL or pass --gateway-url (start one with `jupyter kernelgateway`)",
        )
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api", timeout=PROBE_TIMEOUT_S) as reply:
            reply.read(4096)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return Check("gateway", "fail", f"{url} wants a token (HTTP {exc.code})", "pass the gateway's auth_token")
        return Check("gateway", "fail", f"{url}/api answered HTTP {exc.code}", "check that the URL is the gateway's")
    except (OSError, ValueError) as exc:
        return Check("gateway", "fail", f"{url} does not answer ({exc})", "start the gateway, or fix the URL")
    return Check("gateway", "ok", f"{url} answers")


def check_redis(url: str | None) -> Check:
    """A Redis server at ``url`` (``redis://host:port/db``), sent ``PING``."""
    if not url:
        return Check(
            "redis",
            "missing",
            "no Redis URL given",
            "set REDIS_URL or pass --redis-url (only the Redis cache needs it)",
        )
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as sock:
            sock.settimeout(PROBE_TIMEOUT_S)
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return Check("redis", "fail", f"{host}:{port} does not answer ({exc})", "start redis-server, or fix the URL")
    if not answer.startswith((b"+PONG", b"-NOAUTH")):
        return Check(
            "redis", "fail", f"{host}:{port} answered {answer[:40]!r} to PING", "check that it is a Redis server"
        )
    found = "needs a password" if answer.startswith(b"-NOAUTH") else "answers PING"
    note = "" if _has("redis") else " (install the client: pip install 'pyparley[redis]')"
    return Check("redis", "ok", f"{host}:{port} {found}{note}")


def check_model(base_url: str | None, api_key: str | None) -> Check:
    """The model endpoint: ``GET {base_url}/models`` with the key, when either is given."""
    if not base_url and not api_key:
        return Check(
            "model",
            "missing",
            "neither OPENAI_API_KEY nor OPENAI_BASE_URL is set",
            "set one, or try without a key: python -m parley.testing.openai_server --script replies.yaml",
        )
    url = (base_url or "https://api.openai.com/v1").rstrip("/")
    request = urllib.request.Request(url + "/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as reply:
            reply.read(65536)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return Check("model", "fail", f"{url} rejected the key (HTTP {exc.code})", "check OPENAI_API_KEY")
        if exc.code == 404:  # some OpenAI-compatible servers serve no model list
            return Check("model", "ok", f"{url} answers (no /models list)")
        return Check("model", "fail", f"{url}/models answered HTTP {exc.code}", "check OPENAI_BASE_URL")
    except (OSError, ValueError) as exc:
        return Check("model", "fail", f"{url} does not answer ({exc})", "start the server, or fix OPENAI_BASE_URL")
    return Check("model", "ok", f"{url} answers")


def check_otel() -> Check:
    """The OpenTelemetry API, for tracing (optional)."""
    if not _has("opentelemetry.trace"):
        return Check(
            "tracing", "missing", "opentelemetry-api is not installed", "pip install 'pyparley[otel]' (optional)"
        )
    return Check("tracing", "ok", "opentelemetry-api is installed; spans are recorded once a tracer provider is set")


def all_checks(
    *, gateway_url: str | None, redis_url: str | None, base_url: str | None, api_key: str | None
) -> list[Check]:
    """Run every ``parley doctor`` check, in order."""
    return [
        check_python(),
        check_docker(),
        check_kernels(),
        check_gateway(gateway_url),
        check_redis(redis_url),
        check_model(base_url, api_key),
        check_otel(),
    ]


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return bool(get is not None and get() is not None and hasattr(get(), "kernel"))


def executor_checks(gateway_url: str | None) -> list[tuple[str, str, Check]]:
    """Each registered executor: ``(name, class path, whether it can run here)``."""
    from parley.coding.factory import EXECUTOR_ALIASES, EXECUTOR_REGISTRY

    aliases = {canonical: alias for alias, canonical in EXECUTOR_ALIASES.items()}
    kernels = check_kernels()
    out: list[tuple[str, str, Check]] = []
    for name, target in EXECUTOR_REGISTRY.items():
        label = f"{name} ({aliases[name]})" if name in aliases else name
        if name == "commandline-local":
            check = Check(name, "ok", "runs code as subprocesses of this Python")
        elif name == "docker":
            check = check_docker()
        elif name == "ipython-embedded":
            check = kernels
        elif name == "jupyter":
            check = (
                check_gateway(gateway_url)
                if _has("tornado")
                else Check(name, "missing", "tornado is not installed", "pip install 'pyparley[jupyter]'")
            )
        elif name == "notebook":
            check = (
                Check(name, "ok", "running inside a Jupyter kernel")
                if _in_kernel()
                else Check(name, "missing", "runs only inside a Jupyter notebook's kernel", "use it from a notebook")
            )
        else:  # registered by the application or a plugin
            module = target.partition(":")[0]
            check = Check(
                name, "ok" if _has(module) else "missing", f"from {module}", "" if _has(module) else f"install {module}"
            )
        out.append((label, target, check))
    return out


def format_checks(rows: Sequence[tuple[str, Check]]) -> str:
    """The checks as aligned lines: ``status  name  detail`` plus ``-> fix`` when there is one."""
    width = max((len(label) for label, _ in rows), default=0)
    lines = []
    for label, check in rows:
        line = f"  {check.status:<8} {label:<{width}}  {check.detail}"
        if check.fix:
            line += f"\n  {'':<8} {'':<{width}}  -> {check.fix}"
        lines.append(line)
    return "\n".join(lines)
