"""A pipe read into a StreamReader straight from the loop's selector (`parley.coding._pipe_reader`)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from parley.coding._pipe_reader import read_pipe


@pytest.mark.timeout(60)
async def test_a_flood_arrives_whole_and_in_order_with_reading_paused_while_the_stream_is_full() -> None:
    read_fd, write_fd = os.pipe()
    data = os.urandom(3 * 2**20)
    writer = threading.Thread(target=_write_all, args=(write_fd, data))
    writer.start()
    stream, transport = read_pipe(read_fd, limit=2**14)
    paused_seen = False
    got = bytearray()
    while chunk := await stream.read(4096):
        got += chunk
        paused_seen = paused_seen or not transport.is_reading()
        await asyncio.sleep(0)  # a slow reader: the stream fills up
    writer.join()
    assert bytes(got) == data
    assert paused_seen  # flow control held the reader back instead of buffering the flood
    assert transport.is_closing()  # end of file closed it
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(read_fd)  # and its descriptor


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


@pytest.mark.timeout(60)
async def test_closing_stops_reading_ends_the_stream_and_keeps_what_was_read() -> None:
    read_fd, write_fd = os.pipe()
    stream, transport = read_pipe(read_fd)
    os.write(write_fd, b"first line\nrest")
    assert await stream.readline() == b"first line\n"
    await asyncio.sleep(0.01)
    transport.close()
    transport.close()  # idempotent
    assert await stream.read() == b"rest"  # what was buffered, then end of file, though the writer is open
    os.close(write_fd)


def test_the_descriptor_must_be_read_on_a_running_loop() -> None:
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(RuntimeError):
            read_pipe(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
