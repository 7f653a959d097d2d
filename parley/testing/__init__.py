"""Test doubles: scripted model clients and an OpenAI-compatible scripted HTTP server.

`ScriptedModelClient` and `FunctionModelClient` answer in-process with no network.
`ScriptedOpenAIServer` speaks the OpenAI wire protocol to the real ``openai`` SDK; it is imported
on first use, so ``import parley.testing`` does not pull in ``http.server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.testing.scripted import FunctionModelClient, ScriptedModelClient

if TYPE_CHECKING:
    from parley.testing.openai_server import ScriptedOpenAIServer

__all__ = ["FunctionModelClient", "ScriptedModelClient", "ScriptedOpenAIServer"]


def __getattr__(name: str) -> Any:
    if name == "ScriptedOpenAIServer":
        from parley.testing.openai_server import ScriptedOpenAIServer

        return ScriptedOpenAIServer
    raise AttributeError(f"module 'parley.testing' has no attribute {name!r}")
