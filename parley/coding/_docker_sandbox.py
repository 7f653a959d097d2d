"""The Docker executor's one container over its life: started lazily, replaced when it dies, removed at the end.

`Sandbox` is thread-safe: runs start it from worker threads, and ``close()`` may come from any
thread. A started container is removed when the sandbox is closed, and also when the sandbox is
garbage collected or the interpreter exits (`weakref.finalize`), unless ``stop_container`` is
False. A container given up (`discard`) is removed by `remove_leftover`, which `ensure` calls
before it starts the next one, since the daemon may not have answered when it was given up.
Every method but `discard` blocks on the daemon; call them from worker threads in async code.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from parley._logging import get_logger
from parley.coding._docker import Container, ContainerSpec, connect, is_remote
from parley.coding._docker_files import FileSync
from parley.coding._docker_image import ensure_image
from parley.coding._docker_options import DockerOptions
from parley.coding._files import real_dir_in
from parley.exceptions import ExecutorError, ExecutorUnavailableError

__all__ = ["MOUNT", "NOBODY", "Sandbox", "slot_dir"]

MOUNT = "/workspace"
"""Where ``work_dir`` is mounted in the container, and where code runs."""

NOBODY = (65534, 65534)
"""nobody:nogroup in Debian-based images: the user code runs as when this process is root."""

_log = get_logger("parley.coding.docker")


class Sandbox:
    """Owns the container of one executor.

    Args:
        options: the executor's checked arguments.
        name: the container's name.
        client: a docker client to use, or None to connect from the environment at first use.
    """

    def __init__(self, options: DockerOptions, name: str, client: Any) -> None:
        self._options = options
        self._name = name
        self._client = client
        self._owns_client = client is None  # a client we made ourselves is ours to close
        self._lock = threading.RLock()
        self._container: Container | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._leftover: Container | None = None  # given up, perhaps not removed yet
        self._leftover_finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False
        self.user = ""
        """The user runs go as (``"uid:gid"`` or a name), settled when the container starts."""
        self.oom_seen = 0
        """OOM kills already reported in the current container."""
        self._image: str | None = None
        self.files: FileSync | None = None
        """How files move when the daemon cannot mount ``work_dir`` (a remote daemon); None with a mount."""
        self.slotted = False
        """Pool slots share it: the mounted directory is not handed to nobody, only each slot's directory is."""

    @property
    def current(self) -> Container | None:
        """The running container, if one was started and not discarded (no daemon call)."""
        return self._container

    def ensure(self, work_dir: Path) -> Container:
        """Return the running container, starting one first if there is none.

        Args:
            work_dir: the resolved working directory; mounted unless ``bind_dir`` was given.

        Raises:
            ExecutorError: the sandbox is closed, or the daemon refused the container.
            ExecutorUnavailableError: no daemon answers, a container given up earlier cannot be
                removed, or the image cannot be had.
            MissingDependencyError: the docker SDK is not installed.
        """
        with self._lock:
            if self._closed:
                raise ExecutorError("This DockerCommandLineCodeExecutor is closed; create a new one to run code.")
            if self._container is not None:
                return self._container
            self._client = connect(self._client, self._options.docker_host, self._options.tls)
            copy = is_remote(self._client) and self._options.bind_dir is None
            if not self.remove_leftover():  # it holds the name the new container takes
                raise ExecutorUnavailableError(
                    f"The Docker daemon does not answer (or would not remove the container given up earlier, "
                    f"{self._name}), so no fresh container can start. Check that `docker info` answers (start "
                    "Docker if it stopped), then run the block again."
                )
                self._leftover = None
            self.user = self._run_as(work_dir, chown=not copy)
            options = self._options
            if self._image is None:  # the executor's image, or one derived from it with the packages (built once)
                self._image = ensure_image(self._client, options.image, options.packages, options.apt_packages)
            spec = ContainerSpec(
                image=self._image,
                name=self._name,
                bind_dir=None if copy else str(options.bind_dir or work_dir),
                mount=MOUNT,
                network_mode=options.network_mode,
                mem_limit=options.mem_limit,
                pids_limit=options.pids_limit,
                nano_cpus=round(options.cpus * 1e9) if options.cpus else None,
                auto_remove=options.auto_remove,
                labels={"parley.executor": "docker", "parley.pid": str(os.getpid())},
            )
            container = Container.start(self._client, spec)
            _log.debug("container %s started from %s", spec.name, spec.image)
            if copy:  # no mount: work_dir's files go in through the API
                files = FileSync(work_dir, MOUNT, self.user)
                try:
                    files.seed(container)
                except BaseException:
                    container.remove()
                    raise
                self.files = files
            self._container, self.oom_seen = container, 0
            if options.stop_container:
                self._finalizer = weakref.finalize(self, container.remove, keep=not options.auto_remove)
            return container

    def _run_as(self, work_dir: Path, *, chown: bool) -> str:
        if self._options.user is not None:
            return self._options.user
        if os.getuid() != 0:
            return f"{os.getuid()}:{os.getgid()}"
        if not chown:
            return "{}:{}".format(*NOBODY)
        stat = work_dir.stat()
        if (stat.st_uid, stat.st_gid) != NOBODY and not self.slotted:
            os.chown(work_dir, *NOBODY)  # so that code running as nobody can write its files there
        return "{}:{}".format(*NOBODY)

    def discard(self, container: Container) -> None:
        """Give ``container`` up (it died, or must go) without a daemon call; `remove_leftover` removes it.

        Until then it is removed at interpreter exit, whatever ``stop_container`` says.
        """
        with self._lock:
            if self._container is not container:
                return
            self._container = None
            finalizer, self._finalizer = self._finalizer, None
            self._leftover = container
            self._leftover_finalizer = weakref.finalize(self, container.remove)
        if finalizer is not None:
            finalizer.detach()

    def remove_leftover(self) -> bool:
        """Remove the container given up by `discard`, if there is one. Never raises.

        Returns:
            True when none is left; False when the daemon failed or did not answer.
        """
        with self._lock:
            leftover, finalizer = self._leftover, self._leftover_finalizer
            if leftover is None:
                return True
            if not leftover.remove():
                return False
            self._leftover = self._leftover_finalizer = None
        if finalizer is not None:
            finalizer.detach()
        return True

    def restart(self) -> None:
        """Remove the container, whatever ``auto_remove`` says; the next `ensure` starts a fresh one."""
        with self._lock:
            container, self._container = self._container, None
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
        if container is not None:
            _log.info("container %s removed by restart(); the next block starts a fresh one", self._name)
            container.remove()
        self.remove_leftover()

    def close(self) -> None:
        """Stop (and, with ``auto_remove``, remove) the container unless ``stop_container`` is False. Idempotent.

        With ``stop_container=False`` the container is left running, but every process in it
        but its own is killed (background processes kept with ``keep_background`` included).
        """
        with self._lock:
            self._closed = True
            container, self._container = self._container, None
            finalizer, self._finalizer = self._finalizer, None
            client, owned = self._client, self._owns_client
            if owned:
                self._client = None
        if finalizer is not None:
            _log.debug("container %s stopped at close()", self._name)
            finalizer()
        elif container is not None:  # stop_container=False: the container stays, its processes go
            container.kill_all(self.user)
        self.remove_leftover()
        if owned and client is not None:
            client.close()


def slot_dir(root: Path, name: str, *, hand: bool) -> tuple[Path, bool]:
    """A pool slot's directory ``root / name`` on this machine, made a real directory at each call.

    Code in the container can replace ``/workspace/<name>`` with a link to any path (of this
    machine, as seen from here), when it may write in ``/workspace``: the slot's directory is never
    resolved, but checked without following links (`parley.coding._files.real_dir_in`) before
    anything is written, handed over or emptied there.

    Args:
        root: the mounted directory (resolved), created if missing.
        name: the slot's name (``slot-<k>``).
        hand: give the directory to nobody:nogroup (the code runs as nobody: it must write there).

    Returns:
        The directory, and whether a link or file planted at its name was removed first.

    Raises:
        ExecutorError: the directory cannot be made.
    """
    path = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        replaced = real_dir_in(root, name)
        if hand:
            stat = path.lstat()
            if (stat.st_uid, stat.st_gid) != NOBODY:
                os.chown(path, *NOBODY, follow_symlinks=False)
    except OSError as exc:
        raise ExecutorError(f"Cannot create work_dir {path}: {exc}") from exc
    return path, replaced
