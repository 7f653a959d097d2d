"""Containment for a kernel on a Jupyter server: what its code starts ends when the kernel is deleted or dies.

The kernel runs on the server's machine, out of this process's reach, and ipykernel ends only
the children in its own process group when it shuts down: a ``setsid`` child or a double-forked
daemon outlived the kernel. The executor therefore sends Python *source* (the kernel needs no
parley installed):

- `setup_call`, in the setup cell each new kernel runs once (Linux only). It starts a *watchdog*
  that leaves the kernel at once (it forks, its parent exits, it starts a session of its own, and
  it ignores the usual signals), then makes the kernel process a *child subreaper*
  (``prctl(PR_SET_CHILD_SUBREAPER)``), so every process its code orphans (double forks,
  ``setsid`` daemons) is re-parented to the kernel instead of to init: the whole tree stays
  below the kernel, whatever session, process group or environment it chose. The watchdog
  remembers the kernel's descendants (it looks twice a second, and at the end of every cell
  that leaves a child running, before the cell's reply is sent), and when the kernel process
  dies (a crash, ``os._exit``, a kill, the server deleting or restarting it) it stops and kills
  those that still run, with whatever they started since.
- `END_CELL`, run silently before the executor deletes a live kernel (`close`, `restart`): it
  stops (SIGSTOP, so nothing can fork any more) and then kills every descendant of the kernel,
  and reaps them.

What remains out of reach, and is said in the docs: where ``prctl`` is missing (not Linux),
orphans escape to init; when the kernel dies, a process started less than half a second before,
by the cell that was running, can escape the watchdog; code that kills the watchdog first
disables that last step; and orphans that exit stay zombies of the kernel until it is deleted
(nothing in the kernel knows to reap them).
"""

from __future__ import annotations

__all__ = ["END_CELL", "PROC_SOURCE", "WATCHDOG_SOURCE", "setup_call"]

PROC_SOURCE = r'''
import os, signal, time


def started(pid):
    """The process's start time (clock ticks since boot), or None when it does not run (a zombie included)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def descendants(roots):
    """Every process below the pids in ``roots`` (one scan of /proc)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    children.setdefault(int(f.read().rsplit(b")", 1)[1].split()[1]), []).append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = set(), list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop_and_kill(roots, spare=()):
    """Stop every process in ``roots`` and below them (until no new one appears), then kill them all."""
    stopped = set()
    for _ in range(100):
        new = (descendants(roots) | {pid for pid in roots if started(pid) is not None}) - stopped - set(spare)
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        stopped |= new
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return stopped


def end_below_this_process(wait=2.0):
    """End every descendant of this process, and reap its children (for at most ``wait`` seconds)."""
    me = os.getpid()
    stop_and_kill([me], spare=[me])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.005)
        except ChildProcessError:
            return
'''
"""Python source shared by the watchdog and `END_CELL`: reading ``/proc`` and ending process trees."""

WATCHDOG_SOURCE = (
    PROC_SOURCE
    + r"""
import select, sys

for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
kernel, channel, me = int(sys.argv[1]), int(sys.argv[2]), os.getpid()
if os.fork():  # leave the kernel: re-parented away, so it is no child of the kernel's
    os._exit(0)
os.setsid()
born = started(kernel)
known, watched = {}, [channel]
while born is not None and started(kernel) == born:
    for pid in descendants([kernel]):
        if pid not in known:
            known[pid] = started(pid)
    known = {pid: since for pid, since in known.items() if since is not None and started(pid) == since}
    if not select.select(watched, [], [], 0.5)[0]:
        continue
    try:
        asked = os.read(channel, 64)
    except OSError:
        asked = b""
    if not asked:  # the kernel is gone, or closed its end: go on by the clock alone
        watched = []
    else:
        try:
            os.write(channel, b"!")  # the scan above is done; the kernel may go on
        except OSError:
            pass
stop_and_kill([pid for pid, since in known.items() if started(pid) == since], spare=[os.getpid()])
"""
)
"""The watchdog: ``python -I -S -c WATCHDOG_SOURCE <kernel pid> <socket fd>`` (see the module docstring).

It detaches at once (fork, the parent exits, a new session), so the kernel has no child of its
own unless its code started one. Each byte it reads on the socket asks for a fresh scan, answered
with ``!`` once the scan is done; end of file means the kernel went.
"""

_SETUP_SOURCE = r"""
import ctypes, os, select, socket, subprocess, sys


class Watch:
    def __init__(self, shell, watchdog):
        mine, theirs = socket.socketpair()
        launcher = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", watchdog, str(os.getpid()), str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()], start_new_session=True,
        )
        theirs.close()
        launcher.wait()  # it forked the watchdog and left: the watchdog is no child of this kernel
        self.channel = mine
        shell.events.register("post_run_cell", self.after_cell)

    def after_cell(self, *args):
        # A process the cell left running is a child of this kernel (a subreaper adopts orphans):
        # have the watchdog see it now, not only at its next look.
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return  # no child at all: nothing can outlive the kernel
        except OSError:
            pass
        try:
            self.channel.sendall(b"?")
            if select.select([self.channel], [], [], 2.0)[0]:
                self.channel.recv(64)
        except OSError:
            pass


def setup(watchdog):
    shell = get_ipython()
    if not sys.platform.startswith("linux") or getattr(shell, "_parley_watch", None) is not None:
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):
        return
    shell._parley_watch = Watch(shell, watchdog)  # before the subreaper: the watchdog must leave the kernel
    prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
"""


def setup_call() -> str:
    """The statement, for the setup cell, that starts the kernel's watchdog and makes the kernel a subreaper.

    Runs in a namespace of its own (nothing lands in the user's); a second run does nothing.
    """
    namespace = "{'__name__': '__parley_contain', 'get_ipython': get_ipython}"
    return (
        f"__parley_ns = {namespace}\nexec({_SETUP_SOURCE!r}, __parley_ns)\n"
        f"__parley_ns['setup']({WATCHDOG_SOURCE!r})\ndel __parley_ns\n"
    )


END_CELL = (
    "__parley_ns = {'__name__': '__parley_end'}\n"
    f"exec({PROC_SOURCE!r}, __parley_ns)\n"
    "__parley_ns['end_below_this_process']()\n"
    "del __parley_ns\n"
)
"""The cell that stops and kills every descendant of the kernel, then reaps its children (see the module docstring)."""
