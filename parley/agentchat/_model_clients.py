"""What an agent adds on top of its model client: custom client classes, and streamed tokens shown.

- `ModelClientsMixin.register_model_client` activates the ``model_client_cls`` entries of the
  agent's ``llm_config`` (AutoGen 0.2's method of the same name).
- `create_reply` calls the model; when the client streams (``"stream": True`` in ``llm_config``)
  and the agent may print, the console shows the reply as it is written: first the header the
  message will have (``"assistant (to user):"``), then each text delta as it arrives, and the
  line is ended once the reply is complete. In a terminal the tokens appear as they come; in a
  notebook the default `parley.agentchat.io.IOConsole` writes to the cell's stdout, which
  Jupyter renders live.
- When the reply is then sent, the receiver prints only what the stream did not show (its tool
  calls and the closing rule): `streamed_already` tells it so. The text is printed once, under
  its header. A reply changed on its way (a ``process_message_before_send`` hook, a group
  chat's ``CLEAR HISTORY``), or printed to another stream, is printed whole, as it was sent.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from parley.agentchat._display import content_str, header
from parley.agentchat.events import ModelTokens, current_event_sink
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.llm.streaming import stream_to
from parley.llm.types import Message, ModelResponse, ToolSpec

if TYPE_CHECKING:
    from parley.llm.wrapper import OpenAIWrapper

__all__ = ["STREAMS_PENDING", "ModelClientsMixin", "TokenPrinter", "create_reply", "streamed_already"]


class _Shown(NamedTuple):
    recipient: Any
    stream: IOStream
    text: str


# speaker -> the reply it streamed to the console and has not sent yet. Keyed by the agent, not
# a context variable, so the record survives the hops a reply can take before it is received
# (a 0.2-style peer's sync methods run in a worker thread with a copy of the context).
_streamed: weakref.WeakKeyDictionary[Any, _Shown] = weakref.WeakKeyDictionary()
STREAMS_PENDING: dict[Any, _Shown] = _streamed.data  # type: ignore[attr-defined]
"""The weak dict's own dict: empty when no streamed reply waits to be sent (the usual case), which
a hot caller tests before it calls `streamed_already`."""


class TokenPrinter:
    """A token sink that prints a header, then each text delta to an IOStream, with no newline between them.

    Args:
        stream: where to print.
        title: the line printed (followed by an empty line) before the first delta; None prints
            the deltas alone.

    Attributes:
        printed: True once a delta has been printed (and the line not yet ended).
        text: every delta printed so far, joined.
    """

    def __init__(self, stream: IOStream, title: str | None = None) -> None:
        self._stream = stream
        self._title = title
        self._pieces: list[str] = []
        self.printed = False

    @property
    def text(self) -> str:
        """Everything printed so far, joined."""
        return "".join(self._pieces)

    def __call__(self, text: str) -> None:
        """Print one delta (the title first, before the first one) and flush, so it shows at once."""
        if not self._pieces and self._title is not None:
            self._stream.print(self._title + "\n", flush=True)
        self._stream.print(text, end="", flush=True)
        self._pieces.append(text)
        self.printed = True

    def end(self) -> None:
        """End the line of streamed text, if anything was printed."""
        if self.printed:
            self._stream.print("", flush=True)
            self.printed = False


async def create_reply(
    client: Any,
    request: Sequence[Message],
    tools: Sequence[ToolSpec] | None,
    *,
    show_tokens: bool,
    agent: str = "",
    speaker: Any = None,
    recipient: Any = None,
) -> ModelResponse:
    """Ask ``client`` for a reply, streaming its tokens to the IOStream under the message's header when asked to.

    Args:
        client: the model client (an `OpenAIWrapper` or any `parley.llm.ModelClient`).
        request: the messages.
        tools: the tools, or None.
        show_tokens: whether the agent may print; tokens are shown only if the client also
            streams (its ``streams`` attribute is true).
        agent: the asking agent's name: the header's sender; with a chat event sink set
            (`parley.agentchat.events`), each streamed delta is also reported as a
            ``ModelTokens`` event under this name.
        speaker: the asking agent; when given, the streamed text is remembered so that
            `streamed_already` can tell the receiver it is on the console already.
        recipient: the agent the reply is for (the header's recipient); None when unknown.

    Raises:
        parley.exceptions.ModelError: the call failed (the line of tokens is ended first).
    """
    events = current_event_sink()
    if not ((show_tokens or events is not None) and getattr(client, "streams", False)):
        return await client.create(request, tools=tools)  # type: ignore[no-any-return]
    stream = IOStream.get_default()
    title = header(agent, getattr(recipient, "name", None)) if agent else None
    printer = TokenPrinter(stream, title) if show_tokens else None

    def sink(text: str) -> None:
        if printer is not None:
            printer(text)
        if events is not None:
            events(ModelTokens(agent, text))

    if speaker is not None:
        _streamed.pop(speaker, None)
    try:
        with stream_to(sink):
            response: ModelResponse = await client.create(request, tools=tools)
    finally:
        if printer is not None:
            printer.end()
    if printer is not None and speaker is not None and recipient is not None and printer.text:
        _streamed[speaker] = _Shown(recipient, stream, printer.text)
    return response


def streamed_already(sender: Any, recipient: Any, message: Message) -> bool:
    """Whether ``message``'s header and text are on the console already, streamed as ``sender`` wrote it.

    True once for the reply `create_reply` streamed: when ``sender`` sends it, unchanged, to the
    ``recipient`` it was written for, and the current IOStream is the one it streamed to. The
    record is used up by the first message ``sender`` sends after the stream, whatever it is.
    """
    if not STREAMS_PENDING:  # nothing streamed: no len() call
        return False
    try:
        shown = _streamed.pop(sender, None)
    except TypeError:  # a sender that cannot be weakly referenced never streamed here
        return False
    return (
        shown is not None
        and shown.recipient is recipient
        and shown.stream is IOStream.get_default()
        and shown.text == content_str(message.get("content"))
    )


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
