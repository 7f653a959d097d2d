"""Jupyter kernels for the tests: can an ipykernel kernel start here, and which processes it ran.

The kernel executors start the ``python3`` kernel spec, which jupyter_client resolves to this
interpreter when no other spec of that name is installed. Without jupyter-client and ipykernel
(``pip install 'parley[jupyter]'``) the kernel tests skip, each with the same reason; with
``CI=true`` they fail instead (`conftest.require`).
"""

from __future__ import annotations

import functools
import importlib.util

from conftest import require


@functools.cache
def kernel_problem() -> str | None:
    """Why a kernel cannot start here, or None when it can."""
    missing = [m for m in ("jupyter_client", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed: pip install 'parley[jupyter]'"
    return None


def require_kernel() -> None:
    """Skip the calling test when no ipykernel kernel can start here (fail on CI)."""
    problem = kernel_problem()
    require(problem is None, f"an ipykernel kernel ({problem})")
