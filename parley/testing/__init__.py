"""Test doubles: scripted model clients and an OpenAI-compatible scripted HTTP server.

`ScriptedModelClient` and `FunctionModelClient` answer in-process with no network.
`ScriptedOpenAIServer` speaks the OpenAI wire protocol to the real ``openai`` SDK; it is imported
on first use, so ``import parley.testing`` does not pull in ``http.server``. `LocalKernelGateway`
and `LocalEnterpriseGateway` are not doubles: they run a real Jupyter Kernel Gateway or Jupyter
Enterprise Gateway on loopback for `JupyterCodeExecutor` (also imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.testing.scripted import FunctionModelClient, ScriptedModelClient

if TYPE_CHECKING:
    from parley.testing.enterprise_gateway import LocalEnterpriseGateway
    from parley.testing.kernel_gateway import LocalKernelGateway
    from parley.testing.openai_server import ScriptedOpenAIServer

__all__ = [
    "FunctionModelClient",
    "LocalEnterpriseGateway",
    "LocalKernelGateway",
    "ScriptedModelClient",
    "ScriptedOpenAIServer",
]


def __getattr__(name: str) -> Any:
    if name == "ScriptedOpenAIServer":
        from parley.testing.openai_server import ScriptedOpenAIServer

        return ScriptedOpenAIServer
    if name == "LocalEnterpriseGateway":
        from parley.testing.enterprise_gateway import LocalEnterpriseGateway

        return LocalEnterpriseGateway
    if name == "LocalKernelGateway":
        from parley.testing.kernel_gateway import LocalKernelGateway

        return LocalKernelGateway
    raise AttributeError(f"module 'parley.testing' has no attribute {name!r}")
