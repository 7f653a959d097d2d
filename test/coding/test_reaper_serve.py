"""`parley.coding._reaper.serve` as the warm templates leave it: a forked block unwinds out of it."""

from __future__ import annotations

import gc
import os
import socket

import pytest

from parley.coding import _reaper


class _Leave(BaseException):
    """How a block forked inside ``serve`` leaves it (as `parley.coding._warm_python`'s ``_Script``)."""


class _ForkingReuse:
    """A ``reuse`` whose ``take`` forks a process that does what a warm template's reaper and its block do.

    The fork closes the server's fds by number (as `parley.coding._warm_reapers` does), gets a
    new descriptor at the server socket's number (a socketpair made next takes the lowest free
    number, which may be that one), and leaves ``serve`` by an exception. Its exit code, sent
    back on ``report``, says whether that descriptor survived the unwinding.
    """

    def __init__(self, report: int) -> None:
        self.report = report

    def watched(self) -> list[int]:
        return []

    def collect(self, ready: list[int]) -> None:
        pass

    def take(
        self, message: bytes, fds: list[int], reapers: set[int], close: tuple[int, ...], server: object = None
    ) -> bool:
        pid = os.fork()
        if pid == 0:
            for fd in close:
                os.close(fd)
            read_end, _write_end = os.pipe()
            os.dup2(read_end, close[0])  # the server socket's number now belongs to this process's own pipe
            raise _Leave(close[0])
        _, status = os.waitpid(pid, 0)
        os.write(self.report, bytes([os.waitstatus_to_exitcode(status) & 0xFF]))
        for fd in fds:
            os.close(fd)
        return True


@pytest.mark.timeout(60)
def test_a_fork_leaving_serve_by_an_exception_does_not_close_a_number_the_server_socket_gave_up() -> None:
    host, served = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the server, and the fork that leaves it
        code, kept = 1, -1
        try:
            host.close()
            os.close(report_r)
            _reaper.serve(served.detach(), reuse=_ForkingReuse(report_w))
            code = 0
        except _Leave as leaving:
            kept = leaving.args[0]
        except BaseException as exc:
            os.write(2, repr(exc).encode())
            code = 2
        if kept >= 0:  # out of the handler, as the template's block is: the unwound frames are released
            gc.collect()
            try:
                os.fstat(kept)
                code = 0
            except OSError:
                code = 3  # the stale server socket closed this process's own descriptor
        os._exit(code)
    served.close()
    os.close(report_w)
    try:
        host.send(b"any request")
        said = os.read(report_r, 1)
    finally:
        host.close()
        os.close(report_r)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert said == b"\x00", f"the fork leaving serve exited {said!r} (3: its own descriptor was closed under it)"
