"""A real Jupyter Enterprise Gateway on this machine, for tests and benchmarks of `JupyterCodeExecutor`.

`LocalEnterpriseGateway` runs ``jupyter enterprisegateway`` with its default local process proxy
(kernels are processes on this machine), on a free loopback port with a random token, and waits
until its ``/api`` answers. It serves the same API as `parley.testing.LocalKernelGateway` and is
used the same way::

    with LocalEnterpriseGateway() as gateway, JupyterCodeExecutor(gateway) as executor:
        executor.execute_code_blocks([CodeBlock("print(1)", "python")])

Enterprise Gateway's releases pin ``jupyter-client<7`` and ``jupyter-server<2``, so it cannot
share parley's environment: it lives in a virtual environment of its own, and this class takes
the interpreter of that environment (``python``), else ``$PARLEY_ENTERPRISE_GATEWAY_PYTHON``, else
``~/.cache/parley/enterprise-gateway/bin/python``, where ``bash scripts/enterprise_gateway_setup.sh``
(run by the test command) installs it. Its kernels run that environment's ``python3`` kernel spec:
user-level kernel specs are hidden from it, so the kernel is always the one installed beside it.

Enterprise Gateway refuses to start kernels for ``root`` (its ``unauthorized_users``); this
gateway lets every user start them, as it runs only on loopback with a token for tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from parley.exceptions import ExecutorUnavailableError
from parley.testing.kernel_gateway import LocalKernelGateway

__all__ = ["DEFAULT_PYTHON", "LocalEnterpriseGateway"]

DEFAULT_PYTHON = Path.home() / ".cache" / "parley" / "enterprise-gateway" / "bin" / "python"
"""Where ``scripts/enterprise_gateway_setup.sh`` installs Enterprise Gateway's interpreter by default."""


class LocalEnterpriseGateway(LocalKernelGateway):
    """A ``jupyter enterprisegateway`` process on 127.0.0.1; a context manager that starts and stops it.

    The constructor starts nothing; `start` (or entering the context) does, and `stop` ends the
    gateway, which ends its kernels. `LocalKernelGateway.restart` restarts it on the same port.

    Args:
        root: the directory its kernels work in (created if missing). Default: a new temporary
            directory, removed by `stop`.
        python: the interpreter of the environment Enterprise Gateway is installed in. Default:
            ``$PARLEY_ENTERPRISE_GATEWAY_PYTHON``, else `DEFAULT_PYTHON`.
        command: the command that starts Enterprise Gateway, instead of ``python -m
            enterprise_gateway`` (``["/opt/eg/bin/jupyter-enterprisegateway"]``, or a wrapper
            script); the address, port, token and kernel listing options are appended.
        startup_timeout: seconds to wait for the gateway to answer. Default 60.
    """

    _NAME = "Jupyter Enterprise Gateway"

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        python: Path | str | None = None,
        command: Sequence[str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(root, startup_timeout=startup_timeout)
        chosen = python or os.environ.get("PARLEY_ENTERPRISE_GATEWAY_PYTHON") or DEFAULT_PYTHON
        self._python = Path(chosen)
        self._start_command = list(command) if command is not None else None

    @property
    def python(self) -> Path:
        """The interpreter that runs the gateway (and, through its kernel spec, its kernels)."""
        return self._python

    def _check_installed(self) -> None:
        """Raise `ExecutorUnavailableError` when the gateway's interpreter is missing."""
        if self._start_command is not None:
            if not self._start_command or shutil.which(self._start_command[0]) is None:
                raise ExecutorUnavailableError(
                    f"Cannot run Jupyter Enterprise Gateway's command {self._start_command!r}: its program was not "
                    "found. Pass command= a program that exists, or python= its venv's interpreter."
                )
            return
        if not self._python.exists():
            raise ExecutorUnavailableError(
                f"Jupyter Enterprise Gateway's interpreter {self._python} does not exist. It needs an environment "
                "of its own (it pins jupyter-client<7): run `bash scripts/enterprise_gateway_setup.sh`, or pass "
                "python= (or set PARLEY_ENTERPRISE_GATEWAY_PYTHON) to the python of a venv with "
                "jupyter_enterprise_gateway and ipykernel installed."
            )

    def _command(self, port: int) -> list[str]:
        start = self._start_command or [str(self._python), "-m", "enterprise_gateway"]
        return [
            *start,
            "--EnterpriseGatewayApp.ip=127.0.0.1",
            f"--EnterpriseGatewayApp.port={port}",
            "--EnterpriseGatewayApp.port_retries=0",
            f"--EnterpriseGatewayApp.auth_token={self._token}",
            "--EnterpriseGatewayApp.list_kernels=True",
        ]  # fmt: skip

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        assert self._dir is not None
        env["JUPYTER_DATA_DIR"] = str(self._dir / "data")  # hides user-level kernel specs
        env["JUPYTER_RUNTIME_DIR"] = str(self._dir / "runtime")
        env["EG_UNAUTHORIZED_USERS"] = "parley-nobody-is-refused"  # the default refuses root
        for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(name, None)
        return env
