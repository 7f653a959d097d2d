"""Run code blocks in an IPython kernel that this executor owns (AutoGen 0.2's ``EmbeddedIPythonCodeExecutor``).

The kernel keeps its state between blocks and calls, as a notebook does: variables, imports and
open files survive until `EmbeddedIPythonCodeExecutor.restart`. Where parley differs from
AutoGen 0.2:

- The constructor starts nothing. The kernel starts at the first run (or `start`, or entering
  the context manager); readiness is awaited once then, not before every run (0.2 loses about
  200 ms a call there). `close` and interpreter exit shut the kernel down.
- A timeout interrupts the kernel: the state and the output printed so far are kept, the exit
  code is 124. 0.2 returned a bare error and left the code running.
- A kernel that dies (``os._exit``, a crash, the OOM killer) is detected and replaced by a fresh
  one, and the result tells the model plainly that its state was lost.
- Shell blocks (``bash``, ``sh``, ``shell``) run as a subprocess started from the kernel, a few
  milliseconds, not through IPython's ``!`` (at least 100 ms). ``!pip install`` and other IPython
  syntax still work in Python blocks. Other languages are refused, never run as Python.
- Errors come back as the kernel's traceback without ANSI colour codes; output has a budget,
  kept inside the kernel (`parley.coding.jupyter._limit`); a ``# filename:`` first line saves the
  block inside ``work_dir`` and paths outside are refused.
- The kernel runs under parley's reaper (a child subreaper), so everything its code starts
  (``setsid`` children, double-forked daemons) ends with the kernel: at `close`, `restart`, and
  when the kernel dies. Variables that look like secrets are not passed to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from parley.coding._batch import create_work_dir
from parley.coding._env import check_env, check_env_allowlist, code_environment
from parley.coding.approval import Approve
from parley.coding.jupyter._blocks import save_named
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._kernel import LocalKernel
from parley.coding.jupyter._kernel_executor import KernelExecutor, OwnedKernel

__all__ = ["EmbeddedIPythonCodeExecutor"]


class EmbeddedIPythonCodeExecutor(KernelExecutor):
    """Run code blocks statefully in a local IPython kernel (jupyter-client and ipykernel).

    Python blocks (``python``, ``ipython``) run as notebook cells: IPython syntax such as
    ``!pip install x`` and ``%timeit`` works, and the last expression's value is shown. Shell
    blocks run as a subprocess started from the kernel, in its working directory. Blocks run in
    order; the first that fails ends the run.

    Outputs are collected for each block until the kernel is idle: printed text (stdout and
    stderr, interleaved), results and displays as text, errors as the traceback. Images (PNG,
    JPEG, GIF, SVG) and HTML displays are saved to ``output_dir`` and listed in
    ``output_files``. Matplotlib figures come back as PNG displays.

    One kernel serves one call at a time: concurrent calls from one event loop queue up. The
    executor is a sync and async context manager; `close` (or garbage collection, or
    interpreter exit) ends the kernel and everything its code started. Processes the code starts
    in the background (a server, a ``setsid`` daemon) live with the kernel until `close`,
    `restart` or the kernel's death, whatever session or process group they moved to; a
    timeout's interrupt reaches the kernel's process group, as a notebook's stop button does.

    The kernel's environment is this process's without the variables that look like secrets
    (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD`` ...; see `parley.coding._env`);
    ``env`` and ``env_allowlist`` pass what you choose.

    Needs the ``jupyter`` extra: ``pip install 'pyparley[jupyter]'``. POSIX only.

    Args:
        timeout: seconds each block may run. Then the kernel is interrupted, keeping its state
            and the output so far, and the result has exit code 124 and ``timed_out=True``.
            Default 60.
        kernel_name: the Jupyter kernel spec to start. Default ``"python3"``.
        output_dir: where images and HTML are saved. Default: ``work_dir`` when given, else the
            current directory (as in AutoGen 0.2). Created when first needed.
        work_dir: the kernel's working directory, where ``# filename:`` blocks are saved and the
            full output goes when it is cut. Default: ``output_dir``. Created at start.
        max_output_chars: the output budget in characters. A block whose printed output is
            longer is cut in the kernel: its head and tail come back with a marker, and the
            whole of it is saved to ``output_<random hex>.txt`` in ``work_dir`` (the result's
            ``full_output_file``). A call whose blocks together print more is cut again here,
            the same way. Default 32,000.
        max_saved_bytes: the most bytes of a block's output saved to that file; the marker
            says when the saved copy was cut. Default 268,435,456 (256 MiB).
        startup_timeout: seconds the kernel may take to start and answer. Default 60.
        env: variables to set for the kernel, passed even when they look like secrets.
        env_allowlist: names or shell-style patterns (``"AWS_*"``) of this process's variables
            to pass even when they look like secrets.

        approve: an approval step run before each call's blocks (see `parley.coding.approval`):
            a callable ``(blocks) -> bool | ApprovalDecision``, ``"human"``, or None (default).

    Raises:
        ConfigError: an argument is invalid (a non-positive or infinite ``timeout``, an empty
            ``kernel_name``, ``max_output_chars`` under 2, a negative ``max_saved_bytes``, an
            ``env`` that is not a str-to-str mapping ...).
    """

    def __init__(
        self,
        timeout: float = 60,
        kernel_name: str = "python3",
        output_dir: Path | str | None = None,
        *,
        work_dir: Path | str | None = None,
        max_output_chars: int = 32_000,
        max_saved_bytes: int = 268_435_456,
        startup_timeout: float = 60,
        env: Mapping[str, str] | None = None,
        env_allowlist: Sequence[str] = (),
        approve: Approve | str | None = None,
    ) -> None:
        self._env = check_env(env)
        self._env_allowlist = check_env_allowlist(env_allowlist)
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

    async def _new_kernel(self) -> OwnedKernel:
        """Start a local kernel working in ``work_dir`` (created first).

        Raises:
            ExecutorError: ``work_dir`` cannot be created.
            ExecutorUnavailableError: the kernel did not start (the message quotes its log).
            ConfigError: no kernel spec is named ``kernel_name``.
            MissingDependencyError: jupyter-client is not installed.
        """
        work_dir = self._work_dir.absolute()
        create_work_dir(work_dir)
        environment = code_environment(env=self._env, allowlist=self._env_allowlist)
        kernel = LocalKernel(self._kernel_name, work_dir, environment)
        await kernel.start(self._startup_timeout)
        return kernel

    async def _save_named(self, code: str, work_dir: Path, collector: OutputCollector) -> tuple[int, bool] | None:
        refusal = save_named(code, work_dir)
        if refusal is None:
            return None
        collector.line(refusal)
        return 1, False

    def _instructions(self) -> str:
        from parley.prompts import IPYTHON_EXECUTOR_INSTRUCTIONS

        return IPYTHON_EXECUTOR_INSTRUCTIONS.format(
            work_dir=os.path.abspath(self._work_dir),
            output_dir=os.path.abspath(self._output_dir),
            timeout=f"{self._timeout:g}",
            max_output_chars=f"{self._max_output_chars:,}",
        )
