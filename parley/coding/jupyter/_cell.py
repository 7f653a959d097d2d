"""Run one cell on a kernel and collect its outputs, watching the clock and the kernel's life.

`run_cell` is the message loop of the embedded executor: it sends the cell, feeds each IOPub
output of that cell to the collector until the kernel is idle, interrupts the kernel when the
cell runs past its timeout, and notices a kernel that died. It only reports what happened (a
`CellOutcome`); what to tell the model and whether to start a fresh kernel is the executor's
decision.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._kernel import LocalKernel
from parley.coding.jupyter._messages import KernelError, KernelIdle, parse_iopub
from parley.coding.jupyter._shell import EXIT_ERROR_NAME

__all__ = ["CellOutcome", "run_cell"]

POLL_S = 0.25
"""How often a quiet kernel is checked for death, in seconds."""

INTERRUPT_GRACE_S = 5.0
"""How long an interrupted kernel may take to go idle before it counts as wedged, in seconds."""

REPLY_WAIT_S = 5.0
"""How long the shell reply may trail the final idle status, in seconds."""


@dataclass(frozen=True)
class CellOutcome:
    """How a cell ended.

    Attributes:
        exit_code: 0, 1 for a Python error, a shell script's own exit code.
        timed_out: the cell ran past its timeout and the kernel was interrupted (its state is kept).
        wedged: the cell ran past its timeout and the kernel did not stop when interrupted.
        died: the kernel's exit status when it died during the cell, else None.
        started: False when the kernel died before it took the cell (it never ran).
        aborted: the kernel answered that it aborted the cell without running it.
    """

    exit_code: int
    timed_out: bool = False
    wedged: bool = False
    died: int | None = None
    started: bool = True
    aborted: bool = False


async def run_cell(
    kernel: LocalKernel, cell: str, collector: OutputCollector, *, timeout: float, shell: bool
) -> CellOutcome:
    """Execute ``cell`` on ``kernel`` and feed its outputs to ``collector``.

    Args:
        kernel: a started kernel.
        cell: the source to execute.
        collector: receives the cell's text, displays and errors as they arrive.
        timeout: seconds the cell may run before the kernel is interrupted.
        shell: the cell is a shell block's (see `parley.coding.jupyter._shell.shell_cell`): its
            exit error carries the script's exit code and is not shown as a traceback.

    Returns:
        How the cell ended. Cancelling the awaiting task interrupts the kernel, then re-raises.
    """
    msg_id = kernel.execute(cell)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interrupted, started, exit_code = False, False, 0
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                if interrupted:
                    return CellOutcome(1, timed_out=True, wedged=True)
                await kernel.interrupt()
                interrupted, deadline = True, loop.time() + INTERRUPT_GRACE_S
                continue
            msg = await kernel.iopub(min(left, POLL_S))
            if msg is None:
                if (status := await kernel.exit_status()) is not None:
                    return CellOutcome(1, died=status, started=started)  # "busy" comes before a cell runs
                continue
            started = started or msg.get("parent_header", {}).get("msg_id") == msg_id
            item = parse_iopub(msg, msg_id)
            if isinstance(item, KernelIdle):
                break
            if isinstance(item, KernelError):
                if shell and item.ename == EXIT_ERROR_NAME and item.evalue.isdigit():
                    exit_code = int(item.evalue)  # the script's own exit code, not a Python error
                    continue
                exit_code = 1
            if item is not None:
                collector.add(item)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(kernel.interrupt()), 2.0)
        raise
    reply = await kernel.reply(msg_id, REPLY_WAIT_S)  # always collected, so replies never pile up
    aborted = reply is not None and reply.get("content", {}).get("status") == "aborted"
    return CellOutcome(1 if aborted else exit_code, timed_out=interrupted, aborted=aborted)
