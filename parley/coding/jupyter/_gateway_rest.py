"""REST calls to a Jupyter gateway that survive transient faults; the only module in parley that imports ``tornado``.

`GatewayRest` sends the Kernel Gateway API's requests (``POST /api/kernels`` ...) with tornado's
async client. Every call has a deadline in seconds for all its attempts together; within it:

- A connection that fails (refused, reset, no answer) and the answers 502, 503 and 504 are
  retried after a wait that doubles from 0.1 s up to 2 s; 429 waits what its ``Retry-After``
  header says (seconds, or an HTTP date), within the deadline.
- 401 and 403 (but 403 "limit": too many kernels) are a refused token: `ConfigError` at once.
- Any other 4xx or 5xx is `GatewayAnswered` at once, quoting the server's own message.
- When the deadline passes, the error says what was tried, how often, and what answered last.

`tornado_api` hands the websocket side (`parley.coding.jupyter._gateway`) the few tornado
names it needs, so tornado is imported in one place.

A request that is not idempotent (``retry_timeouts=False``: starting a kernel) is not retried
after a timeout, since the server may have acted on it. The token goes in the
``Authorization`` header only, never in a URL, and no message quotes it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from parley.coding.jupyter.base import JupyterConnectionInfo
from parley.exceptions import ConfigError, ExecutorUnavailableError, MissingDependencyError

__all__ = [
    "BACKOFF_S",
    "certificate_rejected",
    "GatewayAnswered",
    "GatewayCertificateRejected",
    "GatewayRest",
    "GatewayUnreachable",
    "rejected",
    "retry_after",
    "tornado_api",
    "unreachable_message",
]

BACKOFF_S = (0.1, 2.0)
"""The first wait between attempts and its cap, in seconds; each wait doubles the last."""

_ATTEMPT_S = 10.0  # the most one attempt may take, in seconds, when the deadline is further away
_RETRIED = frozenset({429, 502, 503, 504})
_TIMED_OUT = 599  # tornado's code for a timeout or a dropped connection


def tornado_module() -> Any:
    """Import tornado, or raise `MissingDependencyError` naming the ``jupyter`` extra."""
    try:
        import tornado
    except ImportError as exc:
        raise MissingDependencyError("tornado", "jupyter") from exc
    return tornado


def tornado_api() -> SimpleNamespace:
    """Tornado's ``HTTPClientError``, ``HTTPRequest``, ``websocket_connect`` and ``WebSocketError``.

    Raises:
        MissingDependencyError: tornado is not installed.
    """
    tornado_module()
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import WebSocketError, websocket_connect

    return SimpleNamespace(
        HTTPClientError=HTTPClientError,
        HTTPRequest=HTTPRequest,
        websocket_connect=websocket_connect,
        WebSocketError=WebSocketError,
    )


class GatewayUnreachable(ExecutorUnavailableError):
    """No answer from the gateway within the deadline (refused, reset, or silent)."""


class GatewayCertificateRejected(ExecutorUnavailableError):
    """The gateway's TLS certificate did not verify: not transient, so never retried."""


def certificate_rejected(server: JupyterConnectionInfo, exc: BaseException) -> GatewayCertificateRejected:
    """The error for a certificate that did not verify, with both ways out."""
    return GatewayCertificateRejected(
        f"The Jupyter Kernel Gateway at {server.url} presented a TLS certificate that did not verify ({exc}). Give "
        "the gateway a certificate this machine trusts, or, if you trust this one (self-signed), pass "
        "validate_cert=False."
    )


class GatewayAnswered(ExecutorUnavailableError):
    """The gateway answered with an HTTP error (``code``) other than a refused token."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _server_message(body: bytes | None) -> str:
    """The ``message`` (else ``reason``) of the server's JSON error body, or ""."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return ""
    return str(data.get("message") or data.get("reason") or "") if isinstance(data, dict) else ""


def unreachable_message(server: JupyterConnectionInfo, why: object) -> str:
    """What to say when the gateway at ``server`` cannot be reached, with the fix."""
    return (
        f"Cannot reach the Jupyter Kernel Gateway at {server.url} ({why}). Check that it is running and that "
        "the host, port and scheme (http or https) are right; start one with `jupyter kernelgateway "
        "--KernelGatewayApp.ip=<address> --KernelGatewayApp.port=<port> --KernelGatewayApp.auth_token=<token>`."
    )


def rejected(server: JupyterConnectionInfo, code: int, reason: str) -> ConfigError:
    """The error for a refused token (401 or 403), saying which token to pass; never quotes it."""
    given = "the token given was refused" if server.token else "no token was given"
    return ConfigError(
        f"The Jupyter Kernel Gateway at {server.url} refused the request (HTTP {code} {reason}): {given}. Pass the "
        "token it was started with (--KernelGatewayApp.auth_token, or KG_AUTH_TOKEN in its environment) as "
        "JupyterConnectionInfo(token=...) or as ?token=... in the URL.",
        key="token",
    )


@dataclass
class _Attempts:
    """What the attempts of one call saw, for the final error."""

    count: int = 0
    last: str = "nothing"


class GatewayRest:
    """REST requests to one gateway, with its token, extra headers and certificate check.

    Args:
        server: where the gateway listens, and its token.
        headers: extra headers for every request and websocket (a proxy's own auth ...);
            ``Authorization`` here replaces the token's.
        validate_cert: check the server's TLS certificate (https). Default True.
    """

    def __init__(
        self, server: JupyterConnectionInfo, headers: Mapping[str, str] | None = None, *, validate_cert: bool = True
    ) -> None:
        self.server = server
        self.headers = {**server.headers(), **dict(headers or {})}
        self.validate_cert = validate_cert

    async def call(
        self,
        method: str,
        path: str,
        *,
        deadline: float,
        body: Any = None,
        retry_timeouts: bool = True,
    ) -> Any:
        """Send one request, retrying transient failures until ``deadline`` seconds from now; return its JSON body.

        Args:
            method: ``GET``, ``POST`` or ``DELETE``.
            path: the API path (``/api/kernels``), after the server's base path.
            deadline: seconds all attempts together may take.
            body: a JSON body (a POST without one sends an empty body).
            retry_timeouts: retry an attempt that timed out (False when the server may have
                acted on it and a second would do it twice).

        Returns:
            The decoded JSON body, or None for an empty one.

        Raises:
            GatewayUnreachable: no answer but failures and retried codes until the deadline
                (the message says how many attempts and what answered last).
            GatewayAnswered: an HTTP error that is not retried (its code; the message quotes
                the server's).
            ConfigError: the gateway refused the token (401, 403).
            MissingDependencyError: tornado is not installed.
        """
        tornado_module()
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        payload = "" if body is None and method == "POST" else None if body is None else json.dumps(body)
        seen = _Attempts()
        wait = BACKOFF_S[0]
        while True:
            left = end - loop.time()
            attempt_s = max(0.05, min(left, _ATTEMPT_S) if retry_timeouts else left)
            seen.count += 1
            pause = wait
            try:
                response = await AsyncHTTPClient().fetch(
                    self.server.url + path,
                    method=method,
                    headers={**self.headers, "Content-Type": "application/json"},
                    body=payload,
                    connect_timeout=attempt_s,
                    request_timeout=attempt_s,
                    validate_cert=self.validate_cert,
                )
                return json.loads(response.body) if response.body else None
            except HTTPClientError as exc:
                if exc.code == _TIMED_OUT:
                    seen.last = f"no answer ({exc.message or 'timed out'})"
                    if not retry_timeouts and "refused" not in seen.last.lower():
                        raise self._unreachable(method, path, seen) from exc
                else:
                    pause = self._judge(exc, method, path, seen, wait)
            except ssl.SSLCertVerificationError as exc:
                raise certificate_rejected(self.server, exc) from exc
            except OSError as exc:  # refused, unknown host, TLS failure ...
                seen.last = f"no connection ({exc})"
            left = end - loop.time()
            if left <= 0.05:  # the last attempt was made at the deadline
                raise self._unreachable(method, path, seen)
            await asyncio.sleep(min(pause, left))
            wait = min(wait * 2, BACKOFF_S[1])

    def _judge(self, exc: Any, method: str, path: str, seen: _Attempts, wait: float) -> float:
        """Return how long to wait before retrying an HTTP error answer, or raise the error it is."""
        code, reason = int(exc.code), exc.message or ""
        response = exc.response
        details = _server_message(response.body if response is not None else None)
        if code in (401, 403) and "limit" not in details.lower():  # 403 "Resource Limit": too many kernels
            raise rejected(self.server, code, reason) from exc
        seen.last = f"HTTP {code} {reason}" + (f": {details}" if details else "")
        if code not in _RETRIED:
            raise GatewayAnswered(
                f"The Jupyter Kernel Gateway at {self.server.url} answered {method} {path} with HTTP "
                f"{code} {reason}: {details or 'no details'}.",
                code,
            ) from exc
        asked = retry_after(response.headers.get("Retry-After")) if code == 429 and response is not None else None
        return wait if asked is None else asked

    def _unreachable(self, method: str, path: str, seen: _Attempts) -> GatewayUnreachable:
        tries = "once" if seen.count == 1 else f"{seen.count} times"
        return GatewayUnreachable(
            unreachable_message(self.server, f"{method} {path} tried {tries}; the last attempt got {seen.last}")
        )
