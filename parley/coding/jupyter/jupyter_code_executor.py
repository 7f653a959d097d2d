"""Run code blocks in a kernel on a Jupyter Kernel Gateway (AutoGen 0.2's ``JupyterCodeExecutor``).

The kernel runs wherever the gateway starts it: another machine, a container, or a Kubernetes
pod when the server is a Jupyter Enterprise Gateway. A Jupyter Server (``jupyter server``)
serves the same API and works too. The executor starts a kernel through the REST API, talks to
it over the kernel's websocket, and deletes it when closed. It behaves as
`EmbeddedIPythonCodeExecutor` does (the two share their code), except where the kernel is:

- The kernel's files are on the gateway's machine: it works in the gateway's directory, and a
  ``# filename:`` block is saved there, inside that directory, as is the full output of a block
  cut to the budget (the kernel cuts it, so only the budget crosses the gateway, whose IOPub
  rate limit would otherwise drop output; output still lost on the way is said in the result).
  Images and HTML come back over the websocket and are saved in ``output_dir`` on this machine.
- A kernel that dies is restarted by the gateway, which says so; the executor then deletes it,
  starts a fresh one and tells the model that state was lost. So does a kernel deleted,
  restarted or culled on the server, or a gateway that restarted: noticed as it happens, also
  mid-block, not by waiting out the block's timeout.
- Faults on the way are survived (`parley.coding.jupyter._gateway`): the start retries a gateway
  that is not answering yet, or answers 502-504 or 429, until ``startup_timeout``; a dropped
  websocket is reopened when the gateway still has the kernel, and a block it cut off is
  reported as interrupted by a lost connection, never sent again; closing retries the delete and
  logs a warning when the gateway is gone.
- Containment (`parley.coding.jupyter._contain`): on Linux the kernel is made a child subreaper
  with a watchdog, so what its code starts (``setsid`` children, double-forked daemons) ends
  when the executor deletes the kernel (`close`, `restart`) and, through the watchdog, when the
  kernel dies. The kernel's environment is the gateway's: set it there.

Where parley differs from AutoGen 0.2 (besides what the embedded executor lists):

- The constructor does no I/O: an unreachable gateway, a refused token or an unknown kernel
  name is a clear error at the first run, naming the URL (never the token) and the fix. Garbage
  collection and interpreter exit delete the kernel too, not only `JupyterCodeExecutor.stop`.
- One round trip per block, about 5 ms on loopback. 0.2 sends a ``kernel_info`` request before
  every block, and the gateway leaves Nagle's algorithm on, so each of its round trips waits out
  the client's delayed ACK (40 ms on Linux): about 90 ms a block. parley acknowledges at once
  (see `parley.coding.jupyter._gateway`).
- A timeout interrupts the kernel through the gateway and keeps the output so far; 0.2 returned
  an error and left the code running.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parley.coding._files import filename_from_marker
from parley.coding.approval import Approve
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._contain import END_CELL, setup_call
from parley.coding.jupyter._gateway import GatewayKernel
from parley.coding.jupyter._kernel_executor import KernelExecutor, OwnedKernel
from parley.coding.jupyter._save_cell import save_cell
from parley.coding.jupyter.base import JupyterConnectable, JupyterConnectionInfo, connection_info
from parley.exceptions import ConfigError, ExecutorUnavailableError

__all__ = ["JupyterCodeExecutor"]

_END_WAIT_S = 10.0
"""Seconds to wait for the cell that ends the kernel's processes before the kernel is deleted anyway."""


def _check_strings(key: str, value: object) -> dict[str, str]:
    """A mapping of str to str, copied; `ConfigError` naming ``key`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key} must be a dict of str to str, got a {type(value).__name__}.", key=key)
    return dict(value)


class JupyterCodeExecutor(KernelExecutor):
    """Run code blocks statefully in a kernel on a Jupyter Kernel Gateway.

    Python blocks (``python``, ``ipython``) run as notebook cells: IPython syntax works and the
    last expression's value is shown. Shell blocks run as a subprocess started from the kernel,
    on the gateway's machine. Blocks run in order; the first that fails ends the run. The kernel
    must be a Python (ipykernel) kernel.

    Outputs are collected for each block until the kernel is idle: printed text, results and
    displays as text, errors as the traceback without colour codes. Images (PNG, JPEG, GIF,
    SVG) and HTML displays are saved to ``output_dir`` on this machine and listed in
    ``output_files``.

    The kernel starts on the gateway at the first run (or `start`, or entering the context
    manager). One kernel serves one call at a time. `close` (or garbage collection, or
    interpreter exit) deletes it on the gateway; a gateway that cannot be reached then keeps it.

    Needs the ``jupyter`` extra (tornado): ``pip install 'pyparley[jupyter]'``.

    Args:
        jupyter_server: the gateway: a `JupyterConnectionInfo`, a URL such as
            ``"http://127.0.0.1:8888/?token=..."`` (the token may be given as ``token`` in the
            query), a dict of `JupyterConnectionInfo`'s fields, or an object whose
            ``connection_info`` is one (AutoGen 0.2's ``JupyterConnectable``, such as a started
            `parley.testing.LocalKernelGateway`).
        kernel_name: the kernel spec to start on the gateway. Default ``"python3"``.
        timeout: seconds each block may run. Then the kernel is interrupted, keeping its state
            and the output so far, and the result has exit code 124 and ``timed_out=True``.
            Default 60.
        output_dir: where images and HTML are saved, on this machine. Default: ``work_dir`` when
            given, else the current directory (as in AutoGen 0.2). Created when first needed.
        work_dir: where the full output goes when a call's output is cut on this machine
            (its blocks together printed more than the budget). Default: ``output_dir``.
            Created when first needed.
        max_output_chars: the output budget in characters. A block whose printed output is
            longer is cut in the kernel: its head and tail come back with a marker, and the
            whole of it is saved to ``output_<random hex>.txt`` in the kernel's working
            directory, on the gateway's machine (the result's ``full_output_file``). Default
            32,000.
        max_saved_bytes: the most bytes of a block's output saved to that file; the marker
            says when the saved copy was cut. Default 268,435,456 (256 MiB).
        startup_timeout: seconds the whole start of a kernel may take: the gateway answering
            (connection errors, 502/503/504 and 429 are retried with capped backoff,
            ``Retry-After`` honoured), the kernel starting, its websocket opening and its
            first answer. The error at the end says what was tried and what answered last.
            Default 60.
        headers: extra HTTP headers sent with every request and the websocket, for a gateway
            behind a proxy that wants its own (``{"X-Api-Key": ...}``); an ``Authorization``
            header here replaces the token's. Default none.
        validate_cert: check the gateway's TLS certificate (https). Default True; False for a
            self-signed certificate you trust.
        kernel_env: variables sent with the kernel's start request. Jupyter Enterprise Gateway
            passes those named ``KERNEL_*`` to the kernel and its launcher (``KERNEL_NAMESPACE``,
            ``KERNEL_IMAGE`` ... on Kubernetes); Kernel Gateway ignores them unless it is told
            to accept them (``--JupyterWebsocketPersonality.env_whitelist``). Default none.

        approve: an approval step run before each call's blocks (see `parley.coding.approval`):
            a callable ``(blocks) -> bool | ApprovalDecision``, ``"human"``, or None (default).

    Raises:
        ConfigError: an argument is invalid (``jupyter_server`` is not a URL or connection info,
            a non-positive ``timeout``, an empty ``kernel_name`` ...). Nothing is contacted yet.
    """

    _SAVED_WHERE = " on the kernel's machine"

    def __init__(
        self,
        jupyter_server: JupyterConnectionInfo | JupyterConnectable | str | Mapping[str, Any],
        kernel_name: str = "python3",
        timeout: float = 60,
        output_dir: Path | str | None = None,
        *,
        work_dir: Path | str | None = None,
        max_output_chars: int = 32_000,
        max_saved_bytes: int = 268_435_456,
        startup_timeout: float = 60,
        approve: Approve | str | None = None,
        headers: Mapping[str, str] | None = None,
        validate_cert: bool = True,
        kernel_env: Mapping[str, str] | None = None,
    ) -> None:
        self._server = connection_info(jupyter_server)
        self._headers = _check_strings("headers", headers)
        self._kernel_env = _check_strings("kernel_env", kernel_env)
        if not isinstance(validate_cert, bool):
            raise ConfigError(f"validate_cert must be True or False, got {validate_cert!r}.", key="validate_cert")
        self._validate_cert = validate_cert
        super().__init__(
            timeout=timeout,
            kernel_name=kernel_name,
            work_dir=work_dir,
            output_dir=output_dir,
            max_output_chars=max_output_chars,
            max_saved_bytes=max_saved_bytes,
            startup_timeout=startup_timeout,
            approve=approve,
        )

    @property
    def jupyter_server(self) -> JupyterConnectionInfo:
        """Where the gateway is (its ``repr`` leaves the token out)."""
        return self._server

    async def _new_kernel(self) -> OwnedKernel:
        """Start a kernel on the gateway.

        Raises:
            ExecutorUnavailableError: the gateway cannot be reached, or the kernel did not start.
            ConfigError: the gateway refused the token, or has no kernel spec ``kernel_name``.
            MissingDependencyError: tornado is not installed.
        """
        kernel = GatewayKernel(
            self._server,
            self._kernel_name,
            headers=self._headers,
            validate_cert=self._validate_cert,
            env=self._kernel_env,
        )
        await kernel.start(self._startup_timeout)
        return kernel

    async def _save_named(self, code: str, work_dir: Path, collector: OutputCollector) -> tuple[int, bool] | None:
        """Save a ``# filename:`` block in the kernel's working directory, on the gateway's machine."""
        name = filename_from_marker(code)
        if name is None:
            return None
        exit_code, timed_out = await self._run_cell(save_cell(name, code), collector, shell=True)
        return None if exit_code == 0 else (exit_code, timed_out)

    def _setup_source(self) -> str:
        return setup_call()

    async def _end_processes(self, kernel: OwnedKernel) -> None:
        """Stop and kill every process the kernel's code started (`parley.coding.jupyter._contain`).

        Not tried when the kernel is known dead or its websocket dropped: finding out whether
        it lives could take `parley.coding.jupyter._gateway.RECOVER_S`, and deleting the
        kernel ends them anyway. A drop seen only now ends the wait for the cell's reply.
        """
        if isinstance(kernel, GatewayKernel) and not kernel.usable:
            return
        with contextlib.suppress(ExecutorUnavailableError):
            await kernel.reply(await kernel.execute(END_CELL, silent=True), _END_WAIT_S)

    def stop(self) -> None:
        """AutoGen 0.2's name for `close`: delete the kernel and refuse further runs. Idempotent."""
        self.close()

    def _instructions(self) -> str:
        from parley.prompts import JUPYTER_EXECUTOR_INSTRUCTIONS

        return JUPYTER_EXECUTOR_INSTRUCTIONS.format(
            server=self._server.url,
            output_dir=os.path.abspath(self._output_dir),
            timeout=f"{self._timeout:g}",
            max_output_chars=f"{self._max_output_chars:,}",
        )
