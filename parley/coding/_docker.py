"""The Docker adapter: the one module that imports the docker SDK (docker-py), and only when used.

It owns everything that talks to the daemon, so the executor above it deals in plain values:

- `connect` returns a client, or raises `ExecutorUnavailableError` saying how to start Docker;
- `Container.start` creates and starts one sandbox container (pulling the image once if it is
  missing) and translates the daemon's errors into parley's;
- `Container.run` runs one command with ``docker exec`` and streams its output;
- `Container.kill_marked` kills every process of one run, found by the marker variable that the
  run's environment carries (``PARLEY_RUN=<token>``), so children that left the process group
  (``setsid``, double forks) die too;
- `Container.status` and `Container.oom_kills` tell why a run was killed.

Every method blocks (docker-py is synchronous): the executor calls them from worker threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.exceptions import ExecutorError, ExecutorUnavailableError, MissingDependencyError

__all__ = [
    "MARKER_VARIABLE",
    "Container",
    "ContainerGoneError",
    "ContainerSpec",
    "ContainerStatus",
    "RunHandle",
    "connect",
]

MARKER_VARIABLE = "PARLEY_RUN"
"""The environment variable that marks every process of one run (value: the run's token)."""

_DAEMON_HELP = (
    "Start Docker (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd; "
    "install it with `sudo apt-get install docker.io`), check that `docker info` answers, or run "
    "code with another executor, e.g. code_execution_config={'executor': 'local'}."
)

# Kills the processes whose environment holds PARLEY_RUN=<token> ($1), as the run's own user.
# Several passes, because a process may fork while the previous pass kills its parent.
_KILL_SCRIPT = (
    "for pass in 1 2 3 4 5 6 7 8; do found=; for d in /proc/[0-9]*; do "
    f'if grep -qsxz "{MARKER_VARIABLE}=$1" "$d/environ"; then kill -9 "${{d#/proc/}}" 2>/dev/null && found=1; fi; '
    'done; [ -z "$found" ] && exit 0; done'
)
# The container's count of OOM kills: cgroup v2 memory.events, else v1 memory.oom_control.
_OOM_SCRIPT = "cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"


class ContainerGoneError(ExecutorError):
    """The container stopped or was removed: the executor should start a fresh one."""


def _docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise MissingDependencyError("docker", "docker") from exc
    return docker


def _unavailable(exc: BaseException) -> ExecutorUnavailableError:
    return ExecutorUnavailableError(f"Docker is not running or not reachable ({exc}). {_DAEMON_HELP}")


def connect(client: Any | None) -> Any:
    """Return ``client``, or a client for the daemon the environment names (``DOCKER_HOST``).

    Raises:
        MissingDependencyError: docker-py is not installed.
        ExecutorUnavailableError: no daemon answers; the message says how to start one.
    """
    docker = _docker()
    if client is not None:
        return client
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise _unavailable(exc) from exc


@dataclass(frozen=True)
class ContainerSpec:
    """How to create the sandbox container. Sizes use Docker's notation (``"512m"``, ``"1g"``)."""

    image: str
    name: str
    bind_dir: str
    mount: str
    network_mode: str
    mem_limit: str | int | None
    pids_limit: int | None
    nano_cpus: int | None
    auto_remove: bool
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ContainerStatus:
    """What the daemon says about the container.

    Attributes:
        running: True while the container runs.
        oom_killed: True when the kernel killed the container for lack of memory.
        detail: the daemon's state in words (``"exited with code 137"``, ``"removed"``).
    """

    running: bool
    oom_killed: bool
    detail: str


class RunHandle:
    """Lets another thread stop reading a run's output (thread-safe, idempotent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream: Any = None
        self._aborted = False

    def attach(self, stream: Any) -> None:
        with self._lock:
            self._stream = stream
            aborted = self._aborted
        if aborted:
            self._close(stream)

    @property
    def aborted(self) -> bool:
        """True once `abort` was called: the run may still be going, with nobody reading it."""
        return self._aborted

    def abort(self) -> None:
        """Close the output stream; the reading thread then sees its end."""
        with self._lock:
            self._aborted = True
            stream = self._stream
        if stream is not None:
            self._close(stream)

    @staticmethod
    def _close(stream: Any) -> None:
        with contextlib.suppress(Exception):
            stream.close()


class Container:
    """One started sandbox container. Every method blocks; call them from worker threads."""

    def __init__(self, client: Any, container_id: str, spec: ContainerSpec) -> None:
        self._client = client
        self.id = container_id
        self.spec = spec

    @classmethod
    def start(cls, client: Any, spec: ContainerSpec) -> Container:
        """Create and start a container for ``spec``; pull its image once if it is missing.

        The container runs ``sleep infinity`` under Docker's init process (``init=True``), so it
        stops at once when asked. It is never privileged, and its processes cannot gain
        privileges (``no-new-privileges``). Swap is off: ``memswap_limit`` equals ``mem_limit``.

        Raises:
            ExecutorUnavailableError: no daemon answers, or the image is missing and cannot be
                pulled (the message names the image).
            ExecutorError: the daemon refused the container (a name in use, a bad limit ...).
        """
        docker = _docker()
        options: dict[str, Any] = {
            "command": ["sleep", "infinity"],
            "name": spec.name,
            "init": True,
            "privileged": False,
            "security_opt": ["no-new-privileges"],
            "network_mode": spec.network_mode,
            "mem_limit": spec.mem_limit,
            "memswap_limit": spec.mem_limit,
            "pids_limit": spec.pids_limit,
            "nano_cpus": spec.nano_cpus,
            "auto_remove": spec.auto_remove,
            "labels": dict(spec.labels),
            "volumes": {spec.bind_dir: {"bind": spec.mount, "mode": "rw"}},
            "working_dir": spec.mount,
        }
        options = {k: v for k, v in options.items() if v is not None}
        try:
            try:
                container = client.containers.create(spec.image, **options)
            except docker.errors.ImageNotFound:
                _pull(client, spec.image)
                container = client.containers.create(spec.image, **options)
            try:
                container.start()
            except BaseException:
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    container.remove(force=True)
                raise
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise ExecutorError(
                    f"Docker cannot create the container {spec.name!r}: {exc.explanation}. Remove the "
                    f"old one (`docker rm -f {spec.name}`) or choose another container_name."
                ) from exc
            raise ExecutorError(f"Docker refused to start a container from {spec.image!r}: {exc.explanation}") from exc
        except docker.errors.DockerException as exc:  # the connection, not the request, failed
            raise _unavailable(exc) from exc
        except OSError as exc:  # requests' ConnectionError and friends
            raise _unavailable(exc) from exc
        return cls(client, container.id, spec)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        user: str,
        on_output: Callable[[bytes], None],
        handle: RunHandle,
    ) -> int | None:
        """Run ``argv`` in the container's ``mount`` directory and stream its merged output.

        Returns:
            The command's exit code; None when the daemon no longer knows the run (the
            container was removed meanwhile).

        Raises:
            ContainerGoneError: the container is not running, so nothing was run.
            ExecutorUnavailableError: the daemon stopped answering.
        """
        docker = _docker()
        api = self._client.api
        try:
            exec_id = api.exec_create(
                self.id, list(argv), environment=dict(env), workdir=self.spec.mount, user=user, stdin=False
            )["Id"]
            stream = api.exec_start(exec_id, stream=True)
        except docker.errors.APIError as exc:
            if exc.status_code in (404, 409):
                raise ContainerGoneError(f"the container is not running ({exc.explanation})") from exc
            raise ExecutorError(f"Docker could not run the code: {exc.explanation}") from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise _unavailable(exc) from exc
        handle.attach(stream)
        try:
            for chunk in stream:
                on_output(chunk)
        finally:
            with contextlib.suppress(Exception):  # abort() may have closed it already
                stream.close()
        return None if handle.aborted else self._exit_code(exec_id)

    def _exit_code(self, exec_id: str) -> int | None:
        docker = _docker()
        deadline = time.monotonic() + 2.0
        while True:
            try:
                info = self._client.api.exec_inspect(exec_id)
            except (docker.errors.DockerException, OSError):
                return None
            code = info.get("ExitCode")
            if not info.get("Running") or time.monotonic() > deadline:
                return int(code) if code is not None else None
            time.sleep(0.01)  # the output ended a moment before the daemon recorded the exit

    def kill_marked(self, token: str, user: str) -> bool:
        """SIGKILL every process whose environment has ``PARLEY_RUN=<token>``. Never raises.

        Returns:
            True when the kill ran to its end. False when it could not: the container cannot
            start another process (its pids limit is reached), is gone, or the processes kept
            forking; the caller should then remove the container.
        """
        api = self._client.api
        try:
            exec_id = api.exec_create(self.id, ["sh", "-c", _KILL_SCRIPT, "sh", token], user=user)["Id"]
            api.exec_start(exec_id)
            return bool(api.exec_inspect(exec_id).get("ExitCode") == 0)
        except Exception:
            return False

    def oom_kills(self, user: str) -> int | None:
        """The number of processes the kernel has killed in this container for lack of memory."""
        with contextlib.suppress(Exception):
            result = self._client.api.exec_start(
                self._client.api.exec_create(self.id, ["sh", "-c", _OOM_SCRIPT], user=user)["Id"]
            )
            for line in bytes(result).decode(errors="replace").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return None

    def status(self, *, settle: bool = False) -> ContainerStatus:
        """Ask the daemon whether the container still runs, and if not, why.

        Args:
            settle: the container is probably dying: while the daemon still calls it running,
                ask again, for at most 2 seconds.
        """
        deadline = time.monotonic() + (2.0 if settle else 0.0)
        while True:
            status = self._status_once()
            if not status.running or time.monotonic() >= deadline:
                return status
            time.sleep(0.05)

    def _status_once(self) -> ContainerStatus:
        docker = _docker()
        try:
            state = self._client.api.inspect_container(self.id)["State"]
        except docker.errors.NotFound:
            return ContainerStatus(False, False, "it was stopped and removed")
        except (docker.errors.DockerException, OSError) as exc:
            return ContainerStatus(False, False, f"the Docker daemon did not answer: {exc}")
        running = bool(state.get("Running")) and not state.get("Restarting")
        status = state.get("Status", "unknown")
        if running:
            detail = "it is running"
        elif status == "exited":
            detail = f"it was stopped, exit code {state.get('ExitCode')}"
        elif status in ("removing", "dead"):
            detail = "it was stopped and removed" if status == "removing" else "it died"
        else:
            detail = f"its state is {status!r}"
        return ContainerStatus(running, bool(state.get("OOMKilled")), detail)

    def remove(self, *, keep: bool = False) -> None:
        """Stop the container and remove it (or, with ``keep``, only stop it). Never raises.

        Waits (at most 5 seconds) until the daemon has let go of the container's name, so a
        new container may take it at once.
        """
        docker = _docker()
        api = self._client.api
        with contextlib.suppress(docker.errors.DockerException, OSError):
            if keep:
                api.stop(self.id, timeout=1)
                return
            api.remove_container(self.id, force=True)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                api.inspect_container(self.id)
            except (docker.errors.DockerException, OSError):
                return  # gone (NotFound), or the daemon is gone too
            time.sleep(0.05)


def _pull(client: Any, image: str) -> None:
    docker = _docker()
    try:
        client.images.pull(image)
    except (docker.errors.DockerException, OSError) as exc:
        raise ExecutorUnavailableError(
            f"The Docker image {image!r} is not on this machine and could not be pulled ({exc}). Pull or build "
            f"it first (`docker pull {image}`; parley's test image is built by `bash scripts/docker_setup.sh`), "
            "or pass image='<an image you have>'."
        ) from exc
