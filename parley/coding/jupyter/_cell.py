"""Run one cell on a kernel and collect its outputs, watching the clock and the kernel's life.

`run_cell` is the message loop of the kernel executors: it sends the cell, feeds each IOPub
output of that cell to the collector until the kernel is idle, interrupts the kernel when the
cell runs past its timeout, and notices a kernel that died. It only reports what happened (a
`CellOutcome`); what to tell the model and whether to start a fresh kernel is the executor's
decision.

It talks to the kernel through `KernelChannel`, which a local kernel process
(`parley.coding.jupyter._kernel.LocalKernel`, over ZeroMQ) and a kernel on a Jupyter Kernel
Gateway (`parley.coding.jupyter._gateway.GatewayKernel`, over a websocket) both implement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._limit import OutputReport
from parley.coding.jupyter._messages import KernelDropped, KernelError, KernelIdle, KernelText, parse_iopub
from parley.coding.jupyter._shell import EXIT_ERROR_NAME, is_missing_helper
from parley.coding.jupyter._shell_comm import CommChannel

__all__ = ["CellOutcome", "KernelChannel", "run_cell"]

POLL_S = 0.25
"""How often a quiet kernel is checked for death, in seconds."""

INTERRUPT_GRACE_S = 5.0
"""How long an interrupted kernel may take to go idle before it counts as wedged, in seconds."""

REPLY_WAIT_S = 5.0
"""How long the shell reply may trail the final idle status, in seconds."""


class KernelChannel(Protocol):
    """What `run_cell` needs from a started kernel: send a cell, read its messages, interrupt it.

    Messages are dicts shaped as in the Jupyter messaging spec (``msg_type``, ``parent_header``,
    ``content`` ...).
    """

    async def execute(self, code: str, *, silent: bool = False) -> str:
        """Send an ``execute_request`` for ``code`` and return its ``msg_id``.

        A ``silent`` request shows no result and runs no ``pre_run_cell``/``post_run_cell`` hooks.
        """
        ...

    async def iopub(self, timeout: float) -> dict[str, Any] | None:
        """The next IOPub message, or None when none came within ``timeout`` seconds or the kernel died."""
        ...

    async def reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The shell reply to ``msg_id`` (earlier replies are dropped), or None after ``timeout`` seconds."""
        ...

    async def exit_status(self) -> int | None:
        """None while the kernel lives; once it has died, its exit status (negative: killed by that signal)."""
        ...

    async def interrupt(self) -> None:
        """Interrupt the code the kernel is running."""
        ...

    def take_lost_connection(self) -> str | None:
        """Why the connection to the kernel dropped while a request waited for its reply, once; else None.

        The kernel lives on (with its state) but the request's outputs after the drop are lost.
        """
        ...


@dataclass(frozen=True)
class CellOutcome:
    """How a cell ended.

    Attributes:
        exit_code: 0, 1 for a Python error, a shell script's own exit code.
        timed_out: the cell ran past its timeout and the kernel was interrupted (its state is kept).
        wedged: the cell ran past its timeout and the kernel did not stop when interrupted.
        died: the kernel's exit status when it died during the cell, else None.
        started: False when the kernel died before it took the cell (it never ran).
        lost_connection: why the connection to the kernel dropped while the cell ran, when it
            did; the kernel was reconnected and interrupted, its state kept, the cell's later
            output lost.
        aborted: the kernel answered that it aborted the cell without running it.
        received: characters of printed text that arrived for the cell.
        report: what the kernel said about the cell's printed text (see
            `parley.coding.jupyter._limit`), when its reply arrived and carried it.
        dropped: the first line of the server's notice that it dropped some of the cell's
            output (its IOPub rate limit), if one arrived.
        missing_helper: a shell block's cell found no shell helper to call (see
            `parley.coding.jupyter._shell.shell_call`), so the script did not run; the error
            was not passed to the collector.
    """

    exit_code: int
    timed_out: bool = False
    wedged: bool = False
    died: int | None = None
    started: bool = True
    lost_connection: str | None = None
    aborted: bool = False
    received: int = 0
    report: OutputReport | None = None
    dropped: str | None = None
    missing_helper: bool = False

    @property
    def lost_chars(self) -> int:
        """Characters of printed text the kernel sent that did not arrive (0 when unknown)."""
        return max(0, self.report.sent - self.received) if self.report is not None else 0


async def run_cell(
    kernel: KernelChannel,
    cell: str,
    collector: OutputCollector,
    *,
    timeout: float,
    shell: bool,
    comm: tuple[str, Mapping[str, Any]] | None = None,
) -> CellOutcome:
    """Execute ``cell`` on ``kernel`` and feed its outputs to ``collector``.

    Args:
        kernel: a started kernel.
        cell: the source to execute.
        collector: receives the cell's text, displays and errors as they arrive.
        timeout: seconds the cell may run before the kernel is interrupted.
        shell: the cell is a shell block's (see `parley.coding.jupyter._shell.shell_cell`): its
            exit error carries the script's exit code and is not shown as a traceback.
        comm: instead of executing ``cell``, send this ``(comm id, data)`` to parley's shell comm
            (see `parley.coding.jupyter._shell_comm`; ``kernel`` must be a `CommChannel`); the
            exit code and the output report come back on the comm. A comm that does not answer
            gives ``missing_helper``.

    Returns:
        How the cell ended. Cancelling the awaiting task interrupts the kernel, then re-raises.
    """
    if comm is not None:
        if not isinstance(kernel, CommChannel):
            raise TypeError(f"{type(kernel).__name__} cannot send comm messages")
        msg_id = await kernel.comm_msg(*comm)
    else:
        msg_id = await kernel.execute(cell)
    answer: Mapping[str, Any] | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interrupted, started, exit_code, missing_helper = False, False, 0, False
    received, dropped = 0, None
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                if interrupted:
                    return CellOutcome(1, timed_out=True, wedged=True, received=received, dropped=dropped)
                await kernel.interrupt()
                interrupted, deadline = True, loop.time() + INTERRUPT_GRACE_S
                continue
            msg = await kernel.iopub(min(left, POLL_S))
            if msg is None:
                if (status := await kernel.exit_status()) is not None:
                    # "busy" comes before a cell runs
                    return CellOutcome(1, died=status, started=started, received=received, dropped=dropped)
                if (lost := kernel.take_lost_connection()) is not None:
                    return CellOutcome(1, lost_connection=lost, started=started, received=received, dropped=dropped)
                continue
            mine = msg.get("parent_header", {}).get("msg_id") == msg_id
            started = started or mine
            if comm is not None and mine and msg.get("msg_type") == "comm_msg":
                content = msg.get("content", {})
                if content.get("comm_id") == comm[0] and isinstance(content.get("data"), Mapping):
                    answer = content["data"]
                continue
            item = parse_iopub(msg, msg_id)
            if isinstance(item, KernelIdle):
                break
            if isinstance(item, KernelDropped):
                dropped = dropped or item.notice
                continue
            if isinstance(item, KernelText):
                if comm is not None and item.text.startswith(f"No such comm: {comm[0]}"):
                    continue  # the comm package's warning, when the kernel lost the comm: the block runs as a cell
                received += len(item.text)
            if isinstance(item, KernelError):
                if shell and item.ename == EXIT_ERROR_NAME and item.evalue.isdigit():
                    exit_code = int(item.evalue)  # the script's own exit code, not a Python error
                    continue
                if shell and is_missing_helper(item.ename, item.evalue):
                    exit_code, missing_helper = 1, True  # the executor defines the helper and runs it again
                    continue
                exit_code = 1
            if item is not None:
                collector.add(item)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(kernel.interrupt()), 2.0)
        raise
    if comm is not None:
        return _comm_outcome(answer, collector, interrupted, received, dropped)
    reply = await kernel.reply(msg_id, REPLY_WAIT_S)  # always collected, so replies never pile up
    aborted = reply is not None and reply.get("content", {}).get("status") == "aborted"
    return CellOutcome(
        1 if aborted else exit_code,
        timed_out=interrupted,
        aborted=aborted,
        received=received,
        report=OutputReport.from_reply(reply),
        dropped=dropped,
        missing_helper=missing_helper,
    )


def _comm_outcome(
    answer: Mapping[str, Any] | None, collector: OutputCollector, interrupted: bool, received: int, dropped: str | None
) -> CellOutcome:
    """How a shell block sent to the comm ended, from the comm's answer (see `parley.coding.jupyter._shell_comm`)."""
    if answer is None:  # no comm of that id in the kernel: nothing ran
        return CellOutcome(1, missing_helper=True, received=received, dropped=dropped)
    report = OutputReport.from_reply({"content": {"payload": [answer.get("report")]}})
    error = answer.get("error")
    rc = answer.get("rc")
    if isinstance(error, list) and len(error) == 2:
        ename, evalue = str(error[0]), str(error[1])
        collector.add(KernelError(ename, evalue, f"{ename}: {evalue}"))
        exit_code = 1
    else:
        exit_code = rc if isinstance(rc, int) and not isinstance(rc, bool) else 1
    return CellOutcome(exit_code, timed_out=interrupted, received=received, report=report, dropped=dropped)
