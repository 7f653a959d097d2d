"""How the Docker executor runs one block in its container, and what the result says when that fails.

`ContainerBlocks` is the part of `DockerCommandLineCodeExecutor` that runs a block once it is
saved: it starts the container when there is none (in a worker thread, with a deadline), runs the
block on the persistent runner (`parley.coding._docker_runner`) or with a plain ``docker exec``
(`parley.coding._docker_run`), copies files in and out where the daemon cannot mount
``work_dir`` (`parley.coding._docker_files`), and tells the model in the result when the block
timed out, ran out of memory, lost its runner or container, or the daemon stopped answering.
"""

from __future__ import annotations

import contextlib
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from parley.coding._docker import Container, ContainerGoneError, ContainerStatus, DaemonSilentError
from parley.coding._docker_options import DockerOptions
from parley.coding._docker_run import (
    DAEMON_DEADLINE_S,
    KILLED_EXIT_CODE,
    RunOutcome,
    ask,
    in_thread,
    run_in_container,
)
from parley.coding._docker_runner import Runner, RunnerCache, RunnerLostError, get_runner, run_on_runner
from parley.coding._docker_sandbox import MOUNT, Sandbox
from parley.coding._gate import Gate
from parley.coding._output import OutputBudget
from parley.exceptions import ConfigError, ExecutorError

__all__ = ["ContainerBlocks"]

_START_DEADLINE_S = 300.0  # seconds a container start may take, an image pull included
_BUILD_DEADLINE_S = 1800.0  # more seconds a first start may take when it builds the image with packages
_TRANSFER_DEADLINE_S = 120.0  # seconds a copy into or out of a container without a mount may take
_LOST = f"Packages installed and files written outside {MOUNT} are lost; files in {MOUNT} are kept."
_FRESH = "The next block runs in a fresh container."
_RETRY = (
    "The next block will try to reach the Docker daemon again and start a fresh container if it answers; "
    "while it does not, blocks fail with an error saying so."
)


class ContainerBlocks:
    """Runs a saved block in the executor's container (a mixin of `DockerCommandLineCodeExecutor`).

    The executor sets these attributes in its constructor (a slot, in `_open_slot`).
    """

    _options: DockerOptions
    _sandbox: Sandbox
    _runners: RunnerCache
    _plain_gate: Gate  # without the runner, runs go one at a time across the executor and its slots
    _container_dir: str  # where this executor's blocks run (a slot's own directory)
    _slot: str | None
    _root: Path | None  # a slot's: the host executor's work_dir, which is mounted
    _last_container: str | None  # the container this executor's last block ran in
    _last_runner: Runner | None  # the runner its last block ran on, unless its loss was told
    _containers_lost: int

    if TYPE_CHECKING:

        @property
        def timeout(self) -> float:
            """Seconds each block may run (the executor's property)."""

    async def _copy_in(self, work_dir: Path, path: Path) -> None:
        """Without a mount (a remote daemon), copy the block's file into the container, starting it first.

        The container is started with the executor's own ``work_dir`` mounted (a slot's is below it).
        """
        container = await self._started(self._root or work_dir)
        files = self._sandbox.files
        if files is not None:
            with contextlib.suppress(ContainerGoneError):  # the run finds it gone and seeds a fresh one
                await ask(files.push, container, [path], deadline=_TRANSFER_DEADLINE_S)

    async def _copy_out(self, budget: OutputBudget) -> None:
        """Without a mount, copy the files the block wrote in ``/workspace`` back into ``work_dir``."""
        container, files = self._sandbox.current, self._sandbox.files
        if container is None or files is None:
            return
        try:
            _written, notes = await ask(files.pull, container, deadline=_TRANSFER_DEADLINE_S)
        except (ExecutorError, tarfile.TarError) as exc:
            notes = [f"The files this block wrote in {MOUNT} could not be copied back to this machine: {exc}"]
        if notes:
            newline = "" if budget.ends_with_newline else "\n"
            budget.feed_text(newline + "".join(f"[{note}]\n" for note in notes))

    async def _started(self, work_dir: Path) -> Container:
        """The running container; one is started (in a worker thread, with a deadline) if there is none."""
        container = self._sandbox.current  # the fast path: no thread hop once the container runs
        if container is None:
            building = self._options.packages or self._options.apt_packages
            deadline = _START_DEADLINE_S + (_BUILD_DEADLINE_S if building else 0.0)
            container = await ask(self._sandbox.ensure, work_dir, deadline=deadline)
        return container

    async def _run(self, container: Container, argv: list[str], budget: OutputBudget, *, fork: bool) -> RunOutcome:
        env, user = self._environment(), self._sandbox.user
        for attempt in (1, 2):
            runner = await get_runner(self._runners, container, user=user, env=env)
            if runner is None:
                break
            self._note_new_runner(runner, budget)
            try:
                return await run_on_runner(
                    runner,
                    container,
                    argv,
                    cwd=self._container_dir,
                    env=env,
                    user=user,
                    timeout=self.timeout,
                    budget=budget,
                    keep_background=self._options.keep_background,
                    tag=self._slot,
                    fork=fork,
                )
            except RunnerLostError as exc:
                if exc.started or attempt == 2:
                    return RunOutcome(KILLED_EXIT_CODE, False, True, runner_lost=True)
                status = await self._status(container)  # nothing ran: was it the container that went?
                if not status.running:
                    raise ContainerGoneError(f"the container is not running ({status.detail})") from exc
        if self._slot is not None and self._options.keep_background and self._runners.cannot_run(container):
            from parley.coding._pool_slots import slots_need_runner

            raise ConfigError(
                slots_need_runner(self._options.image, runner=self._runners.enabled), key="keep_background"
            )
        if self._container_dir != MOUNT:  # a slot's block runs in its own directory
            argv = ["sh", "-c", 'cd "$1" || exit 126; shift; exec "$@"', "sh", self._container_dir, *argv]
        async with self._plain_gate:
            return await run_in_container(
                container,
                argv,
                env=env,
                user=user,
                timeout=self.timeout,
                budget=budget,
                keep_background=self._options.keep_background,
            )

    def _note_new_runner(self, runner: Runner, budget: OutputBudget) -> None:
        """Tell the result when the runner of this executor's last block died since, taking kept processes."""
        last, self._last_runner = self._last_runner, runner
        if last is None or last is runner or last.container_id != runner.container_id:
            return  # the first block, the same runner, or a new container (said where it is noticed)
        if self._options.keep_background:
            why = last.why_dead if last.replaced else f"{last.why_dead}; a background process may have killed it"
            budget.feed_text(
                f"[State lost: the runner that runs blocks in the container had ended since this executor's last "
                f"block ({why}), and the background processes kept from earlier blocks ended with it. Files and "
                "packages are kept; start those processes again if you need them. This block runs on a new runner.]\n"
            )

    async def _status(self, container: Container, *, settle: bool = False) -> ContainerStatus:
        try:
            return await ask(container.status, settle=settle, deadline=DAEMON_DEADLINE_S + (2.0 if settle else 0.0))
        except DaemonSilentError as exc:
            return ContainerStatus(False, False, str(exc).rstrip("."), answered=False)

    def _give_up(self, container: Container) -> None:
        """Forget ``container`` and try to remove it in the background (the next start retries)."""
        self._lost_container()
        self._sandbox.discard(container)
        in_thread(self._sandbox.remove_leftover).add_done_callback(lambda done: done.cancelled() or done.exception())

    def _lost_container(self) -> None:
        """This executor's result says its container was lost: count it, and do not say it again."""
        self._containers_lost += 1
        self._last_container = None

    async def _run_in_container(
        self, argv: list[str], work_dir: Path, budget: OutputBudget, *, fork: bool = False
    ) -> tuple[int, bool]:
        root = self._root or work_dir
        container = await self._started(root)
        if self._last_container not in (None, container.id):  # another slot saw it go and started this one
            self._lost_container()
            budget.feed_text(
                f"[The container had stopped since this slot's last block and was replaced by a fresh one; "
                f"packages installed, background processes and files written outside {self._container_dir} are "
                "gone.]\n"
            )
        self._last_container = container.id
        try:
            outcome = await self._run(container, argv, budget, fork=fork)
        except ContainerGoneError:  # it stopped between blocks: say so, and run in a fresh one
            status = await self._status(container)
            self._sandbox.discard(container)
            self._lost_container()
            container = await self._started(root)
            self._last_container = container.id
            budget.feed_text(
                f"[The container had stopped since the last block ({status.detail}); packages installed and "
                f"files written outside {MOUNT} are gone. This block runs in a fresh container.]\n"
            )
            outcome = await self._run(container, argv, budget, fork=fork)
        if outcome.timed_out:
            newline = "" if budget.ends_with_newline else "\n"
            if outcome.daemon_silent:
                self._give_up(container)
                budget.feed_text(
                    f"{newline}Timeout after {self.timeout:g} s, and the Docker daemon did not answer when asked to "
                    "kill the block's processes (within "
                    f"{DAEMON_DEADLINE_S:g} s; it may be stopped, frozen or overloaded), so it is not known whether "
                    "the block ran or whether its processes still run. The container is given up and will be removed "
                    f"when the daemon answers. {_LOST} {_RETRY}\n"
                )
                return outcome.exit_code, True
            budget.feed_text(f"{newline}Timeout after {self.timeout:g} s; the block's processes were killed.\n")
            if outcome.runner_lost and self._sandbox.current is container:
                self._say_runner_lost(
                    budget,
                    "stopped answering or ended before the timeout's kill (the code may have "
                    "stopped it with SIGSTOP, or killed it), so it was given up and every process of the container's "
                    "user was killed",
                )
            if outcome.escaped:
                self._give_up(container)
                budget.feed_text(
                    "Some of them could not be killed inside the container (it may have reached its limit of "
                    f"processes), so the container was removed with them. {_LOST} {_FRESH}\n"
                )
            return outcome.exit_code, True
        if outcome.killed:
            await self._explain_kill(container, outcome.exit_code, budget)
            if outcome.reaper_lost:
                newline = "" if budget.ends_with_newline else "\n"
                budget.feed_text(
                    f"{newline}The process supervising this block was killed (by the block itself), so its exit code "
                    "is unknown; every process it started was ended.\n"
                )
            if outcome.runner_lost and self._sandbox.current is container:
                self._say_runner_lost(
                    budget, "ended during this block (the code may have killed it); the block's processes were ended"
                )
        return outcome.exit_code, False

    def _say_runner_lost(self, budget: OutputBudget, what: str) -> None:
        """Tell the result that the runner ``what`` (its loss is then not told again at the next block)."""
        self._last_runner = None
        newline = "" if budget.ends_with_newline else "\n"
        kept = ", as were background processes kept from earlier blocks" if self._options.keep_background else ""
        budget.feed_text(
            f"{newline}The runner that runs blocks in the container {what}{kept}. Files and packages are kept; the "
            "next block starts a new runner.\n"
        )

    async def _explain_kill(self, container: Container, exit_code: int, budget: OutputBudget) -> None:
        """After a block died by a signal: say whether memory ran out or the container died."""
        newline = "" if budget.ends_with_newline else "\n"
        kills = None
        if exit_code == 137:
            with contextlib.suppress(DaemonSilentError):
                kills = await ask(container.oom_kills, self._sandbox.user)
        if kills is not None and kills > self._sandbox.oom_seen:
            self._sandbox.oom_seen = kills
            budget.feed_text(
                f"{newline}Killed: out of memory. The block used more than the container's memory limit "
                f"({self._options.mem_limit}); use less memory, or raise mem_limit.\n"
            )
            return
        # The daemon may still call a container running for a moment after it was killed.
        status = await self._status(container, settle=kills is None)
        if status.running:
            return
        self._give_up(container)
        if not status.answered:
            budget.feed_text(
                f"{newline}The block lost its connection to the Docker daemon, which does not answer "
                f"({status.detail}): the daemon may have stopped, and the container with it. {_LOST} {_RETRY}\n"
            )
            return
        # Docker's OOMKilled flag counts every OOM kill in the container's life, so it tells only
        # when none was seen before.
        why = "it ran out of memory" if status.oom_killed and not self._sandbox.oom_seen else status.detail
        budget.feed_text(f"{newline}The container stopped while this block ran ({why}). {_LOST} {_FRESH}\n")

    def _environment(self) -> dict[str, str]:
        env = {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        if self._options.user is None:
            env["HOME"] = "/tmp"  # the default user may have no home in the image
        return env
