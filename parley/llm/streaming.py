"""Streaming: hand each text delta to a sink as it arrives, and rebuild the whole reply from chunks.

With ``stream=True`` a model server answers with ``chat.completion.chunk`` objects sent as
server-sent events (OpenAI's API reference, "The chat completion chunk object"). Each chunk's
``choices[0].delta`` adds a piece of text, or a piece of a tool call addressed by its ``index``:
the first delta of a tool call carries its ``id`` and function ``name``, later ones carry
fragments of its JSON ``arguments``. With ``stream_options={"include_usage": true}`` a last chunk
with no choices carries the token usage.

Who sees the text as it arrives is the *token sink* of the running context: a callable taking
each text delta, set with `stream_to`. The model layer cannot print (printing belongs to the
agents' IOStream), so an agent sets its IOStream's print as the sink around each model call;
code that calls a client directly may set any callable. With no sink set, the deltas are only
collected. The sink is a context variable, so concurrent chats each stream to their own sink.

A stream can stall: the server keeps the connection open and sends nothing, or only SSE comments
such as ``: keep-alive``. `ChunkAccumulator.consume` bounds the wait for each chunk (``gap``,
llm_config's ``stream_chunk_timeout``) and raises `StreamStalledError` when it runs out; the
whole stream's deadline (llm_config's ``timeout``) is kept by the HTTP client below it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from parley.llm._within import within
from parley.llm.types import ToolCall, Usage

__all__ = ["ChunkAccumulator", "StreamStalledError", "StreamedReply", "TokenSink", "current_sink", "stream_to"]

TokenSink = Callable[[str], object]
"""Called with each text delta of a streamed reply, in order, as it arrives."""

_sink: contextvars.ContextVar[TokenSink | None] = contextvars.ContextVar("parley_token_sink", default=None)


@contextmanager
def stream_to(sink: TokenSink | None) -> Iterator[None]:
    """Send the text deltas of streamed replies inside the ``with`` block to ``sink``.

    Args:
        sink: called with each text delta (a non-empty str) as it arrives; None collects the
            deltas without showing them. It runs on the event loop, so it must not block.

    Only this context (this task and the tasks it starts) is affected.
    """
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def current_sink() -> TokenSink | None:
    """The token sink set by the innermost `stream_to` of this context, or None."""
    return _sink.get()


class StreamStalledError(TimeoutError):
    """No chunk arrived for ``seconds``: the stream stalled. Model clients turn it into a `ModelError`.

    Attributes:
        seconds: the longest wait allowed for one chunk.
        chunks: how many chunks had arrived before the stall.
    """

    def __init__(self, seconds: float, chunks: int) -> None:
        super().__init__(f"no chunk for {seconds:g} s after {chunks} chunk(s)")
        self.seconds = seconds
        self.chunks = chunks


@dataclass
class StreamedReply:
    """A reply rebuilt from its chunks.

    Attributes:
        content: the joined text; None when no chunk carried text (a reply of tool calls only).
        tool_calls: the tool calls, in index order, with their arguments joined.
        refusal: the joined refusal text, when the model refused; else None.
        finish_reason: the finish reason of the last chunk that had one; None means the stream
            ended before the reply was complete.
        usage: the usage from the chunk that carried one, else None.
        model: the model named by the chunks ("" if none did).
        chunks: how many chunks arrived.
    """

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    refusal: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    chunks: int = 0


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChunkAccumulator:
    """Rebuilds one reply from ``chat.completion.chunk`` objects (SDK objects or plain dicts).

    Only choice 0 is kept (parley asks for one choice). Tool-call deltas are joined by their
    ``index``; a delta without an index continues the last call unless it brings a new ``id``.
    A tool call's ``id`` and ``name`` are taken from the first delta that has them.
    """

    def __init__(self) -> None:
        self._text: list[str] | None = None
        self._refusal: list[str] | None = None
        self._calls: dict[int, _PartialCall] = {}
        self._last_index: int | None = None
        self._reply = StreamedReply()

    @property
    def chunks(self) -> int:
        """How many chunks were added so far."""
        return self._reply.chunks

    def add(self, chunk: Any) -> str:
        """Add one chunk and return its text delta ("" when it has none)."""
        reply = self._reply
        reply.chunks += 1
        model = _get(chunk, "model")
        if model and not reply.model:
            reply.model = str(model)
        usage = _get(chunk, "usage")
        if usage is not None:
            prompt = int(_get(usage, "prompt_tokens") or 0)
            completion = int(_get(usage, "completion_tokens") or 0)
            reply.usage = Usage(prompt, completion, int(_get(usage, "total_tokens") or prompt + completion))
        text = ""
        for choice in _get(chunk, "choices") or ():
            if (_get(choice, "index") or 0) != 0:
                continue
            if _get(choice, "finish_reason"):
                reply.finish_reason = str(_get(choice, "finish_reason"))
            delta = _get(choice, "delta")
            if delta is None:
                continue
            piece = _get(delta, "content")
            if isinstance(piece, str):
                self._text = [] if self._text is None else self._text
                self._text.append(piece)
                text += piece
            refusal = _get(delta, "refusal")
            if isinstance(refusal, str):
                self._refusal = [] if self._refusal is None else self._refusal
                self._refusal.append(refusal)
            for call in _get(delta, "tool_calls") or ():
                self._add_call(call)
        return text

    def _add_call(self, delta: Any) -> None:
        index = _get(delta, "index")
        call_id = _get(delta, "id")
        if not isinstance(index, int):  # a server that leaves out the index: continue or start a call
            new_id = bool(call_id) and all(c.id != call_id for c in self._calls.values())
            index = len(self._calls) if self._last_index is None or new_id else self._last_index
        self._last_index = index
        call = self._calls.setdefault(index, _PartialCall())
        if call_id and not call.id:
            call.id = str(call_id)
        fn = _get(delta, "function")
        if fn is None:
            return
        name = _get(fn, "name")
        if name and not call.name:
            call.name = str(name)
        arguments = _get(fn, "arguments")
        if arguments:
            call.arguments.append(str(arguments))

    def result(self) -> StreamedReply:
        """The reply rebuilt from every chunk added so far."""
        reply = self._reply
        reply.content = None if self._text is None else "".join(self._text)
        reply.refusal = None if self._refusal is None else "".join(self._refusal)
        reply.tool_calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": "".join(c.arguments)}}
            for _, c in sorted(self._calls.items())
        ]
        return reply

    async def consume(
        self, chunks: AsyncIterable[Any], sink: TokenSink | None = None, *, gap: float | None = None
    ) -> StreamedReply:
        """Add every chunk of ``chunks``, handing each text delta to ``sink`` as it arrives.

        Args:
            chunks: the parsed chunks (each an SSE data event; comments never reach here).
            sink: called with each text delta; None to only collect.
            gap: the longest wait, in seconds, for each chunk, the first one included; None
                waits as long as ``chunks`` does.

        Returns:
            The rebuilt reply.

        Raises:
            StreamStalledError: no chunk came within ``gap`` seconds. The iteration is cut short
                (the caller closes ``chunks``).

        Other errors raised while iterating propagate; `chunks` then says how far the stream got.
        """
        pending = aiter(chunks)
        while True:
            try:  # `within`: asyncio.timeout is 3.11+, and wait_for waits unbounded after its cancel
                chunk = await (anext(pending) if gap is None else within(anext(pending), gap))
            except StopAsyncIteration:
                return self.result()
            except asyncio.TimeoutError:
                if gap is None:
                    raise
                raise StreamStalledError(gap, self.chunks) from None
            text = self.add(chunk)
            if text and sink is not None:
                sink(text)


def _get(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``getattr(obj, name, None)``."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
