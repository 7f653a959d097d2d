"""What the persistent runner (`parley.coding._runner`) checks before it forks a block, against blocks of its own user.

Like the runner, it uses the standard library only and runs inside the container:
`parley.coding._docker_runner` sends its source with the runner's.

- `Inherited`: the resource limits, nice value, scheduling policy, I/O priority and CPU affinity
  the runner started with. A process of the same user may change each of them in the runner
  (``prlimit``, ``renice``, ``chrt``, ``ionice``, ``taskset``), and every fork inherits them.
- `startup_hooks`: whether a ``python3`` started now would run a file that blocks may have
  written (a ``.pth`` file, ``sitecustomize``), which a warm template must not.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # `typing` costs the runner's start several ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Inherited", "startup_hooks"]


class Inherited:
    """What a fork inherits from the runner and another process of its user may change; see the module docstring."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, Any, Any]] = []  # (what, read, write, its value at the start)
        self.tainted = ""
        resource: Any = None
        try:  # noqa: SIM105 - contextlib costs the runner's start an import
            import resource  # a small C module; only here, once per runner
        except ImportError:  # a stripped image: its limits go unchecked
            pass
        names = {getattr(resource, name): name for name in dir(resource) if name.startswith("RLIMIT_")}
        for number, name in sorted(names.items()):
            self.add(f"its {name} limit", _call(resource.getrlimit, number), _call(resource.setrlimit, number))
        self.add(
            "its priority (nice value)",
            _call(os.getpriority, os.PRIO_PROCESS, 0),
            _call(os.setpriority, os.PRIO_PROCESS, 0),
        )
        self.add("its CPU affinity", _call(os.sched_getaffinity, 0), _call(os.sched_setaffinity, 0))
        self.add("its scheduling policy", _policy, lambda value: os.sched_setscheduler(0, value[0], value[1]))
        io = _io_priority()
        if io is not None:
            self.add("its I/O priority", *io)

    def add(self, what: str, read: Any, write: Any) -> None:
        """Watch ``read()`` (skipped where it cannot be read); ``write(value)`` puts it back."""
        try:  # noqa: SIM105 - contextlib costs the runner's start an import
            self.items.append((what, read, write, read()))
        except (AttributeError, OSError):
            pass

    def check(self) -> str:
        """Put back what changed since the start; return what could not be (empty: nothing)."""
        if not self.tainted:
            lost = []
            for what, read, write, value in self.items:
                try:
                    if read() != value:
                        write(value)
                except (OSError, ValueError):
                    lost.append(what)
            self.tainted = ", ".join(lost)
        return self.tainted


def _call(function: Any, *first: Any) -> Any:
    """``function`` with ``first`` as its first arguments (`functools.partial` costs the runner's start an import)."""
    return lambda *rest: function(*first, *rest)


_IOPRIO_CALLS = {"x86_64": (251, 252), "aarch64": (30, 31)}
"""The numbers of the ``ioprio_set`` and ``ioprio_get`` system calls, by machine (none in the standard library)."""


def _io_priority() -> tuple[Any, Any] | None:
    """Read and write this process's I/O priority (``ionice``), through libc's ``syscall``; None where it cannot."""
    calls = _IOPRIO_CALLS.get(os.uname().machine)
    reaper = sys.modules.get("_reaper")  # made before this module by the runner's start (`_docker_runner`)
    if calls is None or reaper is None:
        return None
    syscall = reaper._libc_function("syscall", "l")
    if syscall is None:
        return None
    ct: Any = sys.modules["_ctypes"]

    def call(*args: int) -> int:
        result = int(syscall(*args))
        if result < 0:
            raise OSError(ct.get_errno(), "ioprio")
        return result

    set_call, get_call = calls
    return (lambda: call(get_call, 1, 0)), (lambda value: call(set_call, 1, 0, value))  # 1: IOPRIO_WHO_PROCESS


def _policy() -> tuple[int, Any]:
    """This process's scheduling policy (``SCHED_IDLE`` runs only when nothing else would) and its parameters."""
    return os.sched_getscheduler(0), os.sched_getparam(0)


def startup_hooks(env: dict[str, str]) -> str:
    """A file a ``python3`` started with ``env`` would run at start-up that blocks may have written; empty if none.

    Start-up imports ``sitecustomize`` and ``usercustomize`` from anywhere on the path, and runs
    the ``.pth`` files of the user's site-packages (under ``PYTHONUSERBASE``, by default
    ``$HOME/.local``, which blocks may write: ``HOME`` is ``/tmp`` for the default user). In a
    block's own ``python3`` they run under its reaper; in a template they would run outside any
    run, and what they started or changed there (a daemon, a thread, a patched ``os.kill``)
    would outlive every block, and reach the reapers forked from it. The first one found is
    returned (a directory is read only up to it).
    """
    user_sites: list[str] = []
    if not env.get("PYTHONNOUSERSITE"):
        base = env.get("PYTHONUSERBASE") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local")
        lib = os.path.join(base, "lib")
        try:  # noqa: SIM105 - contextlib costs the runner's start an import
            user_sites = [
                os.path.join(lib, name, "site-packages") for name in os.listdir(lib) if name.startswith("python")
            ]
        except OSError:  # no user site-packages
            pass
    hooks = ("sitecustomize", "usercustomize")
    for directory in (*user_sites, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))):
        user_site = directory in user_sites
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.startswith(hooks) or (user_site and entry.name.endswith(".pth")):
                        return entry.path
        except OSError:
            continue
    return ""
