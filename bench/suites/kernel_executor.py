"""Kernel executor: milliseconds for a warm python ``print(1)`` block, and for a shell block.

parley's `parley.coding.jupyter.EmbeddedIPythonCodeExecutor` against AutoGen 0.2.35's
``autogen.coding.jupyter.EmbeddedIPythonCodeExecutor``, each on a warm kernel of its own, and
against a *bare* jupyter-client execute measured in the same rounds on each side (the floor):
``client.execute(code)``, then IOPub messages until the kernel is idle, then the shell reply,
which is what jupyter-client's own ``execute_interactive`` does.

- parley's bare floor runs on a second kernel started exactly as the executor starts its own
  (IPC sockets, IPython history off, the kernel's own stdout and stderr to a file), through an
  ``AsyncKernelClient`` on the same event loop, with the executor's request options (no history,
  no stdin, ``stop_on_error`` off; stdin costs the kernel about 0.3 ms a request).
  It is a second kernel, not the executor's, because two clients of one kernel both receive
  every IOPub message, which would tax each with the other's traffic.
- The peer's bare floor uses jupyter-client's defaults, as AutoGen 0.2 does: TCP sockets and a
  ``BlockingKernelClient``.
- AutoGen 0.7's side (``bench/peer/ag07_executors.py``) runs the same blocks through
  ``autogen_ext.code_executors.jupyter.JupyterCodeExecutor`` (nbclient on a local ipykernel).
- The shell block is ``echo 1`` tagged ``bash`` on parley (run as a subprocess from the
  kernel), and the same tagged ``sh``. AutoGen 0.2 runs every block as IPython, so its side
  runs ``!echo 1``. The shell block's floor is a bare execute of a cell that starts
  ``bash -c 'echo 1'`` from the kernel with `subprocess.run` and prints what it printed: a
  kernel round trip plus a bash process, with none of the executor's work (containment of the
  script's process tree, streaming its output, its exit code). parley sends a shell block as
  a ``comm_msg`` to a comm of its own in the kernel (no cell), so a second floor is a bare
  ``comm_msg`` round trip: a comm, opened on the bare kernel, that prints ``1``, timed from
  the send until the kernel is idle.

Each sample checks that the block printed ``1``. Times are milliseconds per block.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.peer_venv import PeerError, PeerWorker
from bench.registry import Benchmark, Medians, Metric, Sampler, peer_script, register

__all__ = ["KernelExecSampler", "ensure_peer_jupyter"]

TARGET_OVER_BARE = 0.05
TARGET_BASH_MS = 5.0
BARE_BASH = "import subprocess as s; print(s.run(['bash', '-c', 'echo 1'], stdout=s.PIPE, text=True).stdout, end='')"
BARE_COMM_ID = "bench-bare-comm"
BARE_COMM = (
    "import sys\nfrom comm import create_comm\n"
    f"_bench_comm = create_comm(target_name='bench', comm_id={BARE_COMM_ID!r})\n"
    "_bench_comm.on_msg(lambda msg: print(1))\n"
)
PEER_JUPYTER = "pyautogen[jupyter-executor]==0.2.35"  # ipykernel, jupyter-client, websocket-client ...


def _check(output: str, exit_code: int, what: str) -> None:
    if exit_code != 0 or output.strip() != "1":
        raise RuntimeError(f"{what} failed: exit {exit_code}, output {output!r}")


class _BareKernel:
    """A kernel driven with jupyter-client's API alone, started as parley's executor starts its own."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._manager: Any = None
        self._client: Any = None

    async def start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self._manager = AsyncKernelManager(
            kernel_name="python3", transport="ipc", connection_file=str(self._work / "bare-kernel.json")
        )
        with open(self._work / "bare-kernel.log", "wb") as log:  # noqa: ASYNC230 - as the executor does
            await self._manager.start_kernel(
                cwd=str(self._work),
                env={**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
                stdout=log,
                stderr=log,
                extra_arguments=["--HistoryManager.enabled=False"],
            )
        self._client = self._manager.client()
        self._client.start_channels()
        await self._client.wait_for_ready(timeout=60)
        await self.execute(BARE_COMM)

    async def execute(self, code: str) -> str:
        """Run ``code``; return what it printed to stdout."""
        msg_id = self._client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        out = await self._until_idle(msg_id)
        while (await self._client.get_shell_msg())["parent_header"].get("msg_id") != msg_id:
            pass
        return out

    async def comm(self) -> str:
        """Send a ``comm_msg`` to the comm `start` opened; return what the kernel printed until idle."""
        msg = self._client.session.msg("comm_msg", {"comm_id": BARE_COMM_ID, "data": {}})
        self._client.shell_channel.send(msg)
        return await self._until_idle(msg["header"]["msg_id"])

    async def _until_idle(self, msg_id: str) -> str:
        out = []
        while True:
            msg = await self._client.get_iopub_msg()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)

    async def stop(self) -> None:
        if self._client is not None:
            self._client.stop_channels()
        if self._manager is not None:
            await self._manager.shutdown_kernel(now=True)


class KernelExecSampler:
    """Times parley's kernel executor (async and sync API, python and bash) and a bare execute."""

    def __init__(self) -> None:
        from importlib.metadata import version

        from parley._sync import run_sync
        from parley.coding import CodeBlock
        from parley.coding.jupyter import EmbeddedIPythonCodeExecutor

        self._run = run_sync  # one event loop for everything on this side (this thread's)
        self._stack = contextlib.ExitStack()
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-kernel-")))
        self._executor = EmbeddedIPythonCodeExecutor(timeout=60, work_dir=work)
        self._stack.callback(self._executor.close)
        self._bare = _BareKernel(work)
        self._stack.callback(lambda: run_sync(self._bare.stop()))
        run_sync(self._executor.a_start())
        run_sync(self._bare.start())
        self._rounds = 0
        self._python = [CodeBlock(code="print(1)", language="python")]
        self._bash = [CodeBlock(code="echo 1", language="bash")]
        self._sh = [CodeBlock(code="echo 1", language="sh")]
        which = self._executor.execute_code_blocks([CodeBlock("import sys; print(sys.executable)", "python")])
        self.info: Mapping[str, str] = {
            "kernel python": which.output.strip(),
            "jupyter_client": version("jupyter_client"),
            "transport": "ipc (executor and bare kernel)",
        }

    def _timed(self, coro: Any, what: str) -> float:
        start = time.perf_counter()
        result = self._run(coro)
        elapsed = time.perf_counter() - start
        output, exit_code = (result, 0) if isinstance(result, str) else (result.output, result.exit_code)
        _check(output, exit_code, what)
        return elapsed * 1e3

    def _timed_sync(self) -> float:
        start = time.perf_counter()
        result = self._executor.execute_code_blocks(self._python)
        elapsed = time.perf_counter() - start
        _check(result.output, result.exit_code, "print(1) through the sync API")
        return elapsed * 1e3

    def sample(self) -> dict[str, float]:
        """Return ``block_ms``, ``sync_ms``, ``bare_ms``, ``overhead_ms`` (block − bare), ``bash_ms``, ``sh_ms``,
        ``bash_bare_ms`` (the shell block's floor as a cell) and ``comm_bare_ms`` (a bare comm round trip)."""
        self._rounds += 1
        if self._rounds % 2:  # alternate which goes first, so neither always meets the colder kernel
            block = self._timed(self._executor.a_execute_code_blocks(self._python), "print(1) through the executor")
            bare = self._timed(self._bare.execute("print(1)"), "bare print(1)")
        else:
            bare = self._timed(self._bare.execute("print(1)"), "bare print(1)")
            block = self._timed(self._executor.a_execute_code_blocks(self._python), "print(1) through the executor")
        return {
            "block_ms": block,
            "bare_ms": bare,
            "overhead_ms": block - bare,
            "sync_ms": self._timed_sync(),
            "bash_ms": self._timed(self._executor.a_execute_code_blocks(self._bash), "bash echo 1"),
            "sh_ms": self._timed(self._executor.a_execute_code_blocks(self._sh), "sh echo 1"),
            "bash_bare_ms": self._timed(self._bare.execute(BARE_BASH), "bare bash -c 'echo 1' from the kernel"),
            "comm_bare_ms": self._timed(self._bare.comm(), "bare comm_msg printing 1"),
        }

    def close(self) -> None:
        """Shut both kernels down and remove the working directory."""
        self._stack.close()


def _parley(params: Mapping[str, Any]) -> Sampler:
    return KernelExecSampler()


def ensure_peer_jupyter(python: Path) -> None:
    """Install AutoGen 0.2.35's ``jupyter-executor`` extra into the peer venv unless it is there (one-off, pip)."""
    probe = subprocess.run([str(python), "-c", "import ipykernel, autogen.coding.jupyter"], capture_output=True)
    if probe.returncode == 0:
        return
    print(f"bench: installing {PEER_JUPYTER} into the peer venv (one-off) ...", file=sys.stderr)
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PEER_JUPYTER]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise PeerError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}\nCheck that pip can reach PyPI.")


def _peer(python: Path, params: Mapping[str, Any]) -> Sampler:
    ensure_peer_jupyter(python)
    return PeerWorker(python, "kernel_executor.py", dict(params))


def _verdict(m: Medians) -> str:
    bare, overhead = m.parley["bare_ms"], m.parley["overhead_ms"]
    verdict = "met" if overhead <= TARGET_OVER_BARE * bare else "not met"
    return f"{verdict} ({overhead:+.2f} ms = {overhead / bare:+.1%} of a {bare:.2f} ms bare execute)"


def _bash_verdict(m: Medians) -> str:
    bash, floor = m.parley["bash_ms"], m.parley.get("bash_bare_ms")
    beside = f"; {bash - floor:+.1f} ms over its {floor:.1f} ms floor" if floor else ""
    return f"{'met' if bash <= TARGET_BASH_MS else 'not met'} ({bash:.1f} ms{beside})"


register(
    Benchmark(
        name="kernel-exec",
        summary=(
            "a warm `print(1)` block through each EmbeddedIPythonCodeExecutor, alternating with a bare "
            "jupyter-client execute (execute, IOPub until idle, shell reply) on a warm kernel of the same "
            "side; and a shell block (parley: `echo 1` as bash and as sh; 0.2 and 0.7: `!echo 1`); ms per block."
        ),
        params=lambda quick: {},
        parley=_parley,
        peer=_peer,
        peer07=peer_script("ag07_executors.py", executor="jupyter"),
        metrics=(
            Metric(
                label="Kernel executor, warm `print(1)` (parley: async API)",
                unit="ms/block",
                parley_key="block_ms",
                peer_key="block_ms",
                peer07_key="block_ms",
                target="within 5% of a bare execute on a warm kernel",
                status=_verdict,
            ),
            Metric(
                label="Kernel executor, warm `print(1)`, parley's sync API",
                unit="ms/block",
                parley_key="sync_ms",
                peer_key="block_ms",
                peer07_key="block_ms",
            ),
            Metric(
                label="Kernel executor overhead over the bare execute (block − bare, paired per round)",
                unit="ms/block",
                parley_key="overhead_ms",
                peer_key="overhead_ms",
            ),
            Metric(
                label="(floor) bare jupyter-client execute, warm kernel (parley: IPC, async; 0.2: TCP, blocking)",
                unit="ms/block",
                parley_key="bare_ms",
                peer_key="bare_ms",
            ),
            Metric(
                label="Kernel executor, shell block (parley: bash `echo 1`; 0.2 and 0.7: `!echo 1`)",
                unit="ms/block",
                parley_key="bash_ms",
                peer_key="bash_ms",
                peer07_key="bash_ms",
                target="≤ 5 ms (a subprocess from the kernel, not `!`)",
                status=_bash_verdict,
            ),
            Metric(
                label="Kernel executor, shell block tagged `sh` (parley: `echo 1` as sh; 0.2 and 0.7: `!echo 1`)",
                unit="ms/block",
                parley_key="sh_ms",
                peer_key="bash_ms",
                peer07_key="bash_ms",
            ),
            Metric(
                label="(floor) bare execute of a cell that runs `bash -c 'echo 1'` with `subprocess.run`",
                unit="ms/block",
                parley_key="bash_bare_ms",
            ),
            Metric(
                label="(floor) bare `comm_msg` round trip to a comm that prints 1 (what parley's shell blocks ride on)",
                unit="ms/block",
                parley_key="comm_bare_ms",
            ),
        ),
        reps=60,
        quick_reps=10,
        warmup=5,
    )
)
