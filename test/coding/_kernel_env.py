"""Jupyter kernels for the tests: can an ipykernel kernel start here, and small helpers to run cells.

The kernel executors start the ``python3`` kernel spec, which jupyter_client resolves to this
interpreter when no other spec of that name is installed. Without jupyter-client and ipykernel
(``pip install 'pyparley[jupyter]'``) the kernel tests skip, each with the same reason; with
``CI=true`` they fail instead (`conftest.require`).
"""

from __future__ import annotations

import functools
import importlib.util
import textwrap

from conftest import require

from parley.coding import CodeBlock, CodeExecutor, CodeResult


@functools.cache
def kernel_problem() -> str | None:
    """Why a kernel cannot start here, or None when it can."""
    missing = [m for m in ("jupyter_client", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed: pip install 'pyparley[jupyter]'"
    return None


def require_kernel() -> None:
    """Skip the calling test when no ipykernel kernel can start here (fail on CI)."""
    problem = kernel_problem()
    require(problem is None, f"an ipykernel kernel ({problem})")


def py(code: str) -> CodeBlock:
    """A python block of ``code``, dedented."""
    return CodeBlock(textwrap.dedent(code), "python")


def run(executor: CodeExecutor, *blocks: CodeBlock) -> CodeResult:
    """Run ``blocks`` in one call."""
    return executor.execute_code_blocks(list(blocks))


def kernel_pid(executor: CodeExecutor) -> int:
    """The pid of the executor's kernel process (which runs on this machine, even behind the test gateway)."""
    return int(run(executor, py("import os; print(os.getpid())")).output)
