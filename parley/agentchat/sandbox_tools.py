"""Sandbox tools: ``bash``, ``python``, ``read_file`` and ``write_file`` as typed tools, run in a sandbox's slot.

Models trained on agent rollouts call tools rather than writing fenced code. `register_sandbox_tools`
offers them four, on any code executor, `ExecutorPool` or `ExecutionDispatcher`::

    register_sandbox_tools(caller=assistant, executor=user_proxy, sandbox=pool)
    await user_proxy.a_initiate_chat(assistant, message="Count the lines of data.csv.")
    # the chat ran in a slot of its own, given back (reset) when it ended

- **Where they run.** With a plain executor, in its ``work_dir`` (its kernel, for a kernel
  executor). With a pool or an `ExecutionDispatcher`, in the slot of the chat that calls them:
  the same slot an agent with ``code_execution_config={"executor": pool}`` runs the chat's code
  in (a nested chat, or a group chat's rounds, use the outermost chat's), given back reset when
  that chat ends. Called outside any chat, or registered with ``key=``, they use one key of
  their own (`SandboxTools.key`), kept until `SandboxTools.a_release`. A pool that is not
  started is started at the first call, as for an agent's pooled executor.
- **The executor's rules.** ``bash`` and ``python`` run as code blocks of the executor: its
  approval step, language policies, containment and output budget apply. ``read_file`` and
  ``write_file`` stay inside the slot and never follow a symbolic link; ``read_file`` is
  bounded in bytes and characters.
- **Timeouts.** A tool's ``timeout`` can only shorten a run: it is clamped to the executor's own
  ``timeout`` (the larger value is ignored, and the result says so). A shorter one stops the run
  by cancelling it (the process tree is killed, the kernel interrupted); its output is then lost.
  Through a dispatcher, the dispatcher's ``timeout_range`` clamps it (see `ExecutionDispatcher`).
- **Policy is the sandbox's, never the model's.** No tool argument reaches an executor's options:
  network access, images, mounts, limits and languages are set where the executor or pool is built.
- **Results are text.** Each tool returns what the model reads: ``"exit code N"`` and the
  output, the file's content, or ``"Error: ..."`` saying what was wrong (a path outside the
  slot, a link, a missing file, a failed executor). Nothing raises out of the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import math
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from parley._sync import run_sync
from parley.agentchat._chat_slots import chat_slot
from parley.coding._artifacts import host_path, read_in_slot, write_in_slot
from parley.coding.base import CodeBlock, CodeExecutor, CodeResult
from parley.coding.dispatch import ExecutionDispatcher
from parley.coding.pool import ExecutorPool, PooledExecutor
from parley.exceptions import ConfigError, ParleyError

if TYPE_CHECKING:
    from parley.agentchat.tools import ToolsMixin

__all__ = ["SandboxTools", "register_sandbox_tools"]

TOOL_NAMES = ("bash", "python", "read_file", "write_file")

DESCRIPTIONS = {
    "bash": "Run a bash command in your sandbox's working directory. Returns the exit code and the output.",
    "python": (
        "Run Python code in your sandbox. Returns the exit code and what it printed; print what you need to see."
    ),
    "read_file": "Read a text file from your sandbox's working directory.",
    "write_file": "Write a text file in your sandbox's working directory (directories are created).",
}
"""What the model reads about each tool."""

_registrations = itertools.count(1)


@dataclass(frozen=True)
class _Slot:
    """Where the tools run.

    ``runner`` runs the blocks (for a pool, the executor it lent the key); ``executor`` is the
    executor working in the slot (for its timeout and its own name for the directory); ``root``
    is the slot's directory on the host.
    """

    runner: CodeExecutor | PooledExecutor
    executor: object
    root: Path


class SandboxTools:
    """The four sandbox tools bound to one sandbox; see the module docstring.

    Made by `register_sandbox_tools`; its methods are the registered tools and may also be
    called directly.

    Args:
        sandbox: a code executor with a ``work_dir``, an `ExecutorPool`, or an
            `ExecutionDispatcher`.
        key: the pool key (dispatcher session) to use always, instead of the calling chat's.
            Default None: the calling chat's slot, and outside a chat a key of this object's own.
        max_read_bytes: the largest file ``read_file`` reads, in bytes. Default 1 MiB.
        max_read_chars: the most characters of a file ``read_file`` returns; a longer text keeps
            its head and tail with a marker between. Default 32,000.

    Raises:
        ConfigError: ``sandbox`` is neither a pool, a dispatcher nor an executor with a
            ``work_dir``; a bound is not an int of at least 2.
    """

    def __init__(
        self,
        sandbox: ExecutorPool | ExecutionDispatcher | CodeExecutor,
        key: Hashable | None = None,
        *,
        max_read_bytes: int = 1024 * 1024,
        max_read_chars: int = 32_000,
    ) -> None:
        if not isinstance(sandbox, (ExecutorPool, ExecutionDispatcher)) and not isinstance(
            getattr(sandbox, "work_dir", None), Path
        ):
            raise ConfigError(
                "sandbox must be an ExecutorPool, an ExecutionDispatcher or a code executor with a work_dir "
                "(LocalCommandLineCodeExecutor, DockerCommandLineCodeExecutor, a kernel executor ...), "
                f"got {type(sandbox).__name__}.",
                key="sandbox",
            )
        for name, value in (("max_read_bytes", max_read_bytes), ("max_read_chars", max_read_chars)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ConfigError(f"{name} must be an int of at least 2, got {value!r}.", key=name)
        self._sandbox = sandbox
        self._fixed = key is not None
        self._key: Hashable = key if key is not None else f"sandbox-tools-{next(_registrations)}"
        self._max_read_bytes = max_read_bytes
        self._max_read_chars = max_read_chars

    @property
    def key(self) -> Hashable:
        """The key used outside a chat (or always, when given): ``sandbox-tools-<n>`` unless chosen."""
        return self._key

    # --- the tools -----------------------------------------------------------------------------

    async def bash(
        self,
        command: Annotated[str, "The bash command or script to run."],
        timeout: Annotated[float | None, "Seconds it may run; at most the sandbox's own limit."] = None,
    ) -> str:
        """Run a bash command in the sandbox's working directory."""
        return await self._run(CodeBlock(command, "bash"), timeout)

    async def python(
        self,
        code: Annotated[str, "The Python code to run."],
        timeout: Annotated[float | None, "Seconds it may run; at most the sandbox's own limit."] = None,
    ) -> str:
        """Run Python code in the sandbox."""
        return await self._run(CodeBlock(code, "python"), timeout)

    async def read_file(self, path: Annotated[str, "The file's path, relative to the working directory."]) -> str:
        """Read a text file from the sandbox's working directory."""
        try:
            async with self._slot() as slot:
                local = host_path(slot.executor, path)
                data = await asyncio.to_thread(read_in_slot, slot.root, local, self._max_read_bytes)
        except ParleyError as exc:
            return f"Error: {exc}"
        if b"\x00" in data:
            return f"Error: {path!r} is a binary file ({len(data):,} bytes), not text; inspect it with bash or python."
        return _cut(data.decode("utf-8", errors="replace"), self._max_read_chars, path)

    async def write_file(
        self,
        path: Annotated[str, "The file's path, relative to the working directory."],
        content: Annotated[str, "The text to write (the file is replaced)."],
    ) -> str:
        """Write a text file in the sandbox's working directory."""
        data = content.encode("utf-8")
        try:
            async with self._slot() as slot:
                await asyncio.to_thread(write_in_slot, slot.root, host_path(slot.executor, path), data)
        except ParleyError as exc:
            return f"Error: {exc}"
        return f"Wrote {len(data):,} bytes to {path}."

    # --- the slot ------------------------------------------------------------------------------

    async def a_release(self, reset: bool = True) -> None:
        """Give `key`'s slot back (reset unless ``reset=False``); nothing for a plain executor.

        A chat's slot needs no release: it is given back when the chat ends.
        """
        sandbox = self._sandbox
        if isinstance(sandbox, ExecutorPool):
            await sandbox.release(self._key, reset=reset)
        elif isinstance(sandbox, ExecutionDispatcher):
            await sandbox.release_session(self._key, reset=reset)

    def release(self, reset: bool = True) -> None:
        """Sync form of `a_release` (works inside a running loop)."""
        run_sync(self.a_release(reset))

    def _key_now(self, owner: ExecutorPool | ExecutionDispatcher) -> Hashable:
        """The key of this call: the fixed one, else the calling chat's (given back at its end), else our own."""
        key = None if self._fixed else chat_slot(owner, functools.partial(_give_back, owner))
        return self._key if key is None else key  # the chat's key: the same slot as its pooled code

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[_Slot]:
        """The slot: the calling chat's (or our key's) in a pool, or the plain executor's."""
        sandbox = self._sandbox
        if isinstance(sandbox, (ExecutorPool, ExecutionDispatcher)):
            pool = sandbox if isinstance(sandbox, ExecutorPool) else sandbox.pool
            await pool.a_start()
            key = self._key_now(sandbox)
            async with pool.acquire(key) as pooled:
                yield _Slot(pooled, pooled.executor, pool.slot_dir(key))
        else:
            yield _Slot(sandbox, sandbox, Path(sandbox.work_dir))  # type: ignore[attr-defined]

    async def _run(self, block: CodeBlock, timeout: float | None) -> str:
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            return (
                f"Error: timeout must be a positive number of seconds, or null for the sandbox's limit; got {timeout}."
            )
        try:
            if isinstance(self._sandbox, ExecutionDispatcher):
                return await self._dispatch(self._sandbox, block, timeout)
            async with self._slot() as slot:
                limit = getattr(slot.executor, "timeout", None)
                limit = float(limit) if isinstance(limit, (int, float)) and not isinstance(limit, bool) else None
                note = ""
                if timeout is not None and limit is not None and timeout > limit:
                    note = f"Note: timeout {timeout:g} s is over this sandbox's limit; {limit:g} s applied.\n"
                if timeout is None or (limit is not None and timeout >= limit):
                    result = await _execute(slot.runner, block)
                else:
                    try:
                        result = await asyncio.wait_for(_execute(slot.runner, block), timeout)
                    except asyncio.TimeoutError:
                        return (
                            f"exit code 124\nTimeout after {timeout:g} s (the timeout you asked for); the run was "
                            "stopped and its output is not available. Print less often to a file, or allow longer."
                        )
        except ParleyError as exc:
            return f"Error: {exc}"
        return f"{note}exit code {result.exit_code}\n{result.output}"

    async def _dispatch(self, dispatcher: ExecutionDispatcher, block: CodeBlock, timeout: float | None) -> str:
        """Send ``block`` through the dispatcher's queue as this call's session (it clamps the timeout)."""
        await dispatcher.pool.a_start()
        result = await dispatcher.execute(self._key_now(dispatcher), [block], timeout=timeout)
        return f"exit code {result.exit_code}\n{result.output}"


async def _give_back(owner: ExecutorPool | ExecutionDispatcher, key: str) -> None:
    """Give a chat's slot back at the chat's end, reset."""
    if isinstance(owner, ExecutionDispatcher):
        await owner.release_session(key, reset=True)
    else:
        await owner.release(key, reset=True)


async def _execute(executor: Any, block: CodeBlock) -> CodeResult:
    """Run one block on ``executor``: its async form when it has one, else its sync one in a thread."""
    a_execute = getattr(executor, "a_execute_code_blocks", None)
    if a_execute is not None and inspect.iscoroutinefunction(a_execute):
        result: CodeResult = await a_execute([block])
        return result
    return await asyncio.to_thread(executor.execute_code_blocks, [block])


def _cut(text: str, limit: int, path: str) -> str:
    """``text``, or its head and tail with a marker when it is over ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return (
        f"{text[:head]}\n[... {len(text) - limit:,} characters of {path} cut; read the rest with bash "
        f"(sed -n, head, tail) ...]\n{text[-tail:]}"
    )


def register_sandbox_tools(
    *,
    caller: ToolsMixin,
    executor: ToolsMixin,
    sandbox: ExecutorPool | ExecutionDispatcher | CodeExecutor,
    key: Hashable | None = None,
    tools: tuple[str, ...] = TOOL_NAMES,
    max_read_bytes: int = 1024 * 1024,
    max_read_chars: int = 32_000,
) -> SandboxTools:
    """Offer ``bash``, ``python``, ``read_file`` and ``write_file`` to ``caller``'s model, run by ``executor``.

    Args:
        caller: the agent whose model may call the tools (it needs an llm_config).
        executor: the agent that runs the calls; it may be ``caller`` itself.
        sandbox: where the tools run: a code executor with a ``work_dir`` (its own directory),
            an `ExecutorPool` or an `ExecutionDispatcher` (the calling chat's slot, given back
            when the chat ends; a pool not yet started is started at the first call).
        key: a pool key (dispatcher session) to use in every chat instead of the chat's own,
            kept until `SandboxTools.a_release`. Default None.
        tools: which of the four to register. Default all.
        max_read_bytes: the largest file ``read_file`` reads, in bytes. Default 1 MiB.
        max_read_chars: the most characters ``read_file`` returns (head and tail kept). Default 32,000.

    Returns:
        The `SandboxTools`, whose methods are the registered tools.

    Raises:
        ConfigError: an unknown tool name; ``sandbox`` is neither a pool, a dispatcher nor an
            executor with a ``work_dir``; a bound is not an int of at least 2; ``caller`` has no
            llm_config or an agent does not take tools (see `register_function`).
    """
    from parley.agentchat.tools import register_function

    unknown = [t for t in tools if t not in TOOL_NAMES]
    if unknown or isinstance(tools, str):
        raise ConfigError(f"tools must name some of {', '.join(TOOL_NAMES)}; got {tools!r}.", key="tools")
    bound = SandboxTools(sandbox, key, max_read_bytes=max_read_bytes, max_read_chars=max_read_chars)
    for name in tools:
        register_function(getattr(bound, name), caller=caller, executor=executor, description=DESCRIPTIONS[name])
    return bound
