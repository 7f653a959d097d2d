"""Config lists: load them, filter them, check their entries.

A *config list* is a list of *entries*, each one way to reach a model, tried in order (AutoGen
0.2's format)::

    [{"model": "gpt-4o-mini", "api_key": "sk-...", "tags": ["cheap"]},
     {"model": "llama3", "base_url": "http://localhost:11434/v1", "api_key": "ollama"}]

An entry holds client settings (`CLIENT_KEYS`) and call parameters (``temperature``,
``max_tokens`` ...), which are sent in the request body. Unknown keys are sent too, so a server's
own parameters (vLLM's ``top_k``) work, unless a key looks like a misspelling of a known one.

Two settings bound how long a model may take, so that no chat waits forever on a model server:

- ``timeout`` (seconds, default `DEFAULT_TIMEOUT`, 600): the whole of each request attempt,
  from connecting to the last byte of the reply, streamed or not. A server that trickles bytes
  or sends keep-alive comments does not extend it. The SDK's retries (``max_retries``) each get
  the whole budget again.
- ``stream_chunk_timeout`` (seconds, default `DEFAULT_STREAM_CHUNK_TIMEOUT`, 300): for streamed
  replies, the longest wait for each chunk (a data event; keep-alive comments do not count),
  from the response headers to the first chunk and between chunks.
"""

from __future__ import annotations

import difflib
import importlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parley.exceptions import ConfigError, ConfigNotFoundError
from parley.llm.pricing import validate_price
from parley.llm.providers import check_api_type
from parley.llm.rate_limit import check_rate

__all__ = [
    "AGENT_KEYS",
    "BODY_KEYS",
    "CLIENT_KEYS",
    "DEFAULT_STREAM_CHUNK_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "check_base_url",
    "config_list_from_json",
    "filter_config",
    "import_object",
    "split_entry",
    "validate_config_entry",
]

CLIENT_KEYS = frozenset(
    {
        "model",
        "api_key",
        "base_url",
        "api_type",
        "api_version",
        "azure_endpoint",
        "azure_deployment",
        "azure_ad_token",
        "azure_ad_token_provider",
        "organization",
        "timeout",
        "stream_chunk_timeout",
        "max_retries",
        "default_headers",
        "price",
        "tags",
        "model_client",
        "model_client_cls",
        "api_rate_limit",
    }
)
"""Keys that configure the client; never sent in the request body (``model`` is sent on its own)."""

DEFAULT_TIMEOUT = 600.0
"""Seconds one request attempt may take as a whole, from connecting to the last byte of the reply
(streamed or not), when an entry gives no ``timeout``. The openai SDK's own default is also 600,
but it bounds each read, not the whole."""

DEFAULT_STREAM_CHUNK_TIMEOUT = 300.0
"""Seconds a streamed reply may go without a chunk (keep-alive comments do not count), the first
chunk included, when an entry gives no ``stream_chunk_timeout``. Generous because reasoning models
stream nothing while they think."""

AGENT_KEYS = frozenset({"config_list", "cache_seed", "cache", "functions", "tools", "stream", "filter_func", "context"})
"""``llm_config`` keys the agent layer reads; stripped from the request body. ``tools`` reach
the model through ``create(tools=...)``; ``stream``, ``cache`` and ``filter_func`` (with its
``context``) are handled above the client, by `parley.llm.OpenAIWrapper`."""

BODY_KEYS = frozenset(
    {
        "temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop", "n",
        "response_format", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
        "top_logprobs", "user", "tool_choice", "parallel_tool_calls", "reasoning_effort",
        "service_tier", "store", "metadata", "stream_options", "modalities", "verbosity",
        "prediction", "audio", "web_search_options", "extra_body",
        # common parameters of OpenAI-compatible servers (vLLM, Ollama, llama.cpp)
        "top_k", "min_p", "repetition_penalty",
    }
)  # fmt: skip
"""Call parameters parley knows, used to spot misspellings; others are sent as given."""

_RENAMED = {"api_base": "base_url", "request_timeout": "timeout"}
NO_MODEL_MESSAGE = (
    "When using OpenAI or Azure OpenAI endpoints, specify a non-empty 'model' either in 'llm_config' or in each "
    "config of 'config_list'."
)
"""AutoGen 0.2's words for an llm_config without a model; parley's errors start with them (then say more)."""


def _near(key: str, known: Sequence[str], cutoff: float) -> list[str]:
    return difflib.get_close_matches(key, known, n=1, cutoff=cutoff)


def validate_config_entry(entry: Any) -> dict[str, Any]:
    """Check one config entry and return a copy of it.

    Args:
        entry: a ``config_list`` entry.

    Returns:
        A shallow copy of ``entry`` as a dict.

    An entry may leave out ``model``: a local server that serves one model needs none, and
    OpenAI's own server answers such a request with a clear 400.

    Raises:
        ConfigError: ``entry`` is not a mapping; ``model`` is not a non-empty string when given,
            or is missing while a key looks like a misspelling of it; a key looks like a
            misspelled known key (with a "did you mean"); ``api_type`` is not one of
            `parley.llm.providers.PROVIDERS`; ``base_url``,
            ``timeout``, ``stream_chunk_timeout``, ``max_retries``, ``default_headers``, ``price``, ``tags``,
            ``api_rate_limit`` (requests per second, > 0), ``model_client_cls`` (a class name) or
            ``filter_func`` (a callable) has the wrong type or value.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError(f"A config entry must be a dict such as {{'model': 'gpt-4o-mini'}}, got {entry!r}.")
    out = dict(entry)
    known = sorted(CLIENT_KEYS | AGENT_KEYS | BODY_KEYS)
    for key in out:
        if not isinstance(key, str):
            raise ConfigError(f"Config entry keys must be strings, got {key!r}.")
        if key in _RENAMED:
            raise ConfigError(f"Unknown config key {key!r}.", key=key, suggestions=[_RENAMED[key]])
        if key not in known and (near := _near(key, known, 0.85)):
            raise ConfigError(f"Unknown config key {key!r}.", key=key, suggestions=near)
    model = out.get("model")
    if "model" not in out and "model_client" not in out and "model_client_cls" not in out:
        for key in out:
            if difflib.SequenceMatcher(None, key, "model").ratio() >= 0.6:
                raise ConfigError(f"Unknown config key {key!r}.", key=key, suggestions=["model"])
    elif model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigError(
            NO_MODEL_MESSAGE,
            hint=f'"model" must name a model, such as {{"model": "gpt-4o-mini"}}; got {model!r}. For a local '
            'server that serves a single model and needs no name, leave "model" out of the entry.',
            key="model",
        )
    _check_types(out)
    return out


def check_base_url(base_url: str) -> str:
    """Check, before a request, that ``base_url`` is an ``http://`` or ``https://`` URL.

    Returns:
        ``base_url``.

    Raises:
        ConfigError: it is not (the message shows an example).
    """
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"base_url must be an http:// or https:// URL such as 'http://localhost:8000/v1', got {base_url!r}.",
            key="base_url",
        )
    return base_url


def _check_types(entry: dict[str, Any]) -> None:
    check_api_type(entry.get("api_type"))
    base_url = entry.get("base_url")
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigError(
            f"base_url must be a URL string such as 'http://localhost:8000/v1', got {base_url!r}.", key="base_url"
        )
    # That it is an http(s) URL is checked at the first request (`check_base_url`), as in AutoGen
    # 0.2, where a wrapper (and a logged one) can be built from an entry that is never called.
    for key in ("timeout", "stream_chunk_timeout"):
        seconds = entry.get(key)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf
        ):
            raise ConfigError(f"{key} is in seconds and must be a finite number > 0, got {seconds!r}.", key=key)
    retries = entry.get("max_retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise ConfigError(f"max_retries must be an integer >= 0, got {retries!r}.", key="max_retries")
    headers = entry.get("default_headers")
    if headers is not None and (
        not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values())
    ):
        raise ConfigError("default_headers must map header names to strings.", key="default_headers")
    if entry.get("price") is not None:
        validate_price(entry["price"], str(entry.get("model", "")))
    tags = entry.get("tags")
    if tags is not None and (isinstance(tags, str) or not isinstance(tags, Sequence)):
        raise ConfigError(f"tags must be a list of strings, got {tags!r}.", key="tags")
    api_key = entry.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError("api_key must be a string.", key="api_key")
    if entry.get("api_rate_limit") is not None:
        check_rate(entry["api_rate_limit"])
    cls_name = entry.get("model_client_cls")
    if cls_name is not None and (not isinstance(cls_name, str) or not cls_name):
        raise ConfigError(
            f"model_client_cls is the class's name as a string, such as 'MyModelClient', got {cls_name!r}; "
            "register the class itself with agent.register_model_client(MyModelClient).",
            key="model_client_cls",
        )
    filter_func = entry.get("filter_func")
    if filter_func is not None and not callable(filter_func):
        raise ConfigError(
            f"filter_func must be a callable filter_func(context, response) -> bool, got {filter_func!r}.",
            key="filter_func",
        )


def split_entry(entry: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an entry into client settings and request-body parameters.

    Args:
        entry: a config entry, or per-call params.

    Returns:
        ``(client_settings, body_params)``: settings are the `CLIENT_KEYS` present; the body gets
        every other key except `AGENT_KEYS`, with ``extra_body``'s items merged in at top level.
    """
    client: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in entry.items():
        if key in CLIENT_KEYS:
            client[key] = value
        elif key == "extra_body" and isinstance(value, Mapping):
            body.update(value)
        elif key not in AGENT_KEYS:
            body[key] = value
    return client, body


def config_list_from_json(
    env_or_file: str = "OAI_CONFIG_LIST",
    file_location: str | os.PathLike[str] = "",
    filter_dict: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Load a config list from an environment variable or a JSON file, as AutoGen 0.2 does.

    If the environment variable ``env_or_file`` is set, its value is either the JSON text itself
    (when it starts with ``[``) or a path to a JSON file, tried as given and then under
    ``file_location``. Otherwise ``env_or_file`` is a file name, looked up under ``file_location``
    (default: the current directory).

    Args:
        env_or_file: an environment variable name or a file name.
        file_location: the directory to look for the file in.
        filter_dict: if given, keep only the entries `filter_config` accepts.

    Returns:
        The entries (after filtering), each checked with `validate_config_entry`.

    Raises:
        ConfigNotFoundError: nothing was found (the message lists every place looked); it is both a
            `ConfigError` and a `FileNotFoundError`, as AutoGen 0.2 raised.
        ConfigError: the JSON is bad
            (with line and column); it is not a list of dicts; or an entry is invalid.
    """
    looked: list[str] = []
    value = os.environ.get(env_or_file)
    if value is not None and value.lstrip().startswith(("[", "{")):
        data = _parse_json(value, f"environment variable {env_or_file}")
    else:
        name = value if value is not None else env_or_file
        if value is not None:
            looked.append(f"environment variable {env_or_file} (= {value!r}, not JSON)")
        else:
            looked.append(f"environment variable {env_or_file} (not set)")
        candidates = [Path(name), Path(file_location) / name] if value is not None else [Path(file_location) / name]
        for path in dict.fromkeys(candidates):
            if path.is_file():
                data = _parse_json(path.read_text(encoding="utf-8"), f"file {str(path)!r}")
                break
            looked.append(f"file {str(path.resolve())!r} (not found)")
        else:
            raise ConfigNotFoundError(
                "No config list found. Looked in: " + "; ".join(looked) + ". "
                f'Set {env_or_file} to a JSON list such as \'[{{"model": "gpt-4o-mini"}}]\' or to a file path.'
            )
    if not isinstance(data, list) or not all(isinstance(e, Mapping) for e in data):
        raise ConfigError(f"A config list must be a JSON list of objects; {env_or_file} gave {type(data).__name__}.")
    entries = filter_config(data, filter_dict) if filter_dict else data
    return [validate_config_entry(e) for e in entries]


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Bad JSON in {source}: {exc.msg} at line {exc.lineno}, column {exc.colno} (character {exc.pos})."
        ) from None


def _satisfies(value: Any, wanted: Any, present: bool) -> bool:
    options = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
    if not present:
        return None in options
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(v in options for v in value)
    return value in options


def filter_config(
    config_list: Sequence[Mapping[str, Any]], filter_dict: Mapping[str, Any] | None, exclude: bool = False
) -> list[dict[str, Any]]:
    """Select entries by their fields, with AutoGen 0.2's semantics.

    Each ``filter_dict`` item ``key: wanted`` is a criterion. ``wanted`` is one value or a list
    meaning "any of"; a ``None`` in the list also matches an entry without the key. An entry
    field that is itself a list (such as ``tags``) matches when it shares any value with ``wanted``.

    Args:
        config_list: the entries.
        filter_dict: the criteria; None or empty keeps every entry.
        exclude: False keeps entries that meet every criterion; True keeps entries that meet none.

    Returns:
        The kept entries (as dicts), in their original order.

    Example:
        ``filter_config(cl, {"tags": ["cheap"], "model": ["gpt-4o-mini", "gpt-4o"]})``
    """
    if not filter_dict:
        return [dict(e) for e in config_list]
    return [
        dict(entry)
        for entry in config_list
        if all(_satisfies(entry.get(k), wanted, k in entry) != exclude for k, wanted in filter_dict.items())
    ]


def import_object(spec: str) -> Any:
    """Import ``"pkg.module:name"`` and return the named object.

    Raises:
        ConfigError: the spec has no colon, or the module or name cannot be found.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"Expected 'pkg.module:name', got {spec!r}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"Cannot import module {module_name!r} from {spec!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(
            f"Module {module_name!r} has no attribute {attr!r}.",
            suggestions=difflib.get_close_matches(attr, names, n=1),
        ) from None
