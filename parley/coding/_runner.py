"""The persistent runner: one long-lived process per Docker container that runs each of its blocks.

`parley.coding._docker_runner` starts it once per container with a single attached ``docker exec``
of ``python3 -I -S`` and sends it, over that exec's stdin, the source of `parley.coding._reaper`
and of this module. It uses the standard library only (Python 3.8 or later), so it works in any
image with ``python3``; the container's network stays as configured (off by default). It runs as
the user the blocks run as.

Requests arrive on stdin, one JSON object per line:

- ``{"op": "run", "id": N, "argv": [...], "cwd": "...", "env": {...}, "keep": false}`` starts run N;
- ``{"op": "kill", "id": N}`` ends run N's whole process tree at once (a timeout, a cancel);
- ``{"op": "drop", "id": N, "tag": T}`` ends the background processes kept by runs tagged ``T``
  (a run's ``"tag"``; null: every tag) and answers ``d`` for N;
- end of file ends every run and every kept process, and the runner.

Replies go to stdout as frames: a 9-byte header (the run id, 4 bytes big-endian; a kind, 1 byte;
the payload's length, 4 bytes big-endian), then the payload. Kinds: ``r`` ready (id 0, payload
this process's pid), ``s`` run N started, ``o`` run N's output (stdout and stderr merged, in
order), ``x`` run N ended (payload ``"<exit code> <how>"``, how being ``exit``, ``killed`` after a
``kill``, or ``lost`` when the run's reaper was killed, by the code as a rule), ``d`` drop done.

Each run is forked from the runner into a reaper of its own (the per-run part of
`parley.coding._reaper`'s server): a child subreaper in a new session that runs the command, and
when it exits stops and kills every descendant, however it detached, before it reports the exit
status (``128 + N`` when signal N ended the command). With ``keep`` the reaper reports as soon as
the command exits and keeps its background processes until they end, the runner drops them, or
the runner goes. The runner is a subreaper too: a reaper killed by its own code leaves its orphans
to the runner, which ends them. So several runs may go at once (slots), each contained on its own,
with no container-wide kill.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time

TYPE_CHECKING = False  # `typing` costs the runner's start several ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]

_CHUNK = 65536
_POLL_S = 0.5
"""Seconds between checks of runs that ended but whose output is still held open."""
_FINISH_S = 2.0
"""Seconds a run's output may stay open after its command ended (something that escaped holds it)."""


class _Run:
    """One run: its reaper, pipes and what is known of its end."""

    def __init__(self, run_id: int, pid: int, output: int, status: int, control: int | None, tag: Any) -> None:
        self.id = run_id
        self.pid = pid
        self.output: int | None = output
        self.status: int | None = status
        self.control = control  # the write end whose closing ends kept background processes
        self.tag = tag
        self.code: int | None = None
        self.how = "exit"
        self.ended_at = 0.0
        self.reaped = False
        self.reported = False
        self.status_text = b""


class _Runner:
    """The runner's state and its loop; see the module docstring."""

    def __init__(self, reaper: Any) -> None:
        self.reaper = reaper
        self.signal = reaper._signals()
        self.runs: dict[int, _Run] = {}  # running, or ended and not yet reported
        self.kept: dict[int, _Run] = {}  # reported, whose reaper keeps background processes
        self.requests = b""
        self.stdin_open = True
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.wake_r, self.wake_w = os.pipe()

    # --- output -----------------------------------------------------------------------------------

    def frame(self, run_id: int, kind: bytes, payload: bytes = b"") -> None:
        """Write one frame to stdout; a host that is gone ends the runner."""
        data = memoryview(run_id.to_bytes(4, "big") + kind + len(payload).to_bytes(4, "big") + payload)
        try:
            while data:
                data = data[os.write(1, data) :]
        except OSError:
            self.end_all()
            os._exit(0)

    # --- the loop ---------------------------------------------------------------------------------

    def serve(self) -> int:
        signal = self.signal
        for number in self.reaper._signal_numbers(self.reaper._IGNORED):
            signal.signal(number, signal.SIG_IGN)
        self.reaper._become_subreaper()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.frame(0, b"r", str(os.getpid()).encode())
        while self.stdin_open or self.runs:
            watched = [self.wake_r] + ([0] if self.stdin_open else [])
            for run in self.runs.values():
                watched += [fd for fd in (run.output, run.status) if fd is not None]
            ready, _, _ = select.select(watched, [], [], _POLL_S)
            if self.wake_r in ready:
                os.read(self.wake_r, _CHUNK)
            for run in list(self.runs.values()):
                if run.output is not None and run.output in ready:
                    self.relay(run)
                if run.status is not None and run.status in ready:
                    self.read_status(run)
            self.reap()
            if 0 in ready:
                self.read_requests()
            for run in list(self.runs.values()):
                self.maybe_report(run)
        self.end_all()
        return 0

    def read_requests(self) -> None:
        data = os.read(0, _CHUNK)
        if not data:
            self.stdin_open = False
            self.end_all()
            return
        self.requests += data
        *lines, self.requests = self.requests.split(b"\n")
        for line in lines:
            if line.strip():
                self.handle(json.loads(line))

    def handle(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        if op == "run":
            self.start(request)
        elif op == "kill":
            run = self.runs.get(request["id"])
            if run is not None and not run.reaped:
                run.how = "killed"
                self.kill_tree(run.pid)
        elif op == "drop":
            tag = request.get("tag")
            for run in list(self.kept.values()):
                if tag is None or run.tag == tag:
                    self.kill_tree(run.pid)
                    self.close_control(run)
                    del self.kept[run.id]
            self.frame(request["id"], b"d")

    # --- runs -------------------------------------------------------------------------------------

    def held_fds(self) -> list[int]:
        fds = [self.wake_r, self.wake_w]
        for run in (*self.runs.values(), *self.kept.values()):
            fds += [fd for fd in (run.output, run.status, run.control) if fd is not None]
        return fds

    def start(self, request: dict[str, Any]) -> None:
        run_id = request["id"]
        keep, tag = bool(request.get("keep")), request.get("tag")
        env = dict(os.environ)
        env.update(request.get("env") or {})
        request = {"argv": request["argv"], "cwd": request["cwd"], "env": env, "keep": keep}
        output_r, output_w = os.pipe()
        status_r, status_w = os.pipe()
        control_r, control_w = os.pipe() if keep else (None, None)
        theirs = [output_w, status_w] + ([control_r] if control_r is not None else [])
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (output_r, status_r, control_w, *theirs):
                if fd is not None:
                    os.close(fd)
            why = exc.strerror or exc
            message = f"The runner could not start the block: {why} (the container's pids limit may be full).\n"
            self.frame(run_id, b"o", message.encode())
            self.frame(run_id, b"x", b"126 exit")
            return
        if pid == 0:  # the run's reaper
            code = 0
            try:
                for fd in (*self.held_fds(), output_r, status_r, control_w, self.devnull):
                    if fd is not None:
                        os.close(fd)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                self.reaper._serve_one(request, theirs)
            except BaseException:
                code = 1
            os._exit(code)
        for fd in theirs:
            os.close(fd)
        os.set_blocking(output_r, False)
        self.runs[run_id] = _Run(run_id, pid, output_r, status_r, control_w, tag)
        self.frame(run_id, b"s")

    def relay(self, run: _Run) -> None:
        assert run.output is not None
        try:
            data = os.read(run.output, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.frame(run.id, b"o", data)
            return
        os.close(run.output)
        run.output = None

    def read_status(self, run: _Run) -> None:
        assert run.status is not None
        data = os.read(run.status, _CHUNK)
        if not data:
            os.close(run.status)
            run.status = None
            return
        run.status_text += data
        for line in run.status_text.split(b"\n"):
            words = line.split()
            if len(words) == 2 and words[0] == b"exit" and words[1].isdigit() and run.code is None:
                run.code, run.ended_at = int(words[1]), time.monotonic()

    def reap(self) -> None:
        """Reap exited children; a run's reaper that ended without reporting leaves orphans to end."""
        lost = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            run = self.find(pid)
            if run is None:
                continue  # an orphan that was ended
            run.reaped = True
            if run.status is not None:
                self.read_rest(run)
            if run.code is None:
                run.code, run.ended_at = 128 + 9, time.monotonic()
                if run.how != "killed":
                    run.how = "lost"
                lost = True
            if run.id in self.kept:
                self.close_control(run)
                del self.kept[run.id]
        if lost:
            self.end_orphans()

    def read_rest(self, run: _Run) -> None:
        assert run.status is not None
        os.set_blocking(run.status, False)
        try:
            while run.status is not None:
                before = run.status
                self.read_status(run)
                if run.status == before and run.code is not None:
                    break
        except BlockingIOError:
            pass

    def find(self, pid: int) -> _Run | None:
        for run in (*self.runs.values(), *self.kept.values()):
            if run.pid == pid:
                return run
        return None

    def maybe_report(self, run: _Run) -> None:
        if run.code is None:
            return
        if run.output is not None and not run.reaped and time.monotonic() - run.ended_at < _FINISH_S:
            return
        if run.output is not None:  # drain what is there; something that escaped may hold it open
            try:
                while data := os.read(run.output, _CHUNK):
                    self.frame(run.id, b"o", data)
            except OSError:
                pass
            os.close(run.output)
            run.output = None
        if run.status is not None:
            os.close(run.status)
            run.status = None
        del self.runs[run.id]
        if run.control is not None and not run.reaped:
            self.kept[run.id] = run
        else:
            self.close_control(run)
        self.frame(run.id, b"x", f"{run.code} {run.how}".encode())

    # --- ending processes -------------------------------------------------------------------------

    def kill_tree(self, root: int) -> None:
        """Stop ``root`` and every descendant (until no new one appears), then kill them all."""
        reaper = self.reaper
        stopped: set[int] = set()
        for _ in range(100):
            new = ({root} | reaper._descendants(root)) - stopped
            if not new:
                break
            reaper._signal_pids(new, self.signal.SIGSTOP)
            stopped |= new
        reaper._signal_pids(stopped, self.signal.SIGKILL)

    def end_orphans(self) -> None:
        """End what killed reapers left to the runner: every child that is not a live run's reaper."""
        children = self.reaper._children_map().get(os.getpid(), [])
        live = {run.pid for run in (*self.runs.values(), *self.kept.values()) if not run.reaped}
        for child in children:
            if child not in live:
                self.kill_tree(child)

    def close_control(self, run: _Run) -> None:
        if run.control is not None:
            os.close(run.control)
            run.control = None

    def end_all(self) -> None:
        """End every run and kept process (the host is gone)."""
        for run in (*self.runs.values(), *self.kept.values()):
            if not run.reaped:
                self.kill_tree(run.pid)
        self.end_orphans()
        self.kept.clear()


def main() -> int:
    """Serve requests on stdin until end of file; return 0. `_reaper` must be in ``sys.modules``."""
    return _Runner(sys.modules["_reaper"]).serve()


if __name__ == "__parley_runner__":
    sys.exit(main())
