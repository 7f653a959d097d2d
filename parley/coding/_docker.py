"""The Docker adapter: the one module that imports the docker SDK (docker-py), and only when used.

It owns everything that talks to the daemon, so the executor above it deals in plain values:

- `connect` returns a client for the local daemon or one named by ``docker_host`` (``tcp://``,
  ``ssh://``, with TLS), or raises `ExecutorUnavailableError` saying how to start Docker;
  `is_remote` tells whether a client's daemon may be on another machine (not a local socket);
- `Container.start` creates and starts one sandbox container (pulling the image once if it is
  missing) and translates the daemon's errors into parley's;
- `Container.run` runs one command with ``docker exec`` under `WRAPPER` and streams its output;
- `Container.kill_all` ends every process in the container but the container's own (see
  `WRAPPER`): containment does not depend on process groups, sessions or the environment, so
  ``setsid``, double forks and ``env -i`` do not escape it;
- `Container.status` and `Container.oom_kills` tell why a run was killed;
- `Container.put_archive` and `Container.get_archive` copy files in and out through the API
  (used instead of a bind mount when the daemon is on another machine).

The shell those runs use inside the container (`WRAPPER`, the kill) lives in
`parley.coding._docker_sweep`, and `RunHandle` in `parley.coding._docker_handle`; neither needs
the SDK, and both names are importable from here too.

Every method blocks (docker-py is synchronous): the executor calls them from worker threads and
bounds each wait (`parley.coding._docker_run.ask`). A client made here has an HTTP timeout of
`HTTP_TIMEOUT_S` per request, so a daemon that stops answering (``SIGSTOP``, overload) cannot
hold a worker thread for ever either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.coding._docker_handle import RunHandle
from parley.coding._docker_sweep import OOM_SCRIPT, SWEEP_FUNCTIONS, WRAPPER
from parley.exceptions import ExecutorError, ExecutorUnavailableError, MissingDependencyError

__all__ = [
    "HTTP_TIMEOUT_S",
    "WRAPPER",
    "Container",
    "ContainerGoneError",
    "ContainerSpec",
    "ContainerStatus",
    "DaemonSilentError",
    "RunHandle",
    "connect",
    "daemon_answers",
    "docker_sdk",
    "is_remote",
    "tls_config",
]

HTTP_TIMEOUT_S = 30.0
"""Seconds a client made here waits for the daemon's answer to one request (not for a run's output)."""

_DAEMON_HELP = (
    "Start Docker (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd; "
    "install it with `sudo apt-get install docker.io`), check that `docker info` answers, or run "
    "code with another executor, e.g. code_execution_config={'executor': 'local'}."
)


class ContainerGoneError(ExecutorError):
    """The container stopped or was removed: the executor should start a fresh one."""


class DaemonSilentError(ExecutorUnavailableError):
    """The Docker daemon did not answer within a deadline (it may be stopped, frozen or overloaded)."""


def _docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise MissingDependencyError("docker", "docker") from exc
    return docker


def docker_sdk() -> Any:
    """The ``docker`` module (for its ``errors``), imported on first use.

    Raises:
        MissingDependencyError: docker-py is not installed.
    """
    return _docker()


def _unavailable(exc: BaseException) -> ExecutorUnavailableError:
    return ExecutorUnavailableError(f"Docker is not running or not reachable ({exc}). {_DAEMON_HELP}")


def tls_config(tls: Any) -> Any:
    """docker-py's ``TLSConfig`` for the executor's ``tls`` argument (None for no TLS).

    ``True`` verifies the daemon's certificate against the system's CAs; a mapping may give
    ``ca_cert``, ``client_cert`` and ``client_key`` (paths) and ``verify`` (bool); a
    ``docker.tls.TLSConfig`` is used as is.
    """
    docker = _docker()
    if tls is None or tls is False:
        return None
    if tls is True:
        return docker.tls.TLSConfig(verify=True)
    if isinstance(tls, Mapping):
        cert, key = tls.get("client_cert"), tls.get("client_key")
        return docker.tls.TLSConfig(
            client_cert=(cert, key) if cert and key else None,
            ca_cert=tls.get("ca_cert"),
            verify=tls.get("verify", True),
        )
    return tls


def connect(client: Any | None, docker_host: str | None = None, tls: Any = None) -> Any:
    """Return ``client``, or a client for ``docker_host``, else for the daemon the environment names (``DOCKER_HOST``).

    Args:
        client: a docker client to use as is, or None.
        docker_host: the daemon's address (``unix:///var/run/docker.sock``, ``tcp://host:2376``,
            ``ssh://user@host``; ssh runs the system's ``ssh`` command), or None for the
            environment's (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``).
        tls: see `tls_config`; only with ``docker_host``.

    Raises:
        MissingDependencyError: docker-py is not installed.
        ExecutorUnavailableError: no daemon answers; the message says how to start one.
    """
    docker = _docker()
    if client is not None:
        return client
    try:
        if docker_host is None:
            return docker.from_env(timeout=HTTP_TIMEOUT_S)
        return docker.DockerClient(
            base_url=docker_host,
            tls=tls_config(tls),
            timeout=HTTP_TIMEOUT_S,
            use_ssh_client=docker_host.startswith("ssh://"),
        )
    except docker.errors.DockerException as exc:
        raise _unavailable(exc) from exc


def daemon_answers(timeout: float = 5.0) -> bool:
    """True when docker-py is installed and the daemon the environment names answers a ping.

    Blocks for at most about ``timeout`` seconds (one HTTP request).
    """
    try:
        docker = _docker()
    except MissingDependencyError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # a refused socket, a timeout, a daemon answering with an error: not running
        return False


def is_remote(client: Any) -> bool:
    """True when ``client``'s daemon is reached over the network (tcp, ssh, http), not a local socket.

    Such a daemon may be on another machine, so it cannot mount a directory of this one.
    """
    base_url = str(getattr(getattr(client, "api", None), "base_url", ""))
    return not base_url.startswith(("http+docker://", "npipe://", "unix://"))


@dataclass(frozen=True)
class ContainerSpec:
    """How to create the sandbox container. Sizes use Docker's notation (``"512m"``, ``"1g"``)."""

    image: str
    name: str
    bind_dir: str | None
    mount: str
    network_mode: str
    mem_limit: str | int | None
    pids_limit: int | None
    nano_cpus: int | None
    auto_remove: bool
    labels: Mapping[str, str]
    command: Sequence[str] = ("sleep", "infinity")
    """What the container runs; by default it only stays up, and code comes by ``docker exec``."""
    ports: Mapping[str, tuple[str]] | None = None
    """Container ports to publish on a host address, each on a free host port: ``{"8888/tcp": ("127.0.0.1",)}``."""
    environment: Mapping[str, str] | None = None
    """The container's environment (its command and ``docker exec`` runs inherit it)."""


@dataclass(frozen=True)
class ContainerStatus:
    """What the daemon says about the container.

    Attributes:
        running: True while the container runs.
        oom_killed: True when the kernel killed the container for lack of memory.
        detail: the daemon's state in words (``"exited with code 137"``, ``"removed"``).
        answered: False when the daemon did not answer (then ``running`` is False and
            ``detail`` says so): nothing is known about the container.
    """

    running: bool
    oom_killed: bool
    detail: str
    answered: bool = True


class Container:
    """One started sandbox container. Every method blocks; call them from worker threads."""

    def __init__(self, client: Any, container_id: str, spec: ContainerSpec) -> None:
        self._client = client
        self.id = container_id
        self.spec = spec

    @classmethod
    def start(cls, client: Any, spec: ContainerSpec) -> Container:
        """Create and start a container for ``spec``; pull its image once if it is missing.

        The container runs ``spec.command`` (``sleep infinity`` by default) under Docker's init
        process (``init=True``), so it stops at once when asked. It is never privileged, and its processes cannot gain
        privileges (``no-new-privileges``). Swap is off: ``memswap_limit`` equals ``mem_limit``.

        Raises:
            ExecutorUnavailableError: no daemon answers, or the image is missing and cannot be
                pulled (the message names the image).
            ExecutorError: the daemon refused the container (a name in use, a bad limit ...).
        """
        docker = _docker()
        options: dict[str, Any] = {
            "command": list(spec.command),
            "ports": dict(spec.ports) if spec.ports else None,
            "environment": dict(spec.environment) if spec.environment else None,
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
            "volumes": {spec.bind_dir: {"bind": spec.mount, "mode": "rw"}} if spec.bind_dir else None,
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
            The command's exit code; None when it is not known: the run was aborted (through
            ``handle``; then it may not have started at all), or the daemon no longer knows it
            (the container was removed meanwhile).

        Raises:
            ContainerGoneError: the container is not running, so nothing was run.
            ExecutorUnavailableError: the daemon stopped answering.
        """
        with _exec_errors():
            exec_id = self._exec_create(argv, env=env, user=user, stdin=False)
            if handle.aborted:  # given up while the daemon was slow to answer: do not start it now
                return None
            sock = self._client.api.exec_start(exec_id, socket=True)
        handle.attach(sock)
        from docker.utils.socket import frames_iter

        try:
            for _stream, chunk in frames_iter(sock, tty=False):
                on_output(chunk)
        except OSError:  # the connection broke: the daemon went away, or abort() shut it
            pass
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        return None if handle.aborted else self._exit_code(exec_id)

    def attach(self, argv: Sequence[str], *, env: Mapping[str, str], user: str) -> Any:
        """Start ``argv`` in the container's ``mount`` directory with its stdin attached; return its stream.

        The stream is a socket: what is sent to it goes to the command's stdin; what comes back
        is the command's stdout and stderr in Docker's multiplexed frames. The persistent runner
        (`parley.coding._docker_runner`) lives on one.

        Raises:
            ContainerGoneError: the container is not running, so nothing was started.
            ExecutorError: the daemon refused the command.
            ExecutorUnavailableError: the daemon did not answer.
        """
        with _exec_errors():
            exec_id = self._exec_create(argv, env=env, user=user, stdin=True)
            return self._client.api.exec_start(exec_id, socket=True)

    def _exec_create(self, argv: Sequence[str], *, env: Mapping[str, str], user: str, stdin: bool) -> str:
        """Create (not start) a ``docker exec`` of ``argv`` in the container's ``mount`` directory; return its id."""
        exec_id = self._client.api.exec_create(
            self.id, list(argv), environment=dict(env), workdir=self.spec.mount, user=user, stdin=stdin
        )["Id"]
        return str(exec_id)

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

    def put_archive(self, path: str, data: bytes) -> None:
        """Unpack the tar archive ``data`` at ``path`` in the container (which must exist).

        Raises:
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
        """
        docker = _docker()
        try:
            self._client.api.put_archive(self.id, path, data)
        except docker.errors.NotFound as exc:
            raise ContainerGoneError(f"the container is gone ({exc.explanation})") from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise _unavailable(exc) from exc

    def get_archive(self, path: str) -> Iterator[bytes]:
        """The tar archive of ``path`` in the container, in chunks as the daemon sends them.

        Raises:
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
        """
        docker = _docker()
        try:
            stream, _stat = self._client.api.get_archive(self.id, path, chunk_size=1 << 16)
        except docker.errors.NotFound as exc:
            raise ContainerGoneError(f"the container or {path} is gone ({exc.explanation})") from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise _unavailable(exc) from exc
        return iter(stream)

    def kill_all(self, user: str, *, spare_token: str | None = None) -> bool:
        """SIGKILL every process in the container but its own (see `WRAPPER`), as ``user``. Never raises.

        Args:
            user: the user the runs go as; processes of other users are out of reach.
            spare_token: the token of a run in ``keep`` mode: the processes that existed before
                it started (background processes of earlier blocks) are spared. None to spare
                nothing.

        Returns:
            True when every process in reach was sent SIGKILL. False when the kill could not
            run to its end: the container cannot start another process (its pids limit is
            reached), is gone, the processes kept forking, or the daemon failed; the caller
            should then remove the container.
        """
        spare = f'read -r spare < "/tmp/.parley-run-{spare_token}" 2>/dev/null; ' if spare_token else ""
        script = f'{SWEEP_FUNCTIONS}\nspare=\n{spare}parley_sweep "$spare"'
        api = self._client.api
        try:
            exec_id = api.exec_create(self.id, ["sh", "-c", script], user=user)["Id"]
            api.exec_start(exec_id)
            return bool(api.exec_inspect(exec_id).get("ExitCode") == 0)
        except Exception:
            return False

    def oom_kills(self, user: str) -> int | None:
        """The number of processes the kernel has killed in this container for lack of memory."""
        with contextlib.suppress(Exception):
            result = self._client.api.exec_start(
                self._client.api.exec_create(self.id, ["sh", "-c", OOM_SCRIPT], user=user)["Id"]
            )
            for line in bytes(result).decode(errors="replace").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return None

    def host_port(self, port: str) -> int | None:
        """The host port the container's ``port`` (``"8888/tcp"``) is published on; None when it is not (yet).

        Raises:
            ContainerGoneError: the container is gone.
            ExecutorUnavailableError: the daemon failed or did not answer.
        """
        docker = _docker()
        try:
            ports = self._client.api.inspect_container(self.id)["NetworkSettings"].get("Ports") or {}
        except docker.errors.NotFound as exc:
            raise ContainerGoneError(f"the container is gone ({exc.explanation})") from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise _unavailable(exc) from exc
        bindings = ports.get(port) or []
        return int(bindings[0]["HostPort"]) if bindings and bindings[0].get("HostPort") else None

    def logs(self, tail: int = 40) -> str:
        """The last ``tail`` lines of the container's output (its command's stdout and stderr); "" if unknown."""
        with contextlib.suppress(Exception):
            return bytes(self._client.api.logs(self.id, tail=tail)).decode(errors="replace")
        return ""

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
            return ContainerStatus(False, False, f"the Docker daemon did not answer: {exc}", answered=False)
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

    def remove(self, *, keep: bool = False) -> bool:
        """Stop the container and remove it (or, with ``keep``, only stop it). Never raises.

        Waits (at most 5 seconds) until the daemon has let go of the container's name, so a
        new container may take it at once.

        Returns:
            True when it is done (or the container was already gone); False when the daemon
            failed or did not answer, so the container may still exist.
        """
        docker = _docker()
        api = self._client.api
        try:
            if keep:
                api.stop(self.id, timeout=1)
                return True
            api.remove_container(self.id, force=True)
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: its removal is already under way (auto_remove)
                return False
        except (docker.errors.DockerException, OSError):
            return False
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                api.inspect_container(self.id)
            except docker.errors.NotFound:
                return True
            except (docker.errors.DockerException, OSError):
                return False
            time.sleep(0.05)
        return True  # removal is under way; the name may take a moment longer to free


@contextlib.contextmanager
def _exec_errors() -> Iterator[None]:
    """Translate the daemon's errors while a ``docker exec`` is created and started into parley's.

    Raises:
        ContainerGoneError: the container is not running (404, 409), so nothing was run.
        ExecutorError: the daemon refused the command.
        ExecutorUnavailableError: the daemon failed or did not answer.
    """
    docker = _docker()
    try:
        yield
    except docker.errors.APIError as exc:
        if exc.status_code in (404, 409):
            raise ContainerGoneError(f"the container is not running ({exc.explanation})") from exc
        raise ExecutorError(f"Docker could not run the code: {exc.explanation}") from exc
    except (docker.errors.DockerException, OSError) as exc:
        raise _unavailable(exc) from exc


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
