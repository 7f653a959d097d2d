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


PROC_TREE = """\
import os
def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]
"""
"""Source a test block starts with to walk the process tree through ``/proc``: ``parent(pid)``, ``children(pid)``."""


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


# Python source for a block that starts three processes that outlive it in different ways, writes
# their pids to a file and returns: a plain child, a child in a new session, and a double-forked
# daemon (its own session, re-parented away from the block).
ESCAPE_THREE_WAYS = """\
import subprocess, sys
plain = subprocess.Popen(["sleep", "1000"])
session = subprocess.Popen(["sleep", "1000"], start_new_session=True)
double_fork = '''
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1], "w") as f:
            f.write(str(os.getpid()))
        os.execvp("sleep", ["sleep", "1000"])
    os._exit(0)
'''
subprocess.run([sys.executable, "-c", double_fork, {daemon_file!r}], check=True)
with open({pid_file!r}, "w") as f:
    f.write(f"{{plain.pid}} {{session.pid}} ")
print("started", flush=True)
"""


def escape_three_ways(pid_file: Path) -> str:
    """Code that starts a plain child, a new-session child and a double-forked daemon; their pids go to ``pid_file``.

    The daemon's pid goes to a file beside ``pid_file``, written by the daemon itself; see
    `wait_for_escapees`.
    """
    daemon_file = pid_file.with_name(pid_file.name + ".daemon")
    return ESCAPE_THREE_WAYS.format(pid_file=str(pid_file), daemon_file=str(daemon_file))


def wait_for_escapees(pid_file: Path) -> list[int]:
    """The three pids `escape_three_ways` records, once all are known (pytest-timeout bounds the wait)."""
    daemon_file = pid_file.with_name(pid_file.name + ".daemon")
    while not daemon_file.exists() or not daemon_file.read_text().strip():
        time.sleep(0.02)
    return [*wait_for_pids(pid_file, 2), int(daemon_file.read_text())]


def wait_until_gone(pids: list[int]) -> None:
    """Poll until none of ``pids`` runs (pytest-timeout bounds the wait)."""
    while not all(is_gone(pid) for pid in pids):
        time.sleep(0.02)
