"""Run code blocks in a Docker container (AutoGen 0.2's ``DockerCommandLineCodeExecutor``).

One long-lived container per executor, started at the first block that runs, with ``work_dir``
bind-mounted at ``/workspace``. Each block is saved to a file there and run with ``docker exec``
in a fresh process, so nothing but files (and what the code installed in the container) carries
over between blocks. Where parley differs from AutoGen 0.2:

- The constructor does no I/O. A missing daemon is reported at the first run, with the fix.
- Secure defaults, each an option: no network, 1 GB of memory without swap, 256 processes, a
  non-root user, never privileged, no privilege gain (``no-new-privileges``).
- Docker's init process is PID 1, so stopping the container takes milliseconds, not 10 s.
- Everything a block starts ends when the block ends: every process in the container but the
  container's own is killed then, however it detached (``setsid``, double forks, ``env -i``).
  ``keep_background=True`` keeps background processes until `restart` or `close` instead.
- A timeout kills every process the block started, keeps the output printed so far and
  returns exit code 124.
- A block killed for lack of memory, or a container that dies, is said so plainly in the
  result; the next block gets a fresh container.
- A daemon that stops answering costs a block at most its timeout plus a few seconds, says so
  in the result, and never stalls the event loop.
- Code files are written without following links that code planted in ``work_dir``, under
  random names; only an explicit ``# filename:`` first line names the file, inside ``work_dir``.
- Output has a budget (``max_output_chars``); the whole output is saved to a file.
- A daemon on another machine (``docker_host="tcp://..."``/``"ssh://..."``, or ``DOCKER_HOST``)
  works too: it cannot mount ``work_dir``, so files move through the Docker API instead
  (`parley.coding._docker_files`).
- ``packages`` and ``apt_packages`` build an image with them once, the network on for the build
  only (`parley.coding._docker_image`), since the sandbox's own network is off.

This module holds the executor's surface, its lifecycle and its slots; running a saved block in
the container, and what the result says when the container, its runner or the daemon failed, is
`parley.coding._docker_blocks`. The docker SDK is used through `parley.coding._docker`, the one
module that imports it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from parley._sync import run_sync
from parley.coding._batch import create_work_dir, open_batch
from parley.coding._blocks import NotRun, prepare_script
from parley.coding._docker import DaemonSilentError
from parley.coding._docker_blocks import ContainerBlocks
from parley.coding._docker_options import DockerOptions, check_options
from parley.coding._docker_run import ask
from parley.coding._docker_runner import Runner, RunnerCache, RunnerLostError, drop_kept
from parley.coding._docker_sandbox import MOUNT, Sandbox, slot_dir
from parley.coding._executor_base import ExecutorBase
from parley.coding._files import restore_owner_access
from parley.coding._gate import Gate
from parley.coding._options import check_max_saved_bytes
from parley.coding._output import DEFAULT_MAX_SAVED_BYTES, OutputBudget
from parley.coding._spare_files import make_spare
from parley.coding.approval import Approve, check_approve
from parley.coding.base import CodeBlock, CommandLineCodeResult
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ConfigError, ExecutorError

__all__ = ["DockerCommandLineCodeExecutor"]

_INTERPRETERS = {"python": "python3", "bash": "bash", "shell": "bash", "sh": "sh"}
_CLOSE_DEADLINE_S = 10.0  # seconds a_close waits for the daemon; close() goes on in its thread after


def _installed_note(packages: Sequence[str], apt_packages: Sequence[str]) -> str:
    """What the model is told about the packages built into its image (nothing when none were)."""
    names = [Path(spec).name if os.sep in spec or spec.startswith(".") else spec for spec in packages]
    names += [f"{name} (apt)" for name in apt_packages]
    return f" Installed in the image for you: {', '.join(names)}." if names else ""


class DockerCommandLineCodeExecutor(ContainerBlocks, ExecutorBase):
    """Run code blocks as scripts in a Docker container, one fresh process per block.

    The constructor does no I/O; the container is created at the first block that runs. Each
    block is written to a file in ``work_dir`` (named by a ``# filename:`` first line, else
    ``tmp_code_<random hex>.<ext>``) and run in ``/workspace`` inside the container: Python with
    ``python3``, ``bash`` and ``shell`` with ``bash``, ``sh`` with ``sh``. Blocks run in order;
    the first that fails ends the run. Calls are served one at a time (a second call waits for
    the first, from any thread or event loop). Code files are written without following a
    symbolic link below ``work_dir``, where the code could have planted one.

    When a block ends, every process in the container but the container's own (Docker's init
    and its keepalive) is killed with SIGKILL: whatever the block left in the background, in
    a new session, double-forked, or with a cleared environment. With
    ``keep_background=True`` background processes keep running instead, until `restart` or
    `close` (start a server in one block, query it in the next; redirect its output, e.g.
    ``python3 -m http.server >server.log 2>&1 &``, or the block waits up to 2 s for it).
    After ``timeout`` seconds every process the block started is killed with SIGKILL (with
    ``keep_background``, the background processes of earlier blocks are spared); the result
    keeps what was printed, has exit code 124 and ``timed_out=True``. Cancelling the awaiting
    task kills them too. When they cannot be killed inside the container (a full pids table
    leaves no room even for the kill), the container is removed with them, and the result
    says so.

    Every call to the daemon runs in a worker thread, and the event loop waits for each with
    a deadline: when the daemon stops answering (it was stopped, frozen or is overloaded), a
    block returns about its ``timeout`` plus 3 s later, with a result that says so; the
    container is then given up, and the next block starts a fresh one if the daemon answers
    (else it raises `ExecutorUnavailableError`).

    The code runs as ``user``. By default that is the uid:gid of this process, so files the
    code writes in ``work_dir`` belong to you; when this process is root, it is ``nobody``
    (65534:65534) instead, and ``work_dir`` is handed to that user (``chown``, the directory
    only) so the code can write there. Pass ``user="root"`` to run as root.

    The executor is a sync and async context manager; `close` stops and removes the container.
    A container still running at interpreter exit (or when the executor is garbage collected)
    is removed then. Containers carry the labels ``parley.executor=docker`` and
    ``parley.pid=<this process id>``.

    Args:
        image: the image to run. Default ``python:3-slim`` (pulled if missing). Images made by
            ``docker import`` work: the executor supplies the command.
        container_name: the container's name. Default ``parley-exec-<random hex>``.
        timeout: seconds each block may run. Default 60.
        work_dir: the directory where code is saved, mounted at ``/workspace``. Default: the
            current directory.
        bind_dir: the same directory as the Docker daemon's host sees it, when that differs
            from ``work_dir`` (parley itself running in a container, Docker-in-Docker).
            Default: ``work_dir``.
        auto_remove: remove the container when it stops. Default True.
        stop_container: stop the container on `close` and at interpreter exit. Default True.
        execution_policies: per language, True to run blocks or False to only save them. The
            default runs ``bash``, ``python``, ``sh`` and ``shell``.
        network_mode: Docker's network mode. Default ``"none"``: only the loopback interface.
        mem_limit: memory limit in Docker's notation (``"512m"``, ``"1g"``) or bytes; swap is
            not allowed beyond it. Default ``"1g"``. None for no limit.
        pids_limit: the most processes (and threads) the container may hold at once. Default
            256. None for no limit.
        cpus: CPUs the container may use (``1.5`` = one and a half cores). Default None: no
            limit.
        user: the user code runs as (``"name"``, ``"uid"`` or ``"uid:gid"``). Default: see above.
        keep_background: let background processes that a block starts run until `restart`
            or `close`, instead of killing them when the block ends. Default False.
        max_output_chars: the output budget in characters; longer output keeps its head and
            tail and is saved whole to ``output_<random hex>.txt`` in ``work_dir``. Default
            32,000.
        docker_client: a ``docker.DockerClient`` to use. Default: one built from the
            environment (``DOCKER_HOST`` ...) at the first run.
        max_saved_bytes: the most bytes of a run's whole output saved to its file; the result
            says when the saved copy was cut. Default 268,435,456 (256 MiB).
        approve: an approval step run before each call's blocks (see `parley.coding.approval`):
            a callable ``(blocks) -> bool | ApprovalDecision`` (sync or async), ``"human"`` to
            ask through the IOStream, or None (default: the container is the protection).
        runner: run blocks through a persistent runner inside the container (one long-lived
            ``python3`` process started with a single ``docker exec``, which forks each block
            under a reaper of its own): a block then costs a few milliseconds instead of a
            ``docker exec`` (about 65 ms), with the same semantics. Images without ``python3``
            (3.9 or later) run each block with its own ``docker exec``, as does False.
            Default True.
        fork_server: with the runner, start Python blocks from a warm ``python3`` in the
            container that forks per block (as ``LocalCommandLineCodeExecutor``'s option of the
            same name does): a ``print(1)`` block then costs a fork instead of an interpreter
            start, with the semantics of a fresh ``python3 FILE`` (see the docs' page on code
            executors for the two differences a fork brings). False starts a fresh ``python3``
            per block. Default True.
        docker_host: the daemon to use: ``"tcp://host:2376"``, ``"ssh://user@host"`` (runs the
            ``ssh`` command), ``"unix:///path/docker.sock"``. Default None: ``DOCKER_HOST`` and
            friends from the environment, else the local socket. A daemon reached over the
            network gets no bind mount (unless ``bind_dir`` is given): ``work_dir``'s files are
            copied into ``/workspace`` when the container starts, each block's file before it
            runs, and the files a block created or changed there are copied back into
            ``work_dir`` after it (regular files only, no link followed on this side, at most
            256 MiB per block; deletions are not copied back).
        tls: TLS for ``docker_host``: True to verify the daemon against the system's CAs, or a
            dict with ``ca_cert``, ``client_cert``, ``client_key`` (paths) and ``verify``, or a
            ``docker.tls.TLSConfig``. Default None: no TLS.
        packages: pip requirements (``"numpy==2.1.*"``) or paths on this machine (a wheel, an
            sdist, a project directory) to install in the image. With this or
            ``apt_packages``, an image derived from ``image`` is built once on the daemon,
            tagged by a hash of its inputs and reused, the network on for the build only; a
            first start may then take up to 35 minutes. Default None.
        apt_packages: Debian package names to install with ``apt-get`` in that image. Default None.

    Raises:
        ConfigError: an argument is invalid (the message names it and what is accepted).
    """

    SUPPORTED_LANGUAGES: ClassVar[tuple[str, ...]] = ("bash", "python", "sh", "shell")
    """The languages this executor runs."""

    def __init__(
        self,
        image: str = "python:3-slim",
        container_name: str | None = None,
        timeout: float = 60,
        work_dir: Path | str = Path("."),
        bind_dir: Path | str | None = None,
        auto_remove: bool = True,
        stop_container: bool = True,
        execution_policies: dict[str, bool] | None = None,
        *,
        network_mode: str = "none",
        mem_limit: str | int | None = "1g",
        pids_limit: int | None = 256,
        cpus: float | None = None,
        user: str | None = None,
        max_output_chars: int = 32_000,
        docker_client: Any = None,
        keep_background: bool = False,
        max_saved_bytes: int = DEFAULT_MAX_SAVED_BYTES,
        approve: Approve | str | None = None,
        runner: bool = True,
        fork_server: bool = True,
        docker_host: str | None = None,
        tls: bool | Mapping[str, Any] | Any = None,
        packages: Sequence[str] | None = None,
        apt_packages: Sequence[str] | None = None,
    ) -> None:
        self._max_saved_bytes = check_max_saved_bytes(max_saved_bytes)
        self._approve = check_approve(approve)
        self._options: DockerOptions = check_options(
            image=image,
            container_name=container_name,
            timeout=timeout,
            work_dir=work_dir,
            bind_dir=bind_dir,
            auto_remove=auto_remove,
            stop_container=stop_container,
            execution_policies=execution_policies,
            supported=self.SUPPORTED_LANGUAGES,
            network_mode=network_mode,
            mem_limit=mem_limit,
            pids_limit=pids_limit,
            cpus=cpus,
            user=user,
            max_output_chars=max_output_chars,
            docker_client=docker_client,
            keep_background=keep_background,
            docker_host=docker_host,
            tls=tls,
            packages=packages,
            apt_packages=apt_packages,
        )
        self._name = container_name or f"parley-exec-{uuid.uuid4().hex[:12]}"
        if not isinstance(runner, bool):
            raise ConfigError(f"runner must be True or False, got {runner!r}.", key="runner")
        if not isinstance(fork_server, bool):
            raise ConfigError(f"fork_server must be True or False, got {fork_server!r}.", key="fork_server")
        self._fork_server = fork_server
        self._gate = Gate()  # one call at a time (blocks run in order)
        self._extractor = MarkdownCodeExtractor()
        self._sandbox = Sandbox(self._options, self._name, docker_client)
        self._runners = RunnerCache(runner)
        # Without the runner a block's end kills every other process in the container, so runs
        # there go one at a time across this executor and its slots.
        self._plain_gate = Gate()
        self._container_dir = MOUNT  # where this executor's blocks run (a slot's own directory)
        self._slot: str | None = None
        self._root: Path | None = None  # a slot's: the host executor's work_dir, which is mounted
        self._last_container: str | None = None  # the container this executor's last block ran in
        self._last_runner: Runner | None = None  # the runner its last block ran on, unless its loss was told
        self._containers_lost = 0

    @property
    def timeout(self) -> float:
        """Seconds each block may run before its processes are killed."""
        return self._options.timeout

    @property
    def work_dir(self) -> Path:
        """The directory where code is saved, as given (created at the first run)."""
        return self._options.work_dir

    @property
    def bind_dir(self) -> Path:
        """The host directory mounted at ``/workspace`` (``work_dir`` unless given)."""
        return self._options.bind_dir or self._options.work_dir

    @property
    def image(self) -> str:
        """The image the container runs."""
        return self._options.image

    @property
    def container_name(self) -> str:
        """The container's name (chosen at construction when not given)."""
        return self._name

    @property
    def execution_policies(self) -> dict[str, bool]:
        """A copy of the policy per canonical language: True runs blocks, False only saves them."""
        return dict(self._options.policies)

    @property
    def containers_lost(self) -> int:
        """How many results of this executor said that its container was lost (it stopped or was replaced).

        Each time, packages installed, background processes and files outside ``/workspace``
        were lost; an `ExecutorPool` tells the conversation that held the executor.
        """
        return self._containers_lost

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CommandLineCodeResult:
        """Run ``code_blocks``; the sync form of `a_execute_code_blocks` (works inside a running loop)."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CommandLineCodeResult:
        """Save and run ``code_blocks`` in order in the container, stopping at the first that fails.

        A failing, refused or timed-out block, a block killed for lack of memory, a container
        that died and a daemon that stopped answering during a block are results, not
        exceptions. Cancelling the awaiting task kills the block's processes in the container.
        A call made while another runs waits for it.

        Args:
            code_blocks: the blocks to run.

        Returns:
            One result for all blocks: the exit code of the last block run (0 when all
            succeeded, 124 on a timeout, 137 when killed, 1 for a refused block); their output,
            concatenated and cut to the budget; ``code_file``, the last file written (its path
            on this machine).

        Raises:
            ExecutorUnavailableError: Docker is not running, not reachable or not answering
                (within 5 minutes for a container start, image pull included), or the image is
                missing and cannot be pulled; each message says what to do.
            MissingDependencyError: the docker SDK is not installed (``pip install 'pyparley[docker]'``).
            ImageBuildError: building the image with ``packages``/``apt_packages`` failed (the
                message quotes the end of the build's output: pip's or apt-get's own words).
            ExecutorError: the executor was closed, ``work_dir`` cannot be created, the daemon
                refused the container, or output over the budget cannot be saved to its file.
        """
        self._check_open()
        refused = await self._refusal(code_blocks)
        if refused is not None:
            return CommandLineCodeResult(exit_code=1, output=refused)
        if self._root is not None and self._slot is not None:
            work_dir, replaced = slot_dir(self._root, self._slot, hand=self._options.user is None and os.getuid() == 0)
        else:
            work_dir, replaced = self._options.work_dir.resolve(), False
            create_work_dir(work_dir)
        try:
            reopened = restore_owner_access(work_dir)
        except OSError as exc:
            raise ExecutorError(
                f"Code in the container took away its own access to {work_dir} (chmod), and it cannot be given "
                f"back: {exc}. Give the directory's owner read, write and search on it (chmod u+rwx)."
            ) from exc
        async with self._gate:
            with open_batch(work_dir, self._options.max_output_chars, self._max_saved_bytes) as batch:
                if reopened:
                    batch.budget.feed_text(
                        f"[Code in the container had taken away its own access to {self._container_dir} (chmod); "
                        "read, write and search were given back to its owner.]\n"
                    )
                if replaced:
                    batch.budget.feed_text(
                        f"[This conversation's directory {self._container_dir} had been replaced (by code in the "
                        "container) with a link or a file; it was removed, not followed, and the directory is "
                        "empty again.]\n"
                    )
                for block in batch.blocks(code_blocks):
                    batch.record(*await self._run_block(block, work_dir, batch.budget))
        return batch.command_line_result()

    async def _run_block(self, block: CodeBlock, work_dir: Path, budget: OutputBudget) -> tuple[int, bool, Path | None]:
        """Run one block; return its exit code, whether it timed out, and the file written."""
        ready = prepare_script(block, work_dir, self._options.policies, self.SUPPORTED_LANGUAGES)
        if isinstance(ready, NotRun):
            budget.feed_text(ready.text + "\n")
            return ready.exit_code, False, ready.path
        lang, path = ready.language, ready.path
        argv = [_INTERPRETERS[lang], f"{self._container_dir}/{path.relative_to(work_dir).as_posix()}"]
        fork = self._fork_server and lang == "python"
        await self._copy_in(work_dir, path)
        exit_code, timed_out = await self._run_in_container(argv, work_dir, budget, fork=fork)
        make_spare(work_dir)  # the next block's file, made while the model answers
        await self._copy_out(budget)
        return exit_code, timed_out, path

    def _instructions(self) -> str:
        from parley.prompts import (
            DOCKER_BACKGROUND_ENDS_NOTE,
            DOCKER_BACKGROUND_KEPT_NOTE,
            DOCKER_EXECUTOR_INSTRUCTIONS,
            DOCKER_NETWORK_OFF_NOTE,
            DOCKER_NETWORK_ON_NOTE,
        )

        options = self._options
        limits = [
            f"memory {options.mem_limit}" if options.mem_limit is not None else "",
            f"at most {options.pids_limit} processes" if options.pids_limit is not None else "",
            f"{options.cpus:g} CPUs" if options.cpus else "",
        ]
        return DOCKER_EXECUTOR_INSTRUCTIONS.format(
            image=options.image,
            mount=MOUNT,
            languages=", ".join(self.SUPPORTED_LANGUAGES),
            timeout=f"{options.timeout:g}",
            limits=", ".join(x for x in limits if x) or "none",
            network=(DOCKER_NETWORK_OFF_NOTE if options.network_mode == "none" else DOCKER_NETWORK_ON_NOTE)
            + _installed_note(options.packages, options.apt_packages),
            background=DOCKER_BACKGROUND_KEPT_NOTE if options.keep_background else DOCKER_BACKGROUND_ENDS_NOTE,
            max_output_chars=f"{options.max_output_chars:,}",
        )

    def restart(self) -> None:
        """Remove the container; the next block runs in a fresh one. Files in ``work_dir`` are kept.

        Packages installed, files written outside ``/workspace`` and background processes
        (``keep_background``) are lost. Blocks (for the daemon's answer, usually well under a
        second).

        A slot of a pooled container (see `ExecutorPool`'s ``slots_per_member``) keeps the
        container, which its other slots use: only the background processes its own blocks
        kept end.
        """
        if self._slot is not None:
            run_sync(self._drop_kept())
            return
        self._runners.close()
        self._last_container, self._last_runner = None, None
        self._sandbox.restart()

    async def _drop_kept(self) -> None:
        """End the background processes this slot's blocks kept (with the runner; waits at most 3 s)."""
        container = self._sandbox.current
        runner = self._runners.current(container) if container is not None else None
        if runner is not None:
            with contextlib.suppress(RunnerLostError, DaemonSilentError):
                await drop_kept(runner, self._slot)

    def _open_slot(self, name: str) -> DockerCommandLineCodeExecutor:
        """A slot of this executor: an executor that shares its container and runner, in a directory of its own.

        Its ``work_dir`` is ``<work_dir>/<name>`` (created at its first block), seen at
        ``/workspace/<name>`` in the container, where its blocks run. Calls to different slots
        run at the same time (with the runner; one at a time without it); calls to one slot run
        in order. Closing or restarting a slot ends only the background processes it kept.
        """
        slot = copy.copy(self)
        slot._options = dataclasses.replace(self._options, work_dir=self._options.work_dir / name)
        slot._gate = Gate()
        slot._extractor = MarkdownCodeExtractor()
        slot._container_dir = f"{MOUNT}/{name}"
        slot._slot = name
        slot._root = self._options.work_dir.resolve()
        self._sandbox.slotted = True  # the mounted directory stays this process's: code cannot replace a slot's
        slot._last_container, slot._last_runner, slot._containers_lost, slot._closed = None, None, 0, False
        return slot

    def close(self) -> None:
        """Stop the container (and remove it, with ``auto_remove``) unless ``stop_container`` is False.

        With ``stop_container=False`` the container keeps running, but every process in it but
        its own is killed (also those kept with ``keep_background``). Idempotent. Blocks until
        the daemon has done it, usually well under a second. Further runs raise `ExecutorError`.

        A slot (see `restart`) ends only the background processes it kept; its container stays
        with the executor it came from.
        """
        self._closed = True
        if self._slot is not None:
            run_sync(self._drop_kept())
            return
        self._runners.close()
        self._sandbox.close()

    async def a_close(self) -> None:
        """Async form of `close`; the daemon is waited for in a worker thread, at most 10 s.

        When the daemon does not answer by then, `close` goes on in its thread (each request
        bounded by the client's HTTP timeout) and this returns.
        """
        self._closed = True
        with contextlib.suppress(DaemonSilentError):
            await ask(self.close, deadline=_CLOSE_DEADLINE_S)
