"""A pipe's read end as an `asyncio.StreamReader`, read by the running loop with no set-up round trip.

``loop.connect_read_pipe`` gives the same stream, but sets itself up through three callbacks
that the loop runs on its next pass (the awaiting task is resumed one pass later again), and
tears itself down through another: for a local block, whose output and status are two pipes,
that was four passes of the loop and about 150 Python calls on the path of every run. Here
the pipe is registered with the loop's selector at once (`read_pipe` is a plain call), each
readiness is one ``os.read`` fed to the stream, and closing is immediate.

Flow control is the stream's own: it pauses this reader once it holds more than twice its
limit, and resumes it when read below that (`asyncio.StreamReader`'s protocol with its
transport).
"""

from __future__ import annotations

import asyncio
import os

__all__ = ["PipeTransport", "read_pipe"]

_CHUNK_BYTES = 64 * 1024
"""The most bytes one readiness reads (a Linux pipe holds 64 KiB by default)."""


def read_pipe(fd: int, limit: int = 2**16) -> tuple[asyncio.StreamReader, PipeTransport]:
    """Read the pipe ``fd`` into a new stream on the running loop; the stream and its transport.

    Args:
        fd: the read end of a pipe (or socket) this process owns; it is made non-blocking, and
            closed when the transport is (or at end of file).
        limit: the stream's buffer limit, in bytes (default 64 KiB): reading pauses above
            twice that until the stream is read.

    Returns:
        The stream (end of file when the pipe's write ends are all closed) and the transport
        whose ``close()`` stops reading and closes ``fd``.

    Raises:
        RuntimeError: no event loop is running in this thread.
        OSError: ``fd`` cannot be made non-blocking (a closed descriptor).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    return reader, PipeTransport(loop, fd, reader)


class PipeTransport(asyncio.ReadTransport):
    """Feeds a pipe's bytes to a stream from the loop's reader callback; see the module docstring.

    Args:
        loop: the running loop whose selector watches ``fd``.
        fd: the pipe's read end (made non-blocking here; owned and closed by this transport).
        reader: the stream fed; its transport is set to this one (for its flow control).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, reader: asyncio.StreamReader) -> None:
        super().__init__()
        os.set_blocking(fd, False)
        self._loop = loop
        self._fd = fd
        self._reader = reader
        self._paused = False
        self._closed = False
        reader.set_transport(self)
        loop.add_reader(fd, self._ready)

    def _ready(self) -> None:
        try:
            data = os.read(self._fd, _CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._reader.set_exception(exc)
            self.close()
            return
        if data:
            self._reader.feed_data(data)
        else:
            self.close()

    def pause_reading(self) -> None:
        """Stop reading until `resume_reading` (the stream holds more than twice its limit)."""
        if not self._closed and not self._paused:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        """Read again after `pause_reading`."""
        if not self._closed and self._paused:
            self._paused = False
            self._loop.add_reader(self._fd, self._ready)

    def is_reading(self) -> bool:
        """True unless paused or closed."""
        return not self._closed and not self._paused

    def is_closing(self) -> bool:
        """True once closed."""
        return self._closed

    def close(self) -> None:
        """Stop reading, close the pipe and end the stream (what was read stays readable). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self._paused:
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._reader.feed_eof()
