"""Slots: several pool members sharing one Docker container, each in a directory of its own.

``ExecutorPool("docker", size=4, slots_per_member=16)`` starts 4 containers and lends 64 slots.
A `Host` is one container's executor (`DockerCommandLineCodeExecutor`, working directory
``<base_dir>/member-<n>``, mounted at ``/workspace``); each of its slots is a pool `Member` whose
executor shares the host's container and persistent runner and runs its blocks in
``/workspace/slot-<k>`` (``<base_dir>/member-<n>/slot-<k>`` on this machine). With the runner
each run is contained on its own, so calls from different slots run at the same time; a slot's
reset empties only its directory and ends only the background processes it kept.

Slots share the container's user, processes table, memory and files outside their directories:
they keep conversations' files and runs apart, but are no security boundary between them (the
container stays the boundary to the host). A container that dies takes every slot's packages
and processes with it; the executor starts a fresh one and tells each slot at its next block.
The host is closed, and its container removed, when its last slot is closed.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from parley.coding._pool_members import Member, build
from parley.coding.base import CodeExecutor
from parley.exceptions import ConfigError

__all__ = ["Host", "check_slot_options", "close_slot_host", "open_host", "open_slot", "slots_need_runner"]


def slots_need_runner(image: str, *, runner: bool) -> str:
    """Why slots with ``keep_background`` cannot run without the persistent runner, and what to do instead."""
    why = "runner=False turns it off" if not runner else f"the image {image!r} cannot run it (no python3 3.9 or later)"
    return (
        f"Pool slots (slots_per_member above 1) with keep_background=True need the persistent runner, and {why}: "
        "without it a slot's reset cannot end only its own background processes, so they would outlive the "
        "conversation that started them. Use an image with python3"
        + (" and runner=True" if not runner else "")
        + ", keep_background=False, or slots_per_member=1."
    )


def check_slot_options(options: Mapping[str, Any]) -> None:
    """Refuse, before any I/O, options with which slots cannot keep their background processes apart.

    An image without python3 is found only when its container starts: its first block raises the
    same error (`slots_need_runner`), so the pool's start fails with it.

    Raises:
        ConfigError: ``keep_background=True`` with ``runner=False``.
    """
    if options.get("keep_background") is True and options.get("runner") is False:
        raise ConfigError(slots_need_runner(str(options.get("image", "python:3-slim")), runner=False), key="runner")


class Host:
    """One container's executor and the count of its open slots."""

    def __init__(self, executor: Any, number: int, work_dir: Path) -> None:
        self.executor = executor
        self.number = number
        self.work_dir = work_dir
        self._slots = itertools.count(1)
        self._open = 0
        self._closed = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once its last slot was closed (its container is then removed)."""
        return self._closed

    def add(self) -> str:
        """Count a new slot in; return its name (``slot-<k>``)."""
        with self._lock:
            self._open += 1
            return f"slot-{next(self._slots)}"

    def remove(self) -> bool:
        """Count a slot out; True when it was the last (the host should close)."""
        with self._lock:
            self._open -= 1
            if self._open > 0 or self._closed:
                return False
            self._closed = True
            return True


def open_host(
    factory: str | Callable[[], CodeExecutor],
    options: Mapping[str, Any],
    canonical: str | None,
    work_dir: Path,
    number: int,
) -> Host:
    """Build the executor of one container (no I/O).

    Raises:
        ConfigError: the options are wrong for the Docker executor.
    """
    return Host(build(factory, options, canonical, work_dir), number, work_dir)


def open_slot(host: Host, number: int) -> Member:
    """A new slot of ``host``, as the pool member ``number`` (no I/O: its directory is made when it warms)."""
    name = host.add()
    executor = host.executor._open_slot(name)
    return Member(executor, number, host.work_dir / name, host=host)


async def close_slot_host(member: Member, deadline_s: float) -> None:
    """After ``member`` (a slot) was closed: close its host when it was the last slot, and remove its directory."""
    host = member.host
    if not isinstance(host, Host) or not host.remove():
        return
    try:
        await asyncio.wait_for(host.executor.a_close(), deadline_s)
    finally:
        await asyncio.to_thread(shutil.rmtree, host.work_dir, True)
