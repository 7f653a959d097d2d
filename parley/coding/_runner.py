"""The persistent runner: one long-lived process per Docker container that runs each of its blocks.

`parley.coding._docker_runner` starts it once per container with a single attached ``docker exec``
of ``python3 -I -S`` and sends it, over that exec's stdin, the source of `parley.coding._reaper`,
of `parley.coding._warm_python`, of `parley.coding._runner_guard` and of this module. It uses the
standard library only (Python 3.9 or later), so it works in any image with ``python3``; the
container's network stays as configured (off by default). It runs as the user the blocks run as.

Requests arrive on stdin, one JSON object per line:

- ``{"op": "run", "id": N, "argv": [...], "cwd": "...", "env": {...}, "keep": false, "fork": false}``
  starts run N (``fork``: ``argv`` is ``[python3, FILE]``, to run from a warm interpreter, below);
- ``{"op": "kill", "id": N}`` ends run N's whole process tree at once (a timeout, a cancel);
- ``{"op": "drop", "id": N, "tag": T}`` ends the background processes kept by runs tagged ``T``
  (a run's ``"tag"``; null: every tag) and answers ``d`` for N;
- end of file ends every run and every kept process, and the runner.

Replies go to stdout as frames: a 9-byte header (the run id, 4 bytes big-endian; a kind, 1 byte;
the payload's length, 4 bytes big-endian), then the payload. Kinds: ``r`` ready (id 0, payload
this process's pid), ``s`` run N started, ``o`` run N's output (stdout and stderr merged, in
order), ``x`` run N ended (payload ``"<exit code> <how>"``, how being ``exit``, ``killed`` after a
``kill``, ``lost`` when the run's reaper was killed, by the code as a rule, or ``tainted`` followed
by what changed, when run N was not started because the runner is tainted: below), ``d`` drop done.

Blocks run as the runner's user, and Linux lets a process change the resource limits, scheduling
priority, scheduling policy and CPU affinity of another of its user (``prlimit``, ``renice``,
``chrt``, ``taskset``); every fork inherits them. So before each run the runner compares its own
with those it started with, and puts back what it may (a soft limit under its hard one, the
affinity). What it may not (a lowered hard limit, a raised nice value, ``SCHED_IDLE``: only a
privilege undoes those, and the container has none) taints it for good: it starts no run any
more and answers each with ``tainted``, and the host replaces it with a fresh one from a new
``docker exec``, which starts with the container's limits. The I/O priority (``ionice``) is put
back too, where the runner knows its system calls (x86-64, arm64).

Each run is forked from the runner into a reaper of its own (the per-run part of
`parley.coding._reaper`'s server): a child subreaper in a new session that runs the command, and
when it exits stops and kills every descendant, however it detached, before it reports the exit
status (``128 + N`` when signal N ended the command). With ``keep`` the reaper reports as soon as
the command exits and keeps its background processes until they end, the runner drops them, or
the runner goes. The runner is a subreaper too: a reaper killed by its own code leaves its orphans
to the runner, which ends them. So several runs may go at once (slots), each contained on its own,
with no container-wide kill.

A ``fork`` run goes to a *template* instead: a ``python3`` started once per environment, that has
done its start-up and serves runs as `parley.coding._warm_python` describes (the runner sends it
the two sources over a socket, since neither is on disk in the container). The template forks
the run's reaper, which forks the block from the warm interpreter instead of starting a new one,
with the semantics of a fresh ``python3 FILE``. The run's reaper is the template's child, not the
runner's: the runner learns its pid from the status pipe (``pid N``, waited for at once), counts
the run lost when that pipe ends without an exit status, and then ends what the dead reaper left
(the template does too: it is a subreaper). A template that cannot start or answer is given up
after `_START_S`, its run started the plain way; after two such failures the runner stops trying.
No template starts while start-up would run a file that blocks may have written (a ``.pth`` in
the user's site-packages, a ``sitecustomize``; see `parley.coding._runner_guard`): each run is then started
plainly, and runs them under its own reaper, as a fresh ``python3`` does.
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
_START_S = 10.0
"""Seconds a template may take to start and say a run's reaper pid (normally an interpreter start, then a fork)."""
_MAX_WARM = 4
"""The most templates alive at once (one per environment; slots share one)."""


def _warm_request(request: dict[str, Any]) -> bytes:
    """A fork run's request as a template reads it (see `parley.coding._reaper`).

    It has no environment, since the template was started with the run's, and is in `marshal`
    format 4, which any Python since 3.4 reads and whose decoding costs the forked reaper fewer
    page writes than JSON's.
    """
    import marshal

    return marshal.dumps({"argv": request["argv"], "cwd": request["cwd"], "keep": request["keep"]}, 4)


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
        self.template = 0  # the pid of the template whose child the reaper is (0: the runner's own child)


class _Warm:
    """A template (see the module docstring): its pid and this side of its socket."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.sock = sock


class _Runner:
    """The runner's state and its loop; see the module docstring."""

    def __init__(self, reaper: Any, guard: Any, warm: Any = None) -> None:
        self.reaper = reaper
        self.warm = warm  # the `_warm_python` module, with both sources (None: no fork runs)
        self.templates: dict[Any, _Warm] = {}
        self.warm_failures = 0
        self.socket: Any = None  # the `socket` module, imported at the first fork run
        self.signal = reaper._signals()
        self.runs: dict[int, _Run] = {}  # running, or ended and not yet reported
        self.kept: dict[int, _Run] = {}  # reported, whose reaper keeps background processes
        self.requests = b""
        self.stdin_open = True
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.wake_r, self.wake_w = os.pipe()
        self.next_check = 0.0
        self.guard = guard
        self.inherited = guard.Inherited()

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
        self.reaper._set_dumpable(False)  # blocks run as our user: keep our pipes and memory from them
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
            self.continue_stopped()
        self.end_all()
        return 0

    def continue_stopped(self) -> None:
        """Continue (SIGCONT) the templates and runs' reapers a block stopped; at most once per `_POLL_S`.

        Blocks run as the same user, so one may SIGSTOP them: a stopped reaper never reports its
        run's end, and a stopped template never starts a run nor reaps a killed reaper.
        """
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + _POLL_S
        for template in self.templates.values():
            _continue_if_stopped(template.pid, os.getpid(), self.signal.SIGCONT)
        for run in self.runs.values():
            if not run.reaped:
                _continue_if_stopped(run.pid, run.template or os.getpid(), self.signal.SIGCONT)

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
                    if not run.template or self.parent_of(run.pid) in (run.template, os.getpid()):
                        self.kill_tree(run.pid)  # a fork run's reaper may have ended, and its pid be reused
                    self.close_control(run)
                    del self.kept[run.id]
            self.frame(request["id"], b"d")

    # --- runs -------------------------------------------------------------------------------------

    def held_fds(self) -> list[int]:
        fds = [self.wake_r, self.wake_w] + [template.sock.fileno() for template in self.templates.values()]
        for run in (*self.runs.values(), *self.kept.values()):
            fds += [fd for fd in (run.output, run.status, run.control) if fd is not None]
        return fds

    def start(self, request: dict[str, Any]) -> None:
        run_id = request["id"]
        tainted = self.inherited.check()
        if tainted:  # every fork would inherit what a block set: the host replaces this runner
            self.frame(run_id, b"x", f"126 tainted {tainted}".encode())
            return
        keep, tag = bool(request.get("keep")), request.get("tag")
        env = dict(os.environ)
        env.update(request.get("env") or {})
        fork = bool(request.get("fork"))
        request = {"argv": request["argv"], "cwd": request["cwd"], "env": env, "keep": keep}
        if fork and self.start_warm(run_id, request, tag):
            return
        fds: list[int] = []
        try:
            for _ in range(3 if keep else 2):
                fds += os.pipe()
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            why = exc.strerror or exc
            hint = " (the container's pids limit may be full)" if isinstance(exc, BlockingIOError) else ""
            message = f"The runner could not start the block: {why}{hint}.\n"
            self.frame(run_id, b"o", message.encode())
            self.frame(run_id, b"x", b"126 exit")
            return
        output_r, output_w, status_r, status_w, *control = fds
        control_r, control_w = control if keep else (None, None)
        theirs = [output_w, status_w] + ([control_r] if control_r is not None else [])
        if pid == 0:  # the run's reaper
            code = 0
            try:
                for held in (*self.held_fds(), output_r, status_r, control_w, self.devnull):
                    if held is not None:
                        os.close(held)
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

    # --- fork runs: templates -----------------------------------------------------------------------

    def start_warm(self, run_id: int, request: dict[str, Any], tag: Any) -> bool:
        """Start ``request`` (``[python3, FILE]``) on a template; False when none serves it (start it plainly)."""
        argv = request["argv"]
        if self.warm is None or len(argv) != 2 or self.warm_failures >= 2 or not self.warm.can_serve(request["env"]):
            return False
        for _ in (1, 2):  # a template that died since its last run is started again once
            template = self.template(argv[0], request["env"])
            if template is None:
                return False
            fds: list[int] = []
            try:
                for _ in range(3 if request["keep"] else 2):
                    fds += os.pipe()
            except OSError:  # out of file descriptors: the plain way says so
                for fd in fds:
                    os.close(fd)
                return False
            output_r, output_w, status_r, status_w, *control = fds
            control_r, control_w = control if request["keep"] else (None, None)
            theirs = [output_w, status_w] + ([control_r] if control_r is not None else [])
            try:
                os.kill(template.pid, self.signal.SIGCONT)  # a block may have stopped it (same user)
                self.socket.send_fds(template.sock, [_warm_request(request)], theirs)
            except OSError:
                pid = None
                sent = False
            else:
                sent = True
            for fd in theirs:  # before the wait: a template that ends unanswered (it retired) closes the pipe
                os.close(fd)
            if sent:
                pid = self.reaper_pid(status_r, template.pid)
            if pid is not None:
                os.set_blocking(output_r, False)
                run = _Run(run_id, pid, output_r, status_r, control_w, tag)
                run.template = template.pid
                self.runs[run_id] = run
                self.frame(run_id, b"s")
                self.warm_failures = 0
                return True
            for ours in (output_r, status_r, control_w):
                if ours is not None:
                    os.close(ours)
            self.end_template(template)
            if sent:  # it took the request and never answered: it cannot serve
                self.warm_failures += 1
                return False
        return False

    def template(self, python: str, env: dict[str, str]) -> _Warm | None:
        """The live template for ``python`` and ``env``, started if there is none (None: it cannot start)."""
        key = (python, tuple(sorted(env.items())))
        template = self.templates.get(key)
        if template is not None:
            return template
        if self.guard.startup_hooks(
            env
        ):  # the template would run them outside any run: runs start plainly, each running them
            return None
        if len(self.templates) >= _MAX_WARM:
            busy = {run.template for run in (*self.runs.values(), *self.kept.values())}
            idle = [t for t in self.templates.values() if t.pid not in busy]
            if not idle:
                return None
            self.end_template(idle[0])
        try:
            import socket  # only for fork runs: it costs the runner's start several ms

            self.socket = socket
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except (ImportError, OSError, AttributeError):
            return None
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            theirs.set_inheritable(True)
            argv = [python, "-c", self.warm.bootstrap(received=True), str(theirs.fileno())]
            pid = self.reaper._spawn(argv, null, env)
        finally:
            os.close(null)
            theirs.close()
        if pid is None:
            ours.close()
            return None
        template = _Warm(pid, ours)
        self.templates[key] = template
        try:
            ours.settimeout(_START_S)
            for source in (self.reaper.__parley_source__, self.warm.__parley_source__):
                ours.send(source)
        except OSError:
            self.end_template(template)
            return None
        return template

    def reaper_pid(self, status: int, template: int) -> int | None:
        """Read a fork run's first status line (``pid N``), waiting at most `_START_S`; None when it does not come.

        A block may stop ``template`` again after the SIGCONT sent with the request: it is
        continued every `_POLL_S` of the wait.
        """
        line = b""
        deadline = time.monotonic() + _START_S
        while not line.endswith(b"\n"):  # a byte at a time: what follows is the run's, read in the loop
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not select.select([status], [], [], min(left, _POLL_S))[0]:
                _continue_if_stopped(template, os.getpid(), self.signal.SIGCONT)
                continue
            byte = os.read(status, 1)
            if not byte:
                return None
            line += byte
        words = line.split()
        return int(words[1]) if len(words) == 2 and words[0] == b"pid" and words[1].isdigit() else None

    def end_template(self, template: _Warm) -> None:
        """Close ``template``'s socket and end it with everything below it; forget it."""
        for key, value in list(self.templates.items()):
            if value is template:
                del self.templates[key]
        template.sock.close()
        self.kill_tree(template.pid)

    def end_warm_orphans(self, run: _Run) -> None:
        """A fork run's reaper died: end what it left (below it still, or already passed to its template)."""
        children = self.reaper._children_map()
        live = {other.pid for other in (*self.runs.values(), *self.kept.values()) if other is not run}
        roots = set(children.get(run.pid, ()))
        if any(template.pid == run.template for template in self.templates.values()):  # else: gone, pid reusable
            roots |= {child for child in children.get(run.template, ()) if child not in live}
        for root in roots:
            self.kill_tree(root)

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
            if run.template and run.code is None:  # a fork run's reaper died before it reported
                run.code, run.ended_at, run.reaped = 128 + 9, time.monotonic(), True
                if run.how != "killed":
                    run.how = "lost"
                self.end_warm_orphans(run)
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
                for template in list(self.templates.values()):
                    if template.pid == pid:  # its runs' reapers notice, and end theirs
                        self.end_template(template)
                        break
                else:  # an orphan: what it forked before it ended came to us too (it may fork and exit to outrun us)
                    lost = True
                continue
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
        """Stop ``root`` and every descendant (until no new one appears), then kill them all.

        As `parley.coding._reaper` ends a run's processes: pass after pass, and by process group
        too, for a process that forks and exits over and over to outrun the passes.
        """
        descendants = self.reaper._descendants
        self.reaper._stop_then_kill(lambda children: {root} | descendants(root, children))

    def end_orphans(self) -> None:
        """End what killed reapers left to the runner: every descendant not below a live run's reaper or a template.

        Pass after pass (see `kill_tree`): an orphan that forks and exits has a new pid, also an
        orphan of the runner, by the time a pass signals the one it listed.
        """
        descendants = self.reaper._descendants
        live = {run.pid for run in (*self.runs.values(), *self.kept.values()) if not run.reaped}
        live |= {template.pid for template in self.templates.values()}

        def orphans(children: dict[int, list[int]]) -> set[int]:
            found: set[int] = descendants(os.getpid(), children)
            for pid in live:
                found -= {pid} | descendants(pid, children)
            return found

        self.reaper._stop_then_kill(orphans)

    @staticmethod
    def parent_of(pid: int) -> int:
        """``pid``'s parent pid (0 when it is gone)."""
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                return int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return 0

    def close_control(self, run: _Run) -> None:
        if run.control is not None:
            os.close(run.control)
            run.control = None

    def end_all(self) -> None:
        """End every run and kept process (the host is gone)."""
        for run in (*self.runs.values(), *self.kept.values()):
            if not run.reaped:
                self.kill_tree(run.pid)
        for template in list(self.templates.values()):
            self.end_template(template)
        self.end_orphans()
        self.kept.clear()


def _continue_if_stopped(pid: int, parent: int, sigcont: int) -> None:
    """Send SIGCONT to ``pid`` when it is stopped and still ``parent``'s child (else its pid may be another's)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        if fields[0] == b"T" and int(fields[1]) == parent:
            os.kill(pid, sigcont)
    except (OSError, IndexError, ValueError):
        pass


def main() -> int:
    """Serve requests on stdin until end of file; return 0.

    `_reaper` and `_runner_guard` must be in ``sys.modules``; with `_warm_python` there too (each module with its
    source as ``__parley_source__``), fork runs go to templates.
    """
    return _Runner(sys.modules["_reaper"], sys.modules["_runner_guard"], sys.modules.get("_warm_python")).serve()


if __name__ == "__parley_runner__":
    sys.exit(main())
