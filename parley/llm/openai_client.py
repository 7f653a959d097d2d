"""`OpenAIClient`: the adapter from parley's `ModelClient` to the official ``openai`` SDK.

This is the only module that imports ``openai``, and it does so on the first request: the SDK
takes ~0.4-0.8 s to import. It works with OpenAI and with any OpenAI-compatible server (vLLM,
Ollama, llama.cpp server) given its ``base_url``.

Requests go through the SDK's generic ``AsyncOpenAI.post("/chat/completions", body=...,
cast_to=ChatCompletion)`` rather than ``client.chat.completions.create(...)``. Both keep the SDK's
auth, retries and error types, but ``create`` transforms its parameters at a cost that grows with
the history (~0.22 ms per message with openai 3.52, ~27 ms a call at 100 messages) while ``post``
sends the body as given and stays flat.

With ``stream=True`` (in the entry, or per call in ``params``) the request asks for server-sent
events with ``stream_options={"include_usage": true}`` and goes through the SDK's own streaming
(``post(..., stream=True, stream_cls=AsyncStream[ChatCompletionChunk])``); each text delta goes to
the running context's token sink (`parley.llm.streaming`) as it arrives, and the text, the tool
calls and the usage are rebuilt from the chunks. A ``response_format`` that is a pydantic model
class is sent as a strict JSON schema and the reply is parsed into it (`parley.llm.structured`).

Deadlines: ``timeout`` (seconds, default 600) bounds each request attempt as a whole, from
connecting to the last byte of the reply, streamed or not; the SDK gets an HTTP client that
enforces it (`parley.llm._http`), since httpx2's own timeouts bound each read alone and a server
that trickles bytes or keep-alive comments would never trip them. ``stream_chunk_timeout``
(seconds, default 300) bounds, for streamed replies, the wait for each chunk: the first after
the headers, and each after the one before (`parley.llm.streaming`).

Retries are the SDK's own: ``max_retries`` (default 2) more attempts on HTTP 408, 409, 429 and
5xx, on timeouts and on connection errors, waiting 0.5 s x 2^n capped at 8 s, less up to 25 %
random jitter, or what the server's ``retry-after-ms``/``retry-after`` header asks (up to 120 s).
Each attempt has the whole ``timeout``. A stream that breaks or stalls after its headers is not
retried (its tokens may already be shown): the error goes up, and `parley.llm.OpenAIWrapper`
falls back to the next entry.

Every SDK error becomes a `parley.exceptions.ModelError` in one place, `_translate`. Messages
name the config entry with its key redacted, and no API key appears in any message or repr.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from parley.exceptions import (
    ConfigError,
    MissingDependencyError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelResponseError,
    redact_config,
    redact_url,
)
from parley.llm._errors import server_message, status_error
from parley.llm.config import DEFAULT_STREAM_CHUNK_TIMEOUT, check_base_url, split_entry, validate_config_entry
from parley.llm.pricing import cost, validate_price
from parley.llm.providers import AZURE, provider_for
from parley.llm.streaming import ChunkAccumulator, StreamedReply, StreamStalledError, current_sink
from parley.llm.structured import is_model_class, parse_structured, response_format_param
from parley.llm.types import Message, ModelResponse, ToolCall, ToolSpec, Usage

if TYPE_CHECKING:
    from openai import AsyncOpenAI, RequestOptions

__all__ = ["ALLOW_REMOTE_MODEL_REQUESTS", "DEFAULT_BASE_URL", "OpenAIClient"]

ALLOW_REMOTE_MODEL_REQUESTS: bool = True
"""When False, a request to a non-loopback host raises `ModelError`. Test suites set it False."""

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAIClient:
    """A `ModelClient` for one config entry, backed by ``openai.AsyncOpenAI``.

    Args:
        config: one config-list entry: ``model`` (required); ``api_key`` (default: the
            ``OPENAI_API_KEY`` environment variable); ``base_url`` (default: ``OPENAI_BASE_URL``,
            else OpenAI's); ``api_type`` (only ``"openai"``); ``organization``; ``timeout``
            (seconds each request attempt may take as a whole, from connecting to the last byte
            of the reply, streamed or not; default 600); ``stream_chunk_timeout`` (seconds a
            streamed reply may go without a chunk, the first included; keep-alive comments do
            not count; default 300); ``max_retries`` (default the SDK's 2); ``default_headers``;
            ``price`` (``[prompt $ per 1K tokens, completion $ per 1K tokens]``, overriding
            `parley.llm.pricing`); ``stream`` (default False: stream every call). Every other
            key except the agent-level ones (``cache_seed``, ``tools`` ...) is a call parameter
            sent in the request body (``temperature``, ``max_tokens``, ``seed``, ``stop``,
            ``response_format`` ...); ``extra_body``'s items are merged into the body. A
            ``response_format`` may be a pydantic model class (see `parley.llm.structured`).

    Raises:
        ConfigError: the entry is invalid (see `parley.llm.config.validate_config_entry`).

    The constructor does no I/O and reads no environment. One SDK client is made per running
    event loop, on that loop's first request, because HTTP connection pools belong to a loop.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        entry = validate_config_entry(config)
        if "model_client" in entry:
            raise ConfigError("OpenAIClient cannot take a 'model_client' entry; use OpenAIWrapper.", key="model_client")
        self._entry = entry
        self._settings, self._params = split_entry(entry)
        self._stream = bool(entry.get("stream", False))
        self._format: type[Any] | None = None
        if is_model_class(self._params.get("response_format")):
            self._format = self._params["response_format"]
            self._params["response_format"] = response_format_param(self._params["response_format"])
        self._provider = provider_for(entry.get("api_type"))
        self.model: str = entry.get("model") or ""
        self._price = validate_price(entry["price"], self.model) if entry.get("price") is not None else None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[AsyncOpenAI, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    @property
    def config(self) -> dict[str, Any]:
        """The config entry, with secrets redacted."""
        return redact_config(self._entry)

    def __repr__(self) -> str:
        return f"OpenAIClient({self.config!r})"

    def _base_url(self) -> str:
        if self._provider is AZURE:
            endpoint = self._settings.get("azure_endpoint") or self._settings.get("base_url")
            endpoint = endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
            if not endpoint:
                raise ConfigError(
                    'An "azure" entry needs its endpoint: "azure_endpoint" (or "base_url"), such as '
                    '"https://my-resource.openai.azure.com", or the AZURE_OPENAI_ENDPOINT environment variable.',
                    key="azure_endpoint",
                )
            return str(endpoint)
        if self._settings.get("base_url"):
            return str(self._settings["base_url"])
        if self._provider.base_url is not None:
            return self._provider.base_url
        return os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL

    def _sdk_client(self) -> tuple[AsyncOpenAI, str]:
        """This loop's SDK client and its base URL, made on first use.

        Raises:
            ConfigError: the base URL is not an http:// or https:// URL.
        """
        base_url = check_base_url(self._base_url())
        if not ALLOW_REMOTE_MODEL_REQUESTS and not _is_loopback(base_url):
            raise ModelError(
                f"remote model requests are blocked in tests: {base_url} is not a loopback address. "
                "Point base_url at a local server such as parley.testing.ScriptedOpenAIServer.",
                config=self._entry,
            )
        loop = asyncio.get_running_loop()
        with self._lock:
            made = self._clients.get(loop)
            if made is None or made[1] != base_url:
                # A pooled connection's transport refers to its loop, so a weak key alone never
                # lets a finished loop go: drop the clients of closed loops here.
                for old in [lp for lp in self._clients if lp.is_closed()]:
                    del self._clients[old]
                made = (self._make_sdk_client(base_url), base_url)
                self._clients[loop] = made
        return made

    def _api_key(self) -> str | None:
        key = self._settings.get("api_key") or os.environ.get(self._provider.key_env)
        if not key and self._provider.name in ("gemini", "google"):
            key = os.environ.get("GOOGLE_API_KEY")
        if not key and self._provider.key_optional:
            key = self._provider.name
        if (
            not key
            and self._provider is AZURE
            and (self._settings.get("azure_ad_token_provider") or self._settings.get("azure_ad_token"))
        ):
            return None  # Entra ID (Azure AD) authentication instead of a key
        if not key:
            raise ModelAuthenticationError(
                f'No API key: set the {self._provider.key_env} environment variable or add "api_key" to this '
                'config entry (a local server that needs no key accepts any placeholder, such as "EMPTY").',
                config=self._entry,
            )
        return str(key)

    def _make_sdk_client(self, base_url: str) -> AsyncOpenAI:
        api_key = self._api_key()
        try:
            import openai
        except ImportError:
            raise MissingDependencyError("openai", "openai") from None
        from parley.llm._http import DeadlineAsyncClient, sdk_timeout

        # The HTTP client is built here so that no finalizer schedules its close on whichever
        # loop runs when it is collected (a different, maybe closed, loop). It has the SDK's
        # defaults, and bounds each attempt as a whole.
        timeout = sdk_timeout(self._settings.get("timeout"))
        http = DeadlineAsyncClient(timeout=timeout, limits=openai.DEFAULT_CONNECTION_LIMITS, follow_redirects=True)
        kwargs: dict[str, Any] = {"api_key": api_key, "http_client": http, "timeout": timeout}
        for key in ("organization", "max_retries", "default_headers"):
            if self._settings.get(key) is not None:
                kwargs[key] = self._settings[key]
        if self._provider is not AZURE:
            return openai.AsyncOpenAI(base_url=base_url, **kwargs)
        return openai.AsyncAzureOpenAI(azure_endpoint=base_url, **self._azure_settings(), **kwargs)

    def _azure_settings(self) -> dict[str, Any]:
        """The Azure client's own arguments: ``api_version``, the deployment, Entra ID auth."""
        from parley.llm.providers import DEFAULT_AZURE_API_VERSION

        out: dict[str, Any] = {"api_version": self._settings.get("api_version") or DEFAULT_AZURE_API_VERSION}
        deployment = self._settings.get("azure_deployment") or self.model.replace(".", "")
        if deployment:
            out["azure_deployment"] = deployment
        for key in ("azure_ad_token", "azure_ad_token_provider"):
            if self._settings.get(key) is not None:
                out[key] = self._settings[key]
        return out

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Send one chat-completions request.

        Args:
            messages: the conversation, sent as given (it must be in the OpenAI wire shape).
            tools: tools the model may call, in the OpenAI tools shape; None or empty for none.
            params: per-call parameters over the entry's: body parameters (``temperature``,
                ``response_format`` ...), and ``model``, ``timeout`` (seconds per attempt),
                ``stream_chunk_timeout`` (seconds), ``max_retries`` or ``stream`` (bool) for
                this call only. Other agent-level keys (``cache_seed`` ...) are ignored.

        Returns:
            The reply message (``content``, plus ``tool_calls`` when the model called tools), the
            server's usage, the cost from the price table or the entry's ``price``, the model,
            and ``parsed`` when ``response_format`` is a pydantic model class. When streaming,
            ``raw`` is None and each text delta went to `parley.llm.streaming.current_sink`.

        Raises:
            ModelAuthenticationError: no API key, or the server rejected it (401/403).
            ModelConnectionError: the server cannot be reached; an attempt took longer than
                ``timeout``; or a stream went ``stream_chunk_timeout`` seconds without a chunk.
            ModelNotFoundError: the server does not know the model (404).
            ModelRateLimitError: still rate limited (429) after the SDK's retries.
            ModelResponseError: the reply is malformed: not JSON, no choices, neither content
                nor tool calls, a stream that ended before its finish reason, or content that
                does not validate against a pydantic ``response_format``.
            ModelError: any other failure, with the HTTP status when there is one; also when
                `ALLOW_REMOTE_MODEL_REQUESTS` is False and the server is not on loopback.
            ConfigError: ``base_url`` is not an http:// or https:// URL (checked here, at the
                first request, as in AutoGen 0.2, not when the entry is loaded).
        """
        client, base_url = self._sdk_client()
        body = dict(self._params)
        options: RequestOptions = {}
        model = self.model
        stream = self._stream
        fmt = self._format
        gap = self._settings.get("stream_chunk_timeout", DEFAULT_STREAM_CHUNK_TIMEOUT)
        if params:
            settings, call_params = split_entry(params)
            if "response_format" in call_params:
                fmt = call_params["response_format"] if is_model_class(call_params["response_format"]) else None
                if fmt is not None:
                    call_params["response_format"] = response_format_param(fmt)
            body.update(call_params)
            model = settings.get("model") or model
            if settings.get("timeout") is not None:
                options["timeout"] = float(settings["timeout"])
            if settings.get("max_retries") is not None:
                options["max_retries"] = int(settings["max_retries"])
            if settings.get("stream_chunk_timeout") is not None:
                gap = settings["stream_chunk_timeout"]
            stream = bool(params.get("stream", stream))
        if model:
            body["model"] = model
        body["messages"] = messages if isinstance(messages, list) else list(messages)
        if tools:
            body["tools"] = tools if isinstance(tools, list) else list(tools)
        if stream:
            body["stream"] = True
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
            return await self._create_streamed(client, body, options, base_url, fmt, float(gap))
        body.pop("stream_options", None)  # OpenAI rejects it without "stream"
        from openai.types.chat import ChatCompletion

        try:
            completion = await client.post("/chat/completions", body=body, cast_to=ChatCompletion, options=options)
        except Exception as exc:
            error = self._translate(exc, base_url, model)
            if error is None:
                raise
            raise error from None
        return self._to_response(completion, model, base_url, fmt)

    async def _create_streamed(
        self,
        client: AsyncOpenAI,
        body: dict[str, Any],
        options: RequestOptions,
        base_url: str,
        fmt: type[Any] | None,
        gap: float,
    ) -> ModelResponse:
        from openai import AsyncStream
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        model = str(body.get("model", ""))
        collected = ChunkAccumulator()
        try:
            chunks = await client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options=options,
                stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )
            async with chunks:
                reply = await collected.consume(chunks, current_sink(), gap=gap)
        except Exception as exc:
            error = self._translate(exc, base_url, model, chunks=collected.chunks)
            if error is None:
                raise
            raise error from None
        return self._from_stream(reply, model, base_url, fmt)

    async def aclose(self) -> None:
        """Close the SDK client of the running loop, if one was made. Optional; safe to repeat."""
        with self._lock:
            made = self._clients.pop(asyncio.get_running_loop(), None)
        if made is not None:
            await made[0].close()

    # -- the one place SDK errors and replies are translated -------------------------------------

    def _scrub(self, text: str) -> str:
        for key in (self._settings.get("api_key"), os.environ.get("OPENAI_API_KEY")):
            if key and key in text:
                text = text.replace(key, str(redact_config({"api_key": key})["api_key"]))
        return text

    def _translate(self, exc: Exception, base_url: str, model: str, chunks: int = 0) -> ModelError | None:
        """The `ModelError` for an exception raised by the SDK, or None for anything else.

        ``chunks`` is how many stream chunks had arrived; when > 0 the message says the stream
        broke after them.
        """
        base_url = redact_url(base_url)
        import openai

        entry = self._entry
        broke = f" The stream broke after {chunks} chunk(s)." if chunks else ""
        if isinstance(exc, StreamStalledError):
            return ModelConnectionError(
                f"The model server at {base_url} sent no chunk for {exc.seconds:g} s after {exc.chunks} chunk(s) "
                '("stream_chunk_timeout"; keep-alive comments do not count; raise it for models that think '
                "silently before they answer).",
                config=entry,
            )
        if isinstance(exc, openai.APITimeoutError):
            from parley.llm._http import timed_out

            what = timed_out(exc.__cause__, getattr(exc, "request", None))
            return ModelConnectionError(f"The model server at {base_url} {what}.{broke}", config=entry)
        if isinstance(exc, openai.APIConnectionError):
            reason = self._scrub(str(exc.__cause__ or exc))
            if chunks:
                return ModelConnectionError(
                    f"The connection to the model server at {base_url} broke mid-reply ({reason}).{broke}",
                    config=entry,
                )
            return ModelConnectionError(
                f"Cannot reach the model server at {base_url} ({reason}). Is it running, and is base_url right?",
                config=entry,
            )
        if isinstance(exc, openai.APIStatusError):
            return status_error(exc.status_code, self._scrub(server_message(exc)), base_url, model, entry)
        if isinstance(exc, openai.APIResponseValidationError):
            return ModelResponseError(f"The reply from {base_url} has the wrong shape: {exc.message}", config=entry)
        if isinstance(exc, openai.APIError):  # an error event inside a stream
            detail = self._scrub(server_message(exc))
            return ModelError(f"The model server at {base_url} sent an error mid-stream: {detail}{broke}", config=entry)
        if isinstance(exc, json.JSONDecodeError):
            return ModelResponseError(
                f"The reply from {base_url} is not valid JSON ({exc.msg} at character {exc.pos}).{broke}", config=entry
            )
        if isinstance(exc, openai.OpenAIError):
            return ModelError(f"The openai SDK failed: {self._scrub(str(exc))}", config=entry)
        return None

    def _bad(self, base_url: str, what: str) -> ModelResponseError:
        base_url = redact_url(base_url)
        return ModelResponseError(f"The reply from {base_url} is malformed: {what}.", config=self._entry)

    def _to_response(self, completion: Any, model: str, base_url: str, fmt: type[Any] | None) -> ModelResponse:
        choices = getattr(completion, "choices", None)
        if not choices:
            raise self._bad(base_url, "it has no choices")
        msg = getattr(choices[0], "message", None)
        if msg is None:
            raise self._bad(base_url, "its first choice has no message")
        found = [_tool_call(c) for c in getattr(msg, "tool_calls", None) or ()]
        calls = [c for c in found if c is not None]
        if len(calls) < len(found):
            raise self._bad(base_url, "a tool call has no function name")
        u = getattr(completion, "usage", None)
        prompt = int(getattr(u, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(u, "completion_tokens", 0) or 0)
        usage = Usage(prompt, completion_tokens, int(getattr(u, "total_tokens", 0) or prompt + completion_tokens))
        content, refusal = getattr(msg, "content", None), getattr(msg, "refusal", None)
        answered_by = str(getattr(completion, "model", None) or model)
        return self._response(content, calls, refusal, usage, answered_by, base_url, fmt, completion)

    def _from_stream(self, reply: StreamedReply, model: str, base_url: str, fmt: type[Any] | None) -> ModelResponse:
        if reply.finish_reason is None:
            raise self._bad(base_url, f"the stream ended after {reply.chunks} chunk(s), before the reply was complete")
        if any(not c["function"]["name"] for c in reply.tool_calls):
            raise self._bad(base_url, "a streamed tool call has no function name")
        usage = reply.usage or Usage()
        return self._response(
            reply.content, reply.tool_calls, reply.refusal, usage, reply.model or model, base_url, fmt, None
        )

    def _response(
        self,
        content: Any,
        calls: list[ToolCall],
        refusal: Any,
        usage: Usage,
        answered_by: str,
        base_url: str,
        fmt: type[Any] | None,
        raw: Any,
    ) -> ModelResponse:
        if content is None and not calls:
            raise self._bad(
                base_url, f"the model refused: {refusal!r}" if refusal else "it has neither content nor tool calls"
            )
        message: Message = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        parsed = None
        if fmt is not None and not calls:
            try:
                parsed = parse_structured(fmt, content)
            except ValueError as exc:
                raise self._bad(base_url, str(exc)) from None
        price = self._price
        return ModelResponse(
            message=message,
            usage=usage,
            cost=cost(answered_by, usage.prompt_tokens, usage.completion_tokens, price=price),
            model=answered_by,
            raw=raw,
            parsed=parsed,
        )


def _tool_call(call: Any) -> ToolCall | None:
    fn = getattr(call, "function", None)
    name = getattr(fn, "name", None)
    if not name:
        return None
    return {
        "id": str(getattr(call, "id", "") or ""),
        "type": "function",
        "function": {"name": str(name), "arguments": str(getattr(fn, "arguments", "") or "")},
    }
