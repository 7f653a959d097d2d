"""Helpers for checking that code run by an executor left no process behind."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil


def is_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def read_pids(path: Path) -> list[int]:
    """The pids a test block wrote to ``path``, one per line."""
    return [int(word) for word in path.read_text().split()]


def wait_for_pids(path: Path, count: int) -> list[int]:
    """Poll until a running block has written ``count`` pids to ``path`` (pytest-timeout bounds it)."""
    while not path.exists() or len(path.read_text().split()) < count:
        time.sleep(0.02)
    return read_pids(path)


async def a_wait_for_pids(path: Path, count: int) -> list[int]:
    """Async form of `wait_for_pids`."""
    return await asyncio.to_thread(wait_for_pids, path, count)


# Python source for a block that records its pid and a grandchild's, prints, then hangs.
HANG_WITH_GRANDCHILD = """\
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "1000"]{extra})
with open({pid_file!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{child.pid}}\\n")
print("started the grandchild", flush=True)
time.sleep(1000)
"""


def hang_with_grandchild(pid_file: Path, *, new_session: bool = False) -> str:
    """Code that writes ``<own pid> <grandchild pid>`` to ``pid_file``, prints a line and hangs.

    With ``new_session`` the grandchild leaves the process group (``setsid``), as a daemon would.
    """
    extra = ", start_new_session=True" if new_session else ""
    return HANG_WITH_GRANDCHILD.format(pid_file=str(pid_file), extra=extra)
