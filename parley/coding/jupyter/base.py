"""Where a Jupyter server is: `JupyterConnectionInfo`, `JupyterConnectable` (AutoGen 0.2's ``coding.jupyter.base``).

A Jupyter Kernel Gateway, a Jupyter Enterprise Gateway or a Jupyter Server all serve kernels over
the same REST and websocket API; `JupyterConnectionInfo` says where one listens and which token
it wants. `JupyterConnectionInfo.from_url` reads the URL form, ``http://host:8888/?token=...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from parley.exceptions import ConfigError

__all__ = ["JupyterConnectable", "JupyterConnectionInfo", "connection_info"]


@dataclass(frozen=True)
class JupyterConnectionInfo:
    """Where a Jupyter Kernel Gateway (or Jupyter Server) listens, and its token.

    The token is kept out of ``repr`` and out of every error message.

    Attributes:
        host: the host name or IP address, without a scheme (``"127.0.0.1"``,
            ``"gateway.example.org"``).
        use_https: connect with HTTPS and secure websockets (``wss``). Default False.
        port: the TCP port; None for the scheme's default (80, or 443 with HTTPS).
        token: the server's auth token, sent as ``Authorization: token <token>``; None for a
            server without one.
        base_path: the path the server's API lives under, for a server behind a proxy
            (``"/gateway"``); default ``""`` (the API is at ``/api``). Not in AutoGen 0.2.

    Raises:
        ConfigError: a field is invalid (an empty host or one with a scheme or path, a port
            outside 1-65535, a token that is not a str).
    """

    host: str
    use_https: bool = False
    port: int | None = None
    token: str | None = field(default=None, repr=False)
    base_path: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip() or "/" in self.host or " " in self.host:
            raise ConfigError(
                f"JupyterConnectionInfo.host must be a host name or IP address such as '127.0.0.1', got "
                f"{self.host!r}. To give a whole URL, pass it as a string: 'http://host:8888/?token=...'.",
                key="host",
            )
        if not isinstance(self.use_https, bool):
            raise ConfigError(f"use_https must be a bool, got {self.use_https!r}.", key="use_https")
        port = self.port
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ConfigError(f"port must be an int from 1 to 65535, or None, got {port!r}.", key="port")
        if self.token is not None and not isinstance(self.token, str):
            raise ConfigError("token must be a str or None.", key="token")
        if not isinstance(self.base_path, str):
            raise ConfigError(f"base_path must be a str, got {self.base_path!r}.", key="base_path")
        object.__setattr__(self, "base_path", "/" + self.base_path.strip("/") if self.base_path.strip("/") else "")

    @classmethod
    def from_url(cls, url: str) -> JupyterConnectionInfo:
        """Read ``http[s]://host[:port][/base/path][?token=...]``.

        Raises:
            ConfigError: the URL has another scheme, no host, or a bad port.
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            shown = _without_query(url)
            raise ConfigError(f"jupyter_server {shown!r} is not a valid URL: {exc}.", key="jupyter_server") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"jupyter_server must be an http:// or https:// URL such as 'http://127.0.0.1:8888', got "
                f"{_without_query(url)!r}.",
                key="jupyter_server",
            )
        token = parse_qs(parts.query).get("token", [None])[-1]
        return cls(parts.hostname, parts.scheme == "https", port, token, parts.path)

    @property
    def url(self) -> str:
        """The server's base URL, without the token: ``http://127.0.0.1:8888``."""
        scheme = "https" if self.use_https else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}{f':{self.port}' if self.port else ''}{self.base_path}"

    @property
    def websocket_url(self) -> str:
        """The base URL for websockets: ``ws://127.0.0.1:8888`` (``wss`` with HTTPS)."""
        return "ws" + self.url[len("http") :]

    def headers(self) -> dict[str, str]:
        """The HTTP headers that authenticate a request: ``Authorization: token ...`` when there is a token."""
        return {"Authorization": f"token {self.token}"} if self.token else {}


@runtime_checkable
class JupyterConnectable(Protocol):
    """Something that knows where a Jupyter server is: a running gateway, say."""

    @property
    def connection_info(self) -> JupyterConnectionInfo:
        """Where the server is, with its token."""
        ...


def _without_query(url: object) -> str:
    """``url`` without its query string, so a token in it is never shown."""
    return str(url).split("?", 1)[0]


def connection_info(
    server: JupyterConnectionInfo | JupyterConnectable | str | Mapping[str, Any],
) -> JupyterConnectionInfo:
    """Read a ``jupyter_server`` argument: connection info, something that has it, a URL, or a dict of its fields.

    Raises:
        ConfigError: it is none of those, or it is invalid.
    """
    if isinstance(server, JupyterConnectionInfo):
        return server
    found = getattr(server, "connection_info", None)  # a JupyterConnectable
    if isinstance(found, JupyterConnectionInfo):
        return found
    if isinstance(server, str):
        return JupyterConnectionInfo.from_url(server)
    if isinstance(server, Mapping):
        try:
            return JupyterConnectionInfo(**server)
        except TypeError as exc:
            raise ConfigError(
                f"jupyter_server as a dict takes the fields host, use_https, port, token and base_path: {exc}.",
                key="jupyter_server",
            ) from exc
    raise ConfigError(
        "jupyter_server must be a JupyterConnectionInfo, a URL such as 'http://127.0.0.1:8888/?token=...', a "
        f"dict with host, port and token, or an object whose connection_info is a JupyterConnectionInfo; got "
        f"{type(server).__name__}.",
        key="jupyter_server",
    )
