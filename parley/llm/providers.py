"""The ``api_type`` values parley serves, and where each one's server and API key are found.

Every provider here serves the OpenAI chat-completions API, so one adapter
(`parley.llm.openai_client.OpenAIClient`) talks to all of them through the official ``openai``
SDK; only the default base URL and the environment variable holding the key differ. An entry's
own ``base_url`` and ``api_key`` always win. ``"azure"`` (and AutoGen 0.2's spellings that start
with it, such as ``"azure_openai"``) uses the SDK's Azure client: ``api_version``, the endpoint as
``azure_endpoint`` or ``base_url``, the deployment as ``azure_deployment`` or the model with its
dots removed, and ``api_key``, ``azure_ad_token`` or ``azure_ad_token_provider``.

Other AutoGen 0.2 ``api_type`` values (``anthropic``, ``cohere``, ``bedrock`` ...) are refused by
`check_api_type` with one message naming what is supported.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from parley.exceptions import ConfigError

__all__ = ["AZURE", "DEFAULT_AZURE_API_VERSION", "PROVIDERS", "Provider", "check_api_type", "provider_for"]

DEFAULT_AZURE_API_VERSION = "2024-02-01"
"""The ``api_version`` of Azure OpenAI entries that name none (AutoGen 0.2's default)."""


@dataclass(frozen=True)
class Provider:
    """One OpenAI-compatible provider.

    Attributes:
        name: its ``api_type``.
        base_url: the default base URL (None: the entry must give one, or the SDK's default).
        key_env: the environment variable holding the API key.
        key_optional: True when the server needs no key (a placeholder is sent).
    """

    name: str
    base_url: str | None
    key_env: str
    key_optional: bool = False


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", None, "OPENAI_API_KEY"),
        Provider("azure", None, "AZURE_OPENAI_API_KEY"),
        Provider("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
        Provider("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        Provider("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"),
        Provider("google", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"),
        Provider("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
        Provider("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        Provider("ollama", "http://localhost:11434/v1", "OLLAMA_API_KEY", key_optional=True),
        Provider("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    )
}
"""Supported ``api_type`` values. ``google`` is AutoGen 0.2's name for Gemini, served here
through Gemini's OpenAI-compatible endpoint."""

AZURE = PROVIDERS["azure"]


def provider_for(api_type: str | None) -> Provider:
    """The provider for an entry's ``api_type`` (None means OpenAI; ``"azure..."`` means Azure).

    Raises:
        ConfigError: as `check_api_type`.
    """
    return PROVIDERS[check_api_type(api_type)]


def check_api_type(api_type: object) -> str:
    """The canonical name of a supported ``api_type``.

    Raises:
        ConfigError: ``api_type`` is not a string naming a supported provider; the message
            lists them, with a "did you mean".
    """
    if api_type is None:
        return "openai"
    if isinstance(api_type, str):
        name = api_type.strip().lower()
        if name.startswith("azure"):
            return "azure"
        if name in PROVIDERS:
            return name
    known = sorted(PROVIDERS)
    raise ConfigError(
        f"api_type {api_type!r} is not supported. parley serves {', '.join(known)}: each through its "
        "OpenAI-compatible endpoint (any other such server works as 'openai' with its base_url). For another "
        "provider, register a model client (see model_client_cls).",
        key="api_type",
        suggestions=difflib.get_close_matches(str(api_type).lower(), known, n=1, cutoff=0.6),
    )
