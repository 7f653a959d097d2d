"""The `ModelClient` protocol: the one seam between agents and any model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from parley.llm.types import Message, ModelResponse, ToolSpec

__all__ = ["ModelClient"]


@runtime_checkable
class ModelClient(Protocol):
    """Anything that can answer a chat: the OpenAI adapter, a scripted test client, your own.

    One async call takes the messages, the tools and the call parameters and returns the reply
    message with its usage, cost and model. Implementations raise `parley.exceptions.ModelError`
    (or a subclass) for every failure, never an SDK's own exception.
    """

    async def create(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Answer one chat request.

        Args:
            messages: the conversation, system message first, in the OpenAI shape.
            tools: tools the model may call, in the OpenAI tools shape; None for none.
            params: extra call parameters (``temperature``, ``max_tokens``, ``stream`` ...).

        Returns:
            The reply, with usage and cost.

        Raises:
            parley.exceptions.ModelError: the call failed; the subclass says how.
        """
        ...
