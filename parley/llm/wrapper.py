"""`OpenAIWrapper`: the model client an agent holds: a config list with fallback, and usage.

It keeps AutoGen 0.2's name and call forms. Each config entry becomes one client, tried in
order: a failing entry (any `ModelError`: bad key, server down, rate limit, 5xx, malformed reply)
hands the request to the next.

Two ways to call it:

- AutoGen 0.2's: ``wrapper.create(messages=[...], cache_seed=None, temperature=0)`` (sync, keyword
  arguments only) or ``await wrapper.a_create(...)`` returns a `parley.llm.completion.Completion`
  (``.choices[0].message.content``, ``.usage``, ``.cost``), which
  `OpenAIWrapper.extract_text_or_completion_object` reads.
- parley's `ModelClient` protocol, which agents use: ``await wrapper.create(messages, tools=...,
  params=...)`` (the messages positional) returns a `ModelResponse`.

The cache (`parley.llm.cache`) is off unless asked for: ``params={"cache": cache}`` on a call,
the running chat's cache (`parley.llm.cache.CHAT_CACHE`, set by ``initiate_chat(cache=...)``),
``params={"cache_seed": s}``, the wrapper's own ``cache=``, or ``cache_seed`` in the config (a
disk cache), in that order; ``cache_seed=None`` given on a call turns caching off for it. Each
entry is looked up under its own key just before it is tried, so fallback works as without a
cache, and only a successful, well-formed reply is stored.

Around each entry's call, in order: its ``api_rate_limit`` (`parley.llm.rate_limit`) waits for
a slot; the client is called, with ``stream=True`` in its params when the entry or the call asks
to stream (`parley.llm.streaming`); a pydantic ``response_format`` is checked to have been
parsed (a cached reply is parsed again); and ``filter_func(context=..., response=...)``, as in
AutoGen 0.2, may reject the reply, which counts in usage and hands the request to the next
entry. Entries naming an AutoGen 0.2-style ``model_client_cls`` wait for
`OpenAIWrapper.register_model_client` (`parley.llm.custom`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, overload

from parley._logging import get_logger
from parley._runlog import session as runtime_logging
from parley._tracing import traced_model_call
from parley.exceptions import ConfigError, ModelError, ModelResponseError, redact_config
from parley.llm import custom
from parley.llm.cache import CHAT_CACHE, Cache, check_cache, request_key, seed_cache
from parley.llm.client import ModelClient
from parley.llm.completion import Completion, CompletionMessage, extract_text_or_completion_object, to_completion
from parley.llm.config import AGENT_KEYS, NO_MODEL_MESSAGE, import_object, validate_config_entry
from parley.llm.openai_client import OpenAIClient
from parley.llm.rate_limit import RateLimiter, shared_limiter
from parley.llm.structured import is_model_class, parse_structured
from parley.llm.types import Message, ModelResponse, ToolSpec
from parley.llm.usage import UsageMode, UsageSummary, count_in_chats, count_usage

__all__ = ["OpenAIWrapper"]

_log = get_logger("parley.llm")


def _resolve_model_client(value: Any, index: int) -> ModelClient:
    if isinstance(value, str):
        value = import_object(value)
        if isinstance(value, type) or (callable(value) and not isinstance(value, ModelClient)):
            value = value()
    if not isinstance(value, ModelClient):
        raise ConfigError(
            f"config_list[{index}]['model_client'] must be a ModelClient (an object with "
            f"'async def create(messages, *, tools=None, params=None)') or 'pkg.module:Name', got {value!r}.",
            key="model_client",
        )
    return value


_NO_CACHE = object()
"""What `_call_cache` returns for a call that turned caching off (``cache_seed=None``)."""


def _call_cache(params: Mapping[str, Any] | None) -> Any:
    """The cache one call asked for: its own ``cache``, the chat's, then its own ``cache_seed``.

    Returns None when the call says nothing, and `_NO_CACHE` when it gave ``cache_seed=None``.
    """
    if params and params.get("cache") is not None:
        return check_cache(params["cache"], "params['cache']")
    chat = CHAT_CACHE.get()
    if chat is not None:
        return chat
    if params and "cache_seed" in params:
        return seed_cache(params["cache_seed"]) or _NO_CACHE
    return None


def _filter_func(value: Any, index: int) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise ConfigError(
            f"filter_func of config_list[{index}] must be a callable filter_func(context, response) -> bool, "
            f"got {value!r}.",
            key="filter_func",
        )
    return value  # type: ignore[no-any-return]


def _structured(response: ModelResponse, fmt: type[Any] | None, entry: Mapping[str, Any]) -> ModelResponse:
    """``response`` with ``parsed`` filled in when a pydantic ``response_format`` asked for it."""
    if fmt is None or response.parsed is not None or response.message.get("tool_calls"):
        return response
    try:
        return dataclasses.replace(response, parsed=parse_structured(fmt, response.message.get("content")))
    except ValueError as exc:
        raise ModelResponseError(f"The reply is malformed: {exc}.", config=entry) from None


class OpenAIWrapper:
    """A `ModelClient` over a config list: tries each entry in order and tracks usage and cost.

    Args:
        config_list: the entries (see `parley.llm.config`). An entry whose ``"model_client"`` is
            a `ModelClient` instance, or ``"pkg.module:Name"`` naming one or a zero-argument
            factory for one, uses that client; an entry with ``"model_client_cls": "Name"``
            waits for `register_model_client`; every other entry gets an `OpenAIClient`. When
            None, ``base_config`` itself is the one entry.
        **base_config: settings and call parameters merged under every entry (the entry wins),
            such as ``temperature=0`` or ``timeout=30``. Agent-level keys (``cache_seed``,
            ``functions``, ``tools`` ...) are accepted and never sent. ``cache_seed`` (here or
            in an entry, which wins) turns on a disk cache under ``.cache/<seed>/``; None or
            absent means no cache. ``cache`` (a `parley.llm.cache.Cache`) is used for every
            call that names no cache of its own, as in AutoGen 0.2. ``stream`` (bool, default False) streams every call;
            ``filter_func`` (``f(context, response) -> bool``, sync or async) accepts or
            rejects each reply; ``api_rate_limit`` (requests per second) throttles each entry.
            An entry's own ``stream``/``filter_func`` wins over these.

    Raises:
        ConfigError: the list is empty, or an entry is invalid (a bad ``cache_seed`` or
            ``cache`` too).

    Attributes:
        streams: True when any entry streams, so the caller should set a token sink.

    The constructor does no I/O.
    """

    def __init__(self, *, config_list: Sequence[Mapping[str, Any]] | None = None, **base_config: Any) -> None:
        base = {k: v for k, v in base_config.items() if k not in AGENT_KEYS}
        self._cache = check_cache(base_config.get("cache"))
        entries = [{}] if config_list is None else list(config_list)
        if not entries:
            raise ConfigError(
                NO_MODEL_MESSAGE,
                hint="config_list is empty: give at least one entry, such as {'model': 'gpt-4o-mini'}.",
            )
        self._entries: list[dict[str, Any]] = []
        self._clients: list[ModelClient] = []
        self._seed_caches: list[Cache | None] = []
        self._streams: list[bool] = []
        self._filters: list[Callable[..., Any] | None] = []
        self._limiters: list[RateLimiter | None] = []
        for index, raw in enumerate(entries):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"config_list[{index}] must be a dict, got {type(raw).__name__}.")
            self._seed_caches.append(seed_cache(raw.get("cache_seed", base_config.get("cache_seed"))))
            merged = {**base, **{k: v for k, v in raw.items() if k not in AGENT_KEYS}}
            if "model_client" in merged:
                client = _resolve_model_client(merged["model_client"], index)
                merged["model"] = merged.get("model") or getattr(client, "model", None) or type(client).__name__
                self._entries.append(validate_config_entry(merged))
                self._clients.append(client)
            elif "model_client_cls" in merged:
                self._entries.append(validate_config_entry(merged))
                self._clients.append(custom.UnregisteredModelClient(merged["model_client_cls"], index))
            else:
                self._clients.append(OpenAIClient(merged))
                self._entries.append(merged)
            self._streams.append(bool(raw.get("stream", base_config.get("stream", False))))
            self._filters.append(_filter_func(raw.get("filter_func", base_config.get("filter_func")), index))
            self._limiters.append(shared_limiter(merged))
        self._unregistered = [c for c in self._clients if isinstance(c, custom.UnregisteredModelClient)]
        self.streams = any(self._streams)
        self._formats = [self._format(entry, None) for entry in self._entries]
        # One entry with nothing around its call (no cache, rate limit, stream, filter or
        # pydantic format): `respond` may call it directly, the same steps without the loop.
        self._plain = (
            len(self._entries) == 1
            and self._cache is None
            and self._seed_caches[0] is None
            and self._limiters[0] is None
            and not self._streams[0]
            and self._filters[0] is None
            and self._formats[0] is None
        )
        self.usage_summary = UsageSummary()
        if runtime_logging.is_logging:
            # 0.2's shape: its constructor logs its own arguments, config_list and base_config.
            runtime_logging.log_new_wrapper(self, {"config_list": entries, "base_config": base_config})
            for client, entry in zip(self._clients, entries, strict=True):
                runtime_logging.log_new_client(client, self, entry)

    @classmethod
    def from_llm_config(cls, llm_config: Any) -> OpenAIWrapper:
        """Build the client for an agent's ``llm_config``.

        Args:
            llm_config: an AutoGen 0.2-style dict (``{"config_list": [...], "temperature": 0,
                "cache_seed": None, "timeout": 60}``); a single entry with ``"model"`` at the top
                level; a `ModelClient` instance (wrapped so its usage is tracked); or an
                `OpenAIWrapper`, returned as is.

        Raises:
            ConfigError: ``llm_config`` is none of these (False or None mean "no model": do not
                build a client for them).
        """
        if isinstance(llm_config, OpenAIWrapper):
            return llm_config
        if isinstance(llm_config, Mapping):
            config = dict(llm_config)
            config_list = config.pop("config_list", None)
            if config_list is None and "model" not in config and "model_client" not in config:
                raise ConfigError(
                    NO_MODEL_MESSAGE,
                    hint='llm_config needs "config_list" (a list of entries) or a "model", such as '
                    '{"config_list": [{"model": "gpt-4o-mini"}]}; llm_config=False means no model.',
                    key="config_list",
                )
            return cls(config_list=config_list, **config)
        if isinstance(llm_config, ModelClient):
            return cls(config_list=[{"model_client": llm_config}])
        raise ConfigError(
            f"llm_config must be a dict, a ModelClient or an OpenAIWrapper, got {type(llm_config).__name__}. "
            "Use False for an agent with no model.",
            key="llm_config",
        )

    def __repr__(self) -> str:
        shown = [redact_config({k: v for k, v in e.items() if k != "model_client"}) for e in self._entries]
        return f"OpenAIWrapper(config_list={shown!r})"

    @property
    def config_list(self) -> list[dict[str, Any]]:
        """The merged entries, secrets redacted, in the order they are tried."""
        return [redact_config(e) for e in self._entries]

    def register_model_client(self, model_client_cls: type[Any], **kwargs: Any) -> None:
        """Use ``model_client_cls`` for every entry whose ``model_client_cls`` names it (AutoGen 0.2).

        Each such entry gets ``model_client_cls(entry, **kwargs)``. The class may implement
        parley's async `ModelClient` or AutoGen 0.2's ``ModelClient`` (see `parley.llm.custom`).
        Registering again replaces the earlier instances.

        Args:
            model_client_cls: the class itself (not an instance).
            **kwargs: passed to its constructor after the entry.

        Raises:
            ConfigError: it is not a class with either protocol's methods, or no entry names it.
        """
        custom.register(self._entries, self._clients, model_client_cls, **kwargs)
        self._unregistered = [c for c in self._clients if isinstance(c, custom.UnregisteredModelClient)]

    @overload
    def create(
        self,
        messages: Sequence[Message],
        /,
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Coroutine[Any, Any, ModelResponse]: ...

    @overload
    def create(self, **config: Any) -> Completion: ...

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """Answer a chat: parley's async `ModelClient` call, or AutoGen 0.2's sync one.

        - ``await create(messages, tools=None, params=None)`` (the messages positional): the
          `ModelClient` call that agents make; see `respond`.
        - ``create(**config)`` (keyword arguments only, as AutoGen 0.2 calls it): blocks until
          the reply is there and returns a `Completion`; see `a_create`. It works inside a
          running event loop too (a notebook cell).

        Raises:
            ConfigError: see `respond` and `a_create`.
            ModelError: see `respond`.
        """
        if args:
            return self.respond(*args, **kwargs)
        from parley._sync import run_sync

        return run_sync(self.a_create(**kwargs))

    async def a_create(self, **config: Any) -> Completion:
        """AutoGen 0.2's ``create(**config)``, awaited: one chat request, answered as a `Completion`.

        Args:
            **config: ``messages`` (required, in the OpenAI shape); ``tools``; ``cache`` (a
                `parley.llm.cache.Cache`) or ``cache_seed`` (None turns caching off for this
                call); ``filter_func`` and its ``context``; ``agent`` (accepted, unused); and any
                call parameter over the entries' (``model``, ``temperature``, ``max_tokens``,
                ``response_format``, ``stream`` ...).

        Returns:
            The reply, with ``.choices``, ``.usage``, ``.cost`` and ``.cached``.

        Raises:
            ConfigError: no ``messages``; ``prompt`` (the legacy text-completions API, which
                parley does not call); or as `respond`.
            ModelError: every entry failed (see `respond`).
        """
        if "prompt" in config and "messages" not in config:
            raise ConfigError(
                "prompt= asks for the legacy text-completions API, which parley does not call; pass "
                'messages=[{"role": "user", "content": prompt}] instead.',
                key="prompt",
            )
        messages = config.pop("messages", None)
        if not isinstance(messages, Sequence) or isinstance(messages, str):
            raise ConfigError(
                'create() needs messages=[...] in the OpenAI shape, such as [{"role": "user", "content": "2+2="}].',
                key="messages",
            )
        tools = config.pop("tools", None)
        for unused in ("agent", "allow_format_str_template"):
            config.pop(unused, None)
        return to_completion(await self.respond(messages, tools=tools, params=config))

    @staticmethod
    def extract_text_or_completion_object(response: Completion) -> Sequence[str | CompletionMessage | None]:
        """The text of each choice, or the message itself where it calls tools (AutoGen 0.2).

        Raises:
            TypeError: ``response`` is not what `create` returned.
        """
        return extract_text_or_completion_object(response)

    async def respond(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Ask each entry's client in turn until one answers, and count the answer's usage.

        Args:
            messages: the conversation, in the OpenAI wire shape.
            tools: tools the model may call; None for none.
            params: per-call parameters over each entry's (see `OpenAIClient.create`);
                ``"cache"`` (a `parley.llm.cache.Cache`) or ``"cache_seed"`` for this call;
                ``"stream"`` (bool) over the entries'; ``"filter_func"`` over the config's, and
                ``"context"``, which is passed to it.

        Returns:
            The first successful response that ``filter_func`` accepts, or the first entry's
            cached reply (``cached=True``) that it accepts.

        Raises:
            ConfigError: ``params["cache"]`` is not a Cache, or ``params["cache_seed"]`` is bad;
                or an entry's ``model_client_cls`` was never registered (the message says what
                to call).
            ParleyError: the cache's store failed.
            ModelError: every entry failed. With one entry, its own error; with several, an
                error of the last one's class whose message lists each entry (redacted) and why
                it failed. A reply that ``filter_func`` rejects, or that does not validate
                against a pydantic ``response_format``, is a `ModelResponseError` of its entry.
                Errors that are not `ModelError` propagate at once, with no fallback.
        """
        if self._unregistered:
            raise custom.unregistered_error(self._unregistered)
        if self._plain and not params and CHAT_CACHE.get() is None and not runtime_logging.is_logging:
            # What the loop below does for that one entry, without its lookups (most agents' calls).
            client = self._clients[0]
            try:
                if "opentelemetry.trace" in sys.modules or _log.isEnabledFor(logging.INFO):
                    plain: ModelResponse = await traced_model_call(client, self._entries[0], messages, tools, None)
                else:  # nothing could record the call: `traced_model_call`'s own shortcut, without its call
                    plain = await client.create(messages, tools=tools, params=None)
            except ModelError as exc:
                raise self._all_failed([(0, exc)]) from None
            count_usage(self.usage_summary, plain)
            return plain
        call_params = {k: v for k, v in params.items() if k not in AGENT_KEYS} if params else None
        call_cache = _call_cache(params)
        call_filter = params.get("filter_func") if params else None
        call_stream = params.get("stream") if params else None
        failures: list[tuple[int, ModelError]] = []
        call_fmt = call_params is not None and "response_format" in call_params
        for index, client in enumerate(self._clients):
            entry = self._entries[index]
            fmt = self._format(entry, call_params) if call_fmt else self._formats[index]
            cache = self._cache_for(call_cache, index)
            key = None
            if cache is not None:
                key = request_key(entry, messages, tools, call_params, cache.cache_seed)
                hit = await cache.aget_response(key)
                if hit is not None:
                    if runtime_logging.is_logging:
                        runtime_logging.log_model_call(
                            self, client, messages, params, _loggable(hit), True, runtime_logging.now()
                        )
                    self.usage_summary.add(hit)
                    count_in_chats(hit)
                    try:
                        return await self._accept(index, _structured(hit, fmt, entry), call_filter, params)
                    except ModelError as exc:
                        failures.append((index, exc))
                        continue
            limiter = self._limiters[index]
            if limiter is not None:
                await limiter.acquire()
            stream = self._streams[index] if call_stream is None else bool(call_stream)
            entry_params = {**(call_params or {}), "stream": True} if stream else call_params
            started = runtime_logging.now() if runtime_logging.is_logging else ""
            try:
                # Each entry of several gets its own list: a client that edits its request (as a
                # 0.2-style client may edit params["messages"]) cannot change the next one's.
                request = messages if len(self._clients) == 1 else list(messages)
                response: ModelResponse = await traced_model_call(client, entry, request, tools, entry_params)
                if fmt is not None:
                    response = _structured(response, fmt, entry)
            except ModelError as exc:
                if runtime_logging.is_logging:
                    runtime_logging.log_model_call(self, client, messages, params, str(exc), False, started)
                failures.append((index, exc))
                if index + 1 < len(self._clients):
                    _log.info("config_list[%d] failed (%s); trying the next entry", index, type(exc).__name__)
                continue
            if runtime_logging.is_logging:
                runtime_logging.log_model_call(self, client, messages, params, _loggable(response), False, started)
            if cache is not None and key is not None:
                await cache.aset_response(key, response)
            count_usage(self.usage_summary, response)
            if call_filter is None and self._filters[index] is None:
                return response
            try:
                return await self._accept(index, response, call_filter, params)
            except ModelError as exc:
                failures.append((index, exc))
        raise self._all_failed(failures) from None

    def _cache_for(self, call_cache: Any, index: int) -> Cache | None:
        if call_cache is _NO_CACHE:
            return None
        if call_cache is not None:
            return call_cache  # type: ignore[no-any-return]
        return self._cache if self._cache is not None else self._seed_caches[index]

    @staticmethod
    def _format(entry: Mapping[str, Any], call_params: Mapping[str, Any] | None) -> type[Any] | None:
        """The pydantic model class this call's ``response_format`` names, if it names one."""
        if call_params and "response_format" in call_params:
            fmt = call_params["response_format"]
        else:
            fmt = entry.get("response_format")
        return fmt if fmt is not None and is_model_class(fmt) else None

    async def _accept(
        self, index: int, response: ModelResponse, call_filter: Any, params: Mapping[str, Any] | None
    ) -> ModelResponse:
        """``response`` if the call's (else the entry's) ``filter_func`` accepts it.

        Raises:
            ModelResponseError: the filter rejected it (the next entry is tried).
        """
        check = call_filter if call_filter is not None else self._filters[index]
        if check is None:
            return response
        verdict = check(context=params.get("context") if params else None, response=response)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not verdict:
            raise ModelResponseError(
                f"filter_func rejected the reply of config_list[{index}].", config=self._entries[index]
            )
        return response

    def _all_failed(self, failures: list[tuple[int, ModelError]]) -> ModelError:
        last = failures[-1][1]
        if len(failures) == 1:
            return last
        lines = [f"All {len(failures)} config entries failed:"]
        for index, exc in failures:
            line = f"  [{index}] {type(exc).__name__}: {exc}"
            if exc.config is None:  # the message does not name its entry yet
                entry = redact_config(self._entries[index])
                line += f" [config entry: { {k: v for k, v in entry.items() if k in ('model', 'base_url')} }]"
            lines.append(line)
        cls = type(last) if type(last).__init__ is ModelError.__init__ else ModelError
        return cls("\n".join(lines), status_code=last.status_code)

    # -- usage -------------------------------------------------------------------------------------

    @property
    def total_usage_summary(self) -> dict[str, Any] | None:
        """Usage including cached replies, in AutoGen 0.2's shape; None before any call."""
        return self.usage_summary.view("total") if self.usage_summary.models("total") else None

    @total_usage_summary.setter
    def total_usage_summary(self, view: Mapping[str, Any] | None) -> None:
        """Replace the view, as AutoGen 0.2's plain attribute allowed (see `UsageSummary.set_view`)."""
        self.usage_summary.set_view("total", view)

    @property
    def actual_usage_summary(self) -> dict[str, Any] | None:
        """Usage excluding cached replies, in AutoGen 0.2's shape; None before any real call."""
        return self.usage_summary.view("actual") if self.usage_summary.models("actual") else None

    @actual_usage_summary.setter
    def actual_usage_summary(self, view: Mapping[str, Any] | None) -> None:
        """Replace the view, as AutoGen 0.2's plain attribute allowed (see `UsageSummary.set_view`)."""
        self.usage_summary.set_view("actual", view)

    def print_usage_summary(
        self,
        mode: UsageMode | Iterable[UsageMode] = ("actual", "total"),
        print_fn: Callable[[str], object] = print,
    ) -> None:
        """Print usage and cost per model.

        Args:
            mode: ``"actual"`` (without cached replies), ``"total"`` (with them), or both; when
                nothing was cached the two are printed once.
            print_fn: where the text goes (default `print`); agents pass their IOStream's print.

        Raises:
            ConfigError: an unknown mode.
        """
        if self.usage_summary.is_empty():
            print_fn("No model usage recorded.")
            return
        print_fn(self.usage_summary.format(mode))

    def clear_usage_summary(self) -> None:
        """Forget all recorded usage."""
        self.usage_summary.clear()

    async def aclose(self) -> None:
        """Close the HTTP clients this wrapper made for the running loop. Optional; safe to repeat."""
        for client in self._clients:
            if isinstance(client, OpenAIClient):
                await client.aclose()


def _loggable(response: ModelResponse) -> Any:
    """A response as AutoGen 0.2's runtime log records it: the completion object, or its text if it has none."""
    try:
        return to_completion(response)
    except Exception:  # a response the completion view cannot show: log what it is
        return str(response)
