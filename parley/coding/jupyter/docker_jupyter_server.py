"""`DockerJupyterServer`: a Jupyter Kernel Gateway in a Docker container (AutoGen 0.2's ``coding.jupyter``).

Its `connection_info` is what `JupyterCodeExecutor` takes; the kernels, their state and their
files live in the container::

    with DockerJupyterServer(image="python:3-slim") as server, JupyterCodeExecutor(server) as executor:
        executor.execute_code_blocks([CodeBlock("print(1)", "python")])

Unless ``custom_image_name`` names an image that has a gateway, parley builds one from ``image``
once (`parley.coding.jupyter._gateway_image`) and reuses it. The gateway listens on port 8888 in
the container, published on ``127.0.0.1`` of the Docker host on a free port, with a random token.

The network: the gateway must be reachable from this machine, so the container cannot be without
network as `DockerCommandLineCodeExecutor`'s is by default. On Docker's ``bridge`` network (the
default) the code the kernels run can reach the internet and whatever the bridge reaches, but not
this machine's loopback services. With ``network="host"`` it shares this machine's network,
loopback included (a Redis or a database on 127.0.0.1, other gateways): use it only where the
bridge is not available, for trusted code.

The docker SDK comes through `parley.coding._docker`, the one module that imports it.
"""

from __future__ import annotations

import atexit
import os
import secrets
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from parley.coding._docker import Container, ContainerSpec, connect
from parley.coding.jupyter._gateway_image import gateway_image
from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.coding.jupyter.local_jupyter_server import free_port, get_json
from parley.exceptions import ConfigError, ExecutorUnavailableError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DockerJupyterServer"]

_PORT = 8888  # where the gateway listens in the container (on a network of its own)
_WORK_DIR = "/workspace"


class DockerJupyterServer:
    """A Jupyter Kernel Gateway in a Docker container; a context manager that starts and removes it.

    The constructor starts nothing (AutoGen 0.2's started the container in the constructor).
    `start` (or entering the context) does; so does the first read of `connection_info`, so
    0.2's ``JupyterCodeExecutor(DockerJupyterServer())`` works. `stop` removes the container,
    which ends its kernels.

    Args:
        custom_image_name: an image that has ``jupyter-kernel-gateway`` and ``ipykernel``
            installed for its ``python3``; used as it is. Default None: parley builds one from
            ``image`` (once; later servers reuse it).
        container_name: the container's name. Default ``parley-jupyter-<random>``.
        auto_remove: remove the container when it stops. Default True; False only stops it.
        stop_container: also stop it when this process exits (``atexit``), if `stop` was not
            called. Default True.
        docker_env: extra environment variables for the container; its kernels inherit them.
        token: True (default) or a `GenerateToken` for a random token, a string for that token,
            ``""`` (or None) for none: then any local process that finds the port may run code.
            The token goes to the gateway as a command-line option (not in the kernels'
            environment) and to it in the ``Authorization`` header, never in a URL.
        image: the base image the gateway image is built from when ``custom_image_name`` is
            None: glibc Linux with ``python3`` (3.9 or later). Default ``"python:3-slim"``.
        network: ``"bridge"`` (default; Docker's default network, the port published on the
            Docker host's ``127.0.0.1``), the name of another Docker network (the same way), or
            ``"host"``: the container shares this machine's network and the gateway listens on
            its ``127.0.0.1``. See the module's notes on what the code may reach.
        docker_host: the Docker daemon's address (``unix://...``, ``tcp://...``); default the
            environment's. The gateway must be reachable on that host's ``127.0.0.1``, so a
            daemon on another machine does not work.
        client: a docker client to use instead of ``docker_host``.
        startup_timeout: seconds to wait for the gateway to answer once the container runs.
            Default 60. (Building the image the first time is not counted.)

    Raises:
        ConfigError: ``network`` is ``"none"``, or ``token`` is not a str, bool, None or
            `GenerateToken`.
    """

    class GenerateToken:
        """Pass an instance as ``token`` for a random token (AutoGen 0.2's spelling; the default)."""

    def __init__(
        self,
        *,
        custom_image_name: str | None = None,
        container_name: str | None = None,
        auto_remove: bool = True,
        stop_container: bool = True,
        docker_env: Mapping[str, str] | None = None,
        token: str | bool | GenerateToken | None = True,
        image: str = "python:3-slim",
        network: str = "bridge",
        docker_host: str | None = None,
        client: Any | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if network == "none":
            raise ConfigError(
                "DockerJupyterServer needs a network to be reached: network='none' cannot work. Use "
                "network='bridge' (the default), or DockerCommandLineCodeExecutor for code without network.",
                key="network",
            )
        if token is True or isinstance(token, DockerJupyterServer.GenerateToken):
            self._token = secrets.token_hex(32)
        elif token is None or token is False or isinstance(token, str):
            self._token = token or ""
        else:
            raise ConfigError(
                f"token must be a str, True (a random one) or None (none), got {type(token).__name__}.", key="token"
            )
        self._custom_image = custom_image_name
        self._image = image
        self._name = container_name or f"parley-jupyter-{uuid.uuid4().hex[:12]}"
        self._auto_remove = auto_remove
        self._stop_container = stop_container
        self._env = dict(docker_env or {})
        self._network = network
        self._docker_host = docker_host
        self._given_client = client
        self._startup_timeout = startup_timeout
        self._container: Container | None = None
        self._port: int | None = None
        self._stopped = False

    @property
    def container_name(self) -> str:
        """The container's name."""
        return self._name

    @property
    def token(self) -> str:
        """The token the gateway wants ("" for none)."""
        return self._token

    @property
    def url(self) -> str:
        """The gateway's base URL, ``http://127.0.0.1:<port>`` (without the token).

        Raises:
            RuntimeError: the gateway is not running.
        """
        if self._port is None:
            raise RuntimeError("the gateway is not running: call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._port}"

    @property
    def connection_info(self) -> JupyterConnectionInfo:
        """Where the gateway is, with its token, as `JupyterCodeExecutor` takes it.

        The first read starts a server that was never started; after `stop` it is an error.

        Raises:
            RuntimeError: the server was stopped.
            ExecutorUnavailableError, ImageBuildError, ExecutorError: it did not start (see `start`).
        """
        if self._container is None and self._stopped:
            raise RuntimeError("this Jupyter server was stopped: start() it again, or make a new one")
        self.start()
        assert self._port is not None
        return JupyterConnectionInfo("127.0.0.1", port=self._port, token=self._token or None)

    def get(self, path: str) -> Any:
        """``GET`` an API path (``"/api/kernels"``) with the token; the decoded JSON body.

        Raises:
            RuntimeError: the gateway is not running.
            OSError: the request failed (``urllib.error.HTTPError`` for an HTTP error).
        """
        return get_json(self.url, self._token, path)

    def kernel_ids(self) -> set[str]:
        """The ids of the kernels the gateway runs now."""
        return {str(kernel["id"]) for kernel in self.get("/api/kernels")}

    def start(self) -> Self:
        """Build the image if needed, start the container, wait until the gateway answers; return self.

        Does nothing when it runs. Blocks: the first build downloads and installs the gateway
        (a minute or more); a start with the image at hand takes a few seconds.

        Raises:
            MissingDependencyError: docker-py is not installed.
            ExecutorUnavailableError: Docker is not reachable, the image is missing, or the gateway did
                not answer in time (the container's output is quoted; on the bridge network a hint
                names ``network="host"``).
            ImageBuildError: building the gateway image failed.
            ExecutorError: the daemon refused the container (a name in use ...).
        """
        if self._container is not None:
            return self
        client = connect(self._given_client, self._docker_host)
        image = self._custom_image or gateway_image(client, self._image)
        host_network = self._network == "host"
        port = free_port("127.0.0.1") if host_network else _PORT
        spec = ContainerSpec(
            image=image, name=self._name, bind_dir=None, mount=_WORK_DIR, network_mode=self._network,
            mem_limit=None, pids_limit=None, nano_cpus=None, auto_remove=self._auto_remove,
            labels={"parley.executor": "jupyter-gateway", "parley.pid": str(os.getpid())},
            command=self._command("127.0.0.1" if host_network else "0.0.0.0", port),
            ports=None if host_network else {f"{_PORT}/tcp": ("127.0.0.1",)},
            environment=self._env,
        )  # fmt: skip
        try:
            container = Container.start(client, spec)
        except ExecutorUnavailableError:
            raise
        except Exception as exc:
            if "bridge" in str(exc) and self._network == "bridge":
                raise ExecutorUnavailableError(
                    f"Docker could not put the gateway's container on its bridge network ({exc}). Where the "
                    "bridge is not available, pass network='host' (the code then shares this machine's network)."
                ) from exc
            raise
        self._container = container
        self._stopped = False
        if self._stop_container:
            atexit.register(self.stop)
        try:
            self._port = port if host_network else container.host_port(f"{_PORT}/tcp")
            self._wait_until_it_answers(container)
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, ip: str, port: int) -> list[str]:
        """The gateway's command line, with the token (not in the environment, which kernels inherit)."""
        return [
            "python3", "-m", "jupyter", "kernelgateway",
            f"--KernelGatewayApp.ip={ip}",
            f"--KernelGatewayApp.port={port}",
            "--KernelGatewayApp.port_retries=0",
            f"--KernelGatewayApp.auth_token={self._token}",
            "--JupyterWebsocketPersonality.list_kernels=True",
            "--JupyterApp.answer_yes=True",
        ]  # fmt: skip

    def _wait_until_it_answers(self, container: Container) -> None:
        deadline = time.monotonic() + self._startup_timeout
        why = "it did not answer"
        while time.monotonic() < deadline:
            status = container.status()
            if not status.running:
                why = f"the container stopped: {status.detail}"
                break
            if self._port is None:
                self._port = container.host_port(f"{_PORT}/tcp")
            else:
                try:
                    get_json(self.url, self._token, "/api", timeout=5)
                    return
                except OSError as exc:
                    why = f"it did not answer ({exc})"
            time.sleep(0.1)
        raise ExecutorUnavailableError(
            f"The Jupyter Kernel Gateway in the container {self._name!r} did not start within "
            f"{self._startup_timeout:g} s: {why}. The container's last output:\n{container.logs() or '(none)'}"
        )

    def stop(self) -> None:
        """Remove the container (or with ``auto_remove=False``, stop it), which ends its kernels. Idempotent.

        Never raises; the container may remain when the daemon does not answer (`docker rm -f` it).
        """
        self._stopped = True
        atexit.unregister(self.stop)
        container, self._container, self._port = self._container, None, None
        if container is not None:
            container.remove(keep=not self._auto_remove)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
