"""What an agent adds on top of its model client: custom client classes, and streamed tokens shown.

- `ModelClientsMixin.register_model_client` activates the ``model_client_cls`` entries of the
  agent's ``llm_config`` (AutoGen 0.2's method of the same name).
- `create_reply` calls the model; when the client streams (``"stream": True`` in ``llm_config``)
  and the agent may print, each text delta goes to the IOStream as it arrives, on one line,
  and the line is ended once the reply is complete. In a terminal the tokens appear as they
  come; in a notebook the default `parley.agentchat.io.IOConsole` writes to the cell's stdout,
  which Jupyter renders live. The complete message is then printed as usual when it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from parley.agentchat.events import ModelTokens, current_event_sink
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.llm.streaming import stream_to
from parley.llm.types import Message, ModelResponse, ToolSpec

if TYPE_CHECKING:
    from parley.llm.wrapper import OpenAIWrapper

__all__ = ["ModelClientsMixin", "TokenPrinter", "create_reply"]


class TokenPrinter:
    """A token sink that prints each text delta to an IOStream, with no newline between them.

    Args:
        stream: where to print.

    Attributes:
        printed: True once a delta has been printed.
    """

    def __init__(self, stream: IOStream) -> None:
        self._stream = stream
        self.printed = False

    def __call__(self, text: str) -> None:
        """Print one delta and flush, so it shows at once."""
        self._stream.print(text, end="", flush=True)
        self.printed = True

    def end(self) -> None:
        """End the line of streamed text, if anything was printed."""
        if self.printed:
            self._stream.print("", flush=True)
            self.printed = False


async def create_reply(
    client: Any, request: Sequence[Message], tools: Sequence[ToolSpec] | None, *, show_tokens: bool, agent: str = ""
) -> ModelResponse:
    """Ask ``client`` for a reply, printing streamed tokens to the IOStream when asked to.

    Args:
        client: the model client (an `OpenAIWrapper` or any `parley.llm.ModelClient`).
        request: the messages.
        tools: the tools, or None.
        show_tokens: whether the agent may print; tokens are shown only if the client also
            streams (its ``streams`` attribute is true).
        agent: the asking agent's name; with a chat event sink set (`parley.agentchat.events`),
            each streamed delta is also reported as a ``ModelTokens`` event under this name.

    Raises:
        parley.exceptions.ModelError: the call failed (the line of tokens is ended first).
    """
    events = current_event_sink()
    if not ((show_tokens or events is not None) and getattr(client, "streams", False)):
        return await client.create(request, tools=tools)  # type: ignore[no-any-return]
    printer = TokenPrinter(IOStream.get_default()) if show_tokens else None

    def sink(text: str) -> None:
        if printer is not None:
            printer(text)
        if events is not None:
            events(ModelTokens(agent, text))

    try:
        with stream_to(sink):
            return await client.create(request, tools=tools)  # type: ignore[no-any-return]
    finally:
        if printer is not None:
            printer.end()


class ModelClientsMixin:
    """`register_model_client` and the usage methods of `parley.agentchat.ConversableAgent`."""

    _name: str
    client: OpenAIWrapper | None

    def register_model_client(self, model_client_cls: type[Any], **kwargs: Any) -> None:
        """Activate the ``llm_config`` entries that name ``model_client_cls`` (AutoGen 0.2's method).

        Each entry with ``"model_client_cls": model_client_cls.__name__`` gets
        ``model_client_cls(entry, **kwargs)``. The class may implement parley's async
        `parley.llm.ModelClient` or AutoGen 0.2's ``ModelClient`` (sync ``create(params)``,
        ``message_retrieval``, ``cost`` and the static ``get_usage``); see `parley.llm.custom`.

        Args:
            model_client_cls: the class itself.
            **kwargs: passed to its constructor after the entry.

        Raises:
            ConfigError: the agent has no ``llm_config``; the class has neither protocol's
                methods; or no entry names it (with a "did you mean").
        """
        if self.client is None:
            raise ConfigError(
                f"{self._name} has no llm_config, so there is no config entry to use "
                f"{getattr(model_client_cls, '__name__', model_client_cls)!r} for. Give it an llm_config "
                'with {"config_list": [{"model_client_cls": "...", "model": "..."}]}.',
                key="llm_config",
            )
        self.client.register_model_client(model_client_cls, **kwargs)

    def print_usage_summary(self, mode: str | list[str] | tuple[str, ...] = ("actual", "total")) -> None:
        """Print this agent's model usage and cost through the IOStream."""
        if self.client is None:
            IOStream.get_default().print(f"No cost incurred from agent '{self._name}'.")
            return
        IOStream.get_default().print(f"Agent '{self._name}':")
        self.client.print_usage_summary(mode, print_fn=IOStream.get_default().print)  # type: ignore[arg-type]

    def get_actual_usage(self) -> dict[str, Any] | None:
        """Usage excluding cached replies, in AutoGen 0.2's shape; None without a model."""
        return None if self.client is None else self.client.usage_summary.view("actual")

    def get_total_usage(self) -> dict[str, Any] | None:
        """Usage including cached replies, in AutoGen 0.2's shape; None without a model."""
        return None if self.client is None else self.client.usage_summary.view("total")
