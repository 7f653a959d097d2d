"""The HTTP client `parley.llm.openai_client` hands the ``openai`` SDK: one deadline per attempt.

httpx2 (the SDK's HTTP library) bounds each phase of a request, and each read, on its own. A
server that sends one byte every half second, trickles its headers, or sends an SSE keep-alive
comment forever never leaves the socket quiet for a whole read timeout, so with ``timeout=2`` a
request could last forever. `DeadlineAsyncClient` makes the request's timeout a deadline for the
whole *attempt* instead: from the moment the SDK sends it, through connecting, sending, the
status line and headers, to the last byte of the body, whether the body is read at once (a plain
reply) or later as a stream. Each call to ``send`` is one attempt, so each of the SDK's retries
gets the whole budget again.

The budget is the request's read timeout (``request.extensions["timeout"]["read"]``), which is
the ``timeout`` the SDK was given, for the client or for one call. When the deadline passes,
``send`` (or the body's iterator) raises `AttemptTimeout`, an ``httpx2.ReadTimeout``: the SDK
retries it as it retries any timeout, and raises ``openai.APITimeoutError`` from it in the end,
also mid-stream. Waiting is ``asyncio`` waiting: nothing here blocks the event loop.

Imported on the first model request only, with the SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from parley._logging import get_logger, redact
from parley.llm._within import within
from parley.llm.config import DEFAULT_TIMEOUT

__all__ = ["AttemptTimeout", "DeadlineAsyncClient", "sdk_timeout", "timed_out"]


_log = get_logger("parley.llm")


def _log_attempt(request: httpx2.Request) -> None:
    """One line per attempt: DEBUG for the first, INFO for each of the SDK's retries."""
    retry = request.headers.get("x-stainless-retry-count", "0")
    url = redact({"base_url": str(request.url)})["base_url"]
    if retry in ("", "0"):
        _log.debug("model request: %s %s", request.method, url)
    else:
        _log.info("model request retried (retry %s): %s %s", retry, request.method, url)


class AttemptTimeout(httpx2.ReadTimeout):
    """One attempt ran past its deadline: no complete reply within ``seconds``.

    Attributes:
        seconds: the attempt's budget, from sending the request to the last byte of the reply.
    """

    def __init__(self, seconds: float, *, request: httpx2.Request) -> None:
        super().__init__(f"no complete reply within {seconds:g} s", request=request)
        self.seconds = seconds


class _DeadlineStream(httpx2.AsyncByteStream):
    """A response body whose every read ends by the attempt's deadline."""

    def __init__(self, inner: httpx2.AsyncByteStream, deadline: float, seconds: float, request: httpx2.Request):
        self._inner = inner
        self._deadline = deadline
        self._seconds = seconds
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = self._inner.__aiter__()
        loop = asyncio.get_running_loop()
        while True:
            try:
                piece = await within(pieces.__anext__(), self._deadline - loop.time())
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                raise AttemptTimeout(self._seconds, request=self._request) from None
            yield piece

    async def aclose(self) -> None:
        await self._inner.aclose()


class DeadlineAsyncClient(httpx2.AsyncClient):
    """An ``httpx2.AsyncClient`` whose ``send`` bounds each request as a whole (see the module).

    Construct it as ``httpx2.AsyncClient``; the SDK's own defaults (connection limits,
    redirects) are passed in by the adapter.
    """

    def _budget(self, request: httpx2.Request) -> float | None:
        timeouts = request.extensions.get("timeout") or self.timeout.as_dict()
        read = timeouts.get("read")
        return float(read) if read is not None else None

    async def send(self, request: httpx2.Request, *, stream: bool = False, **kwargs: Any) -> httpx2.Response:
        """Send ``request`` as one attempt that ends by its deadline.

        Args:
            request: the request; its read timeout (seconds) is the whole attempt's budget.
                None means no deadline (parley never sends one).
            stream: False reads the whole body before returning; True returns after the
                headers, and the body's reads still end by the deadline.
            **kwargs: ``auth`` and ``follow_redirects``, as for ``httpx2.AsyncClient.send``.

        Raises:
            AttemptTimeout: the deadline passed before the reply was complete (an
                ``httpx2.ReadTimeout``).
            httpx2.HTTPError: anything ``httpx2.AsyncClient.send`` raises.
        """
        _log_attempt(request)
        seconds = self._budget(request)
        if seconds is None:
            return await super().send(request, stream=stream, **kwargs)
        deadline = asyncio.get_running_loop().time() + seconds
        try:  # `within`, not asyncio.timeout_at (3.11+) or wait_for (unbounded after the cancel)
            response = await within(super().send(request, stream=True, **kwargs), seconds)
        except asyncio.TimeoutError:
            raise AttemptTimeout(seconds, request=request) from None
        if isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _DeadlineStream(response.stream, deadline, seconds, request)
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response


def sdk_timeout(seconds: float | None) -> httpx2.Timeout:
    """The timeout to give the SDK for a whole-attempt budget of ``seconds``.

    Args:
        seconds: the budget of each attempt; None for parley's default (600 s), which also keeps
            the SDK's default 5 s for connecting.
    """
    if seconds is None:
        return httpx2.Timeout(DEFAULT_TIMEOUT, connect=min(DEFAULT_TIMEOUT, 5.0))
    return httpx2.Timeout(seconds)


def timed_out(cause: BaseException | None, request: httpx2.Request | None) -> str:
    """What a request that timed out failed to do, worded for the user, with the limit in seconds.

    Args:
        cause: the ``__cause__`` of the SDK's ``APITimeoutError``: `AttemptTimeout`, or one of
            httpx2's own timeouts.
        request: the request, whose timeouts say the limit that applied.
    """
    timeouts = (request.extensions.get("timeout") if request is not None else None) or {}
    if isinstance(cause, httpx2.ConnectTimeout):
        return f"accepted no connection within {_seconds(timeouts.get('connect'))}"
    if isinstance(cause, httpx2.PoolTimeout):
        return f"got no free connection from the pool within {_seconds(timeouts.get('pool'))}"
    seconds = cause.seconds if isinstance(cause, AttemptTimeout) else timeouts.get("read")
    return (
        f'sent no complete reply within {_seconds(seconds)} ("timeout", which bounds each attempt from '
        "connecting to the last byte; raise it for long replies)"
    )


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, (int, float)) else "its timeout"
