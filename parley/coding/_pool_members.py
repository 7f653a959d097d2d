"""How an `ExecutorPool` builds, warms, resets and ends its members, per executor kind.

A member is one executor the pool owns. What "warm" and "reset" mean depends on its kind:

- a kernel executor (`EmbeddedIPythonCodeExecutor`, `JupyterCodeExecutor`: it has ``a_start``
  and ``a_restart``) warms by starting its kernel and resets by running one cell that clears the
  namespace as ``%reset -f`` does (without its full garbage collection), goes back to its
  working directory and prints a marker;
- a command-line executor (local, Docker) warms by creating its working directory and resets by
  `restart` (which ends background processes kept with ``keep_background``; the Docker executor
  removes its container) and a ``print(1)`` block that proves it still runs;
- any other executor warms by its ``a_start``/``start`` when it has one, and resets by `restart`
  and the same ``print(1)`` block.

Whatever the kind, the working directory the pool gave the member (``<base_dir>/member-<n>``) is
emptied on reset, without following links that code planted there. A directory the pool did not
create is never emptied.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._batch import create_work_dir
from parley.coding.base import CodeBlock, CodeExecutor, CodeResult
from parley.coding.factory import CodeExecutorFactory
from parley.coding.local_commandline_code_executor import LocalCommandLineCodeExecutor
from parley.exceptions import ExecutorError

__all__ = ["STATE_LOST_MARKER", "Member", "close_member", "empty_dir", "execute", "reset_member", "warm_member"]

_log = get_logger("parley.coding.pool")

STATE_LOST_MARKER = "All state was lost"
"""The words a kernel executor's result carries when its kernel died and was replaced (see
`parley.coding.jupyter._kernel_executor`); the pool reads them to tell the key its state is gone."""

# Registered executors that take a ``work_dir`` on this machine: the pool gives each member its own.
WORK_DIR_EXECUTORS = frozenset({"commandline-local", "docker", "ipython-embedded"})

_HEALTH = [CodeBlock("print(1)", "python")]
_SH_HEALTH = [CodeBlock("echo 1", "sh")]
"""The Docker executor's check: its image may have no python3 (blocks then run with a docker exec each)."""
_RESET_MARK = "__parley_pool_reset_ok__"


@dataclass(eq=False)
class Member:
    """One executor the pool owns.

    Attributes:
        executor: the executor.
        number: its number in the pool, counting replacements (``member-<number>``).
        work_dir: the working directory the pool gave it (emptied on reset), or None.
        host: for a slot (``slots_per_member``), the container's `parley.coding._pool_slots.Host`
            it shares with the other slots; else None.
    """

    executor: CodeExecutor
    number: int
    work_dir: Path | None
    host: Any = None


def build(
    factory: str | Callable[[], CodeExecutor], options: Mapping[str, Any], canonical: str | None, work_dir: Path | None
) -> CodeExecutor:
    """Construct one executor (no I/O for the built-in executors).

    Raises:
        ConfigError: the factory's name or arguments are wrong (see `CodeExecutorFactory.create`).
    """
    if callable(factory):
        return factory()
    kwargs = dict(options)
    if work_dir is not None:
        kwargs["work_dir"] = work_dir
    return CodeExecutorFactory.create({"executor": factory, canonical or factory: kwargs})


def _is_kernel(executor: object) -> bool:
    return callable(getattr(executor, "a_start", None)) and callable(getattr(executor, "a_restart", None))


async def execute(executor: CodeExecutor, code_blocks: Sequence[CodeBlock]) -> CodeResult:
    """Run ``code_blocks`` on ``executor``: its async form when it has one, else its sync one in a thread."""
    a_execute = getattr(executor, "a_execute_code_blocks", None)
    if a_execute is not None and inspect.iscoroutinefunction(a_execute):
        result: CodeResult = await a_execute(list(code_blocks))
        return result
    return await asyncio.to_thread(executor.execute_code_blocks, list(code_blocks))


async def warm_member(member: Member) -> None:
    """Make ``member`` ready to run at once: start its kernel, create its working directory.

    Raises:
        ExecutorError: the working directory cannot be created, or the executor cannot start.
        Exception: whatever the executor's own start raises (ExecutorUnavailableError, ConfigError ...).
    """
    executor = member.executor
    if member.work_dir is not None:
        await asyncio.to_thread(create_work_dir, member.work_dir)
    from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor
    from parley.coding.local_commandline_code_executor import LocalCommandLineCodeExecutor

    a_start = getattr(executor, "a_start", None)
    if a_start is not None and inspect.iscoroutinefunction(a_start):  # a kernel executor: start its kernel
        await a_start()
    elif isinstance(executor, DockerCommandLineCodeExecutor):  # start its container now, not at the first block
        await _check_health(executor)
    elif not isinstance(executor, LocalCommandLineCodeExecutor) and callable(start := getattr(executor, "start", None)):
        await asyncio.to_thread(start)


_CLEAR_NAMESPACE = (
    "(lambda ip: ([ip.user_ns.pop(k) for k in [k for k in ip.user_ns if k not in ip.user_ns_hidden]], "
    "ip.user_ns['_oh'].clear(), ip.user_ns.update({'_': '', '__': '', '___': ''})))(get_ipython())\n"
)
"""Clears what ``%reset -f`` clears of the namespace (every name the user defined, the output cache),
binding no name of its own. ``%reset -f`` also runs a full garbage collection, about 80 ms in a
kernel that has imported IPython's display stack; this takes about 1 ms and leaves cycles to the
collector's usual runs."""


def _reset_cell(work_dir: Path | None) -> str:
    chdir = f"__import__('os').chdir({str(work_dir)!r})\n" if work_dir is not None else ""
    return f"{_CLEAR_NAMESPACE}{chdir}print({_RESET_MARK!r})\n"


async def _check_health(executor: CodeExecutor) -> None:
    """Raise `ExecutorError` unless ``print(1)`` (an ``sh`` ``echo 1`` on Docker) runs and prints 1."""
    from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor

    blocks = _SH_HEALTH if isinstance(executor, DockerCommandLineCodeExecutor) else _HEALTH
    result = await execute(executor, blocks)
    if result.exit_code != 0 or result.output.strip() != "1":
        raise ExecutorError(
            f"health check failed: {blocks[0].code} gave exit code {result.exit_code}: {result.output!r:.300}"
        )


async def reset_member(member: Member) -> None:
    """Drop everything a lease left in ``member``, and check it still runs.

    Raises:
        ExecutorError: the reset or the health check failed (the member must be replaced).
        Exception: whatever the executor raises while resetting; the pool treats any error as a failure.
    """
    executor = member.executor
    if _is_kernel(executor):
        result = await execute(executor, [CodeBlock(_reset_cell(member.work_dir), "python")])
        if result.exit_code != 0 or _RESET_MARK not in result.output or STATE_LOST_MARKER in result.output:
            raise ExecutorError(f"kernel reset failed (exit code {result.exit_code}): {result.output!r:.300}")
    elif isinstance(executor, LocalCommandLineCodeExecutor) and not executor.keep_background:
        await _check_health(executor)  # it keeps nothing between blocks but its files, emptied below
    else:
        a_restart = getattr(executor, "a_restart", None)
        if a_restart is not None and inspect.iscoroutinefunction(a_restart):
            await a_restart()
        else:
            await asyncio.to_thread(executor.restart)
        await _check_health(executor)
    if member.work_dir is not None:  # last, so the health check's own script goes too
        await asyncio.to_thread(empty_dir, member.work_dir)


async def close_member(member: Member, deadline_s: float) -> None:
    """End ``member``'s executor, waiting at most ``deadline_s`` seconds; errors are logged, not raised."""
    executor = member.executor
    a_close = getattr(executor, "a_close", None)
    try:
        if a_close is not None and inspect.iscoroutinefunction(a_close):
            await asyncio.wait_for(a_close(), deadline_s)
        elif callable(close := getattr(executor, "close", None)):
            await asyncio.wait_for(asyncio.to_thread(close), deadline_s)
    except Exception as exc:  # closing is best effort: the pool goes on closing the others
        _log.warning("closing pool member %d (%s) failed: %s", member.number, type(executor).__name__, exc)


def empty_dir(path: Path) -> None:
    """Remove everything inside ``path`` (not ``path`` itself) without following symbolic links.

    When ``path`` itself is a link or a file (code in a container replaced a slot's directory),
    that is removed instead: what it points to is never touched.

    Raises:
        ExecutorError: an entry cannot be removed.
    """
    try:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            os.unlink(path)
            return
        try:
            with os.scandir(fd) as entries:
                for entry in list(entries):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.name, dir_fd=fd)  # a link planted inside is removed, not followed
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.name, dir_fd=fd)
        finally:
            os.close(fd)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ExecutorError(f"Cannot empty the pool member's work_dir {path}: {exc}") from exc
