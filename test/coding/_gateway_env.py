"""Real Jupyter gateways for the tests: one Kernel Gateway and one Enterprise Gateway per session.

The Kernel Gateway is `parley.testing.LocalKernelGateway`; the Enterprise Gateway is
`parley.testing.LocalEnterpriseGateway`, from the venv ``scripts/enterprise_gateway_setup.sh``
installs (run by ``scripts/test.sh``), found through ``PARLEY_ENTERPRISE_GATEWAY_PYTHON``.

`running_gateway` starts it on first use, on a free loopback port with a token, and
`stop_gateway` ends it (conftest calls it when the session ends, after checking that no kernel
is left on it). Without jupyter-kernel-gateway and ipykernel, or when the gateway does not
start, the tests that need it skip, each with the same reason; with ``CI=true`` they fail instead
(`conftest.require`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from conftest import require

from parley.exceptions import ParleyError
from parley.testing.enterprise_gateway import LocalEnterpriseGateway
from parley.testing.kernel_gateway import LocalKernelGateway

from ._kernel_env import kernel_problem

_gateway: LocalKernelGateway | None = None
# The kernels' directory: a fixed name, as refusals quote it (a random one might hold any word a test looks for).
_ROOT = Path(tempfile.gettempdir()) / f"parley-test-gateway-{os.getpid()}"


@functools.cache
def gateway_problem() -> str | None:
    """Why no gateway can run here, or None when one can."""
    if importlib.util.find_spec("kernel_gateway") is None:
        return "jupyter-kernel-gateway is not installed: pip install 'pyparley[jupyter]'"
    return kernel_problem()


@functools.cache
def _start_once() -> LocalKernelGateway | str:
    """The session's gateway, or why it did not start."""
    global _gateway
    try:
        _gateway = LocalKernelGateway(_ROOT).start()
    except ParleyError as exc:
        return str(exc)
    return _gateway


def running_gateway() -> LocalKernelGateway:
    """The session's gateway, started on first use; skips the calling test when it cannot run (fails on CI)."""
    problem = gateway_problem()
    require(problem is None, f"a Jupyter Kernel Gateway ({problem})")
    started = _start_once()
    require(isinstance(started, LocalKernelGateway), f"a Jupyter Kernel Gateway (it did not start: {started})")
    assert isinstance(started, LocalKernelGateway)
    return started


def started_gateway() -> LocalKernelGateway | None:
    """The session's gateway if a test started it, else None."""
    return _gateway


def stop_gateway() -> None:
    """End the session's gateway, if it was started, and remove its files."""
    global _gateway
    gateway, _gateway = _gateway, None
    _start_once.cache_clear()
    if gateway is not None:
        gateway.stop()
        shutil.rmtree(_ROOT, ignore_errors=True)


_enterprise: LocalEnterpriseGateway | None = None
_ENTERPRISE_ROOT = Path(tempfile.gettempdir()) / f"parley-test-enterprise-{os.getpid()}"


@functools.cache
def _start_enterprise_once() -> LocalEnterpriseGateway | str:
    """The session's Enterprise Gateway, or why it did not start."""
    global _enterprise
    try:
        _enterprise = LocalEnterpriseGateway(_ENTERPRISE_ROOT).start()
    except ParleyError as exc:
        return str(exc)
    return _enterprise


def running_enterprise_gateway() -> LocalEnterpriseGateway:
    """The session's Enterprise Gateway, started on first use; skips the calling test when it cannot (fails on CI)."""
    started = _start_enterprise_once()
    require(
        isinstance(started, LocalEnterpriseGateway),
        f"a Jupyter Enterprise Gateway (bash scripts/enterprise_gateway_setup.sh installs it; {started})",
    )
    assert isinstance(started, LocalEnterpriseGateway)
    return started


def started_enterprise_gateway() -> LocalEnterpriseGateway | None:
    """The session's Enterprise Gateway if a test started it, else None."""
    return _enterprise


def stop_enterprise_gateway() -> None:
    """End the session's Enterprise Gateway, if it was started, and remove its files."""
    global _enterprise
    gateway, _enterprise = _enterprise, None
    _start_enterprise_once.cache_clear()
    if gateway is not None:
        gateway.stop()
        shutil.rmtree(_ENTERPRISE_ROOT, ignore_errors=True)
