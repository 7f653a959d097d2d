"""The kernel-side output budget as logic, no kernel: the limit's source run here on scripted streams.

`LIMIT_SOURCE` is the Python the kernel executors install in each kernel; here it runs in this
process, writing to stand-in stream objects, so each rule is checked character by character.
The reply report and the "output was lost" check run on scripted Jupyter messages.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from parley.coding._output import OutputBudget
from parley.coding.jupyter._cell import run_cell
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._limit import LIMIT_SOURCE, OutputReport, lost_output_note

CELL = "cell-1"


class Stream:
    """A stand-in for ipykernel's OutStream: a plain Python class whose writes are recorded."""

    def __init__(self, name: str, sink: list[tuple[str, str]]) -> None:
        self.name = name
        self.sink = sink
        self.parent_header = {"msg_id": CELL}

    def write(self, text: str) -> int:
        self.sink.append((self.name, text))
        return len(text)


class Payloads:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def write_payload(self, payload: dict[str, Any]) -> None:
        self.written.append(payload)


class Events:
    def __init__(self) -> None:
        self.callbacks: dict[str, list[Any]] = {}

    def register(self, event: str, callback: Any) -> None:
        self.callbacks.setdefault(event, []).append(callback)

    def trigger(self, event: str) -> None:
        for callback in self.callbacks.get(event, []):
            callback(None)


class Shell:
    def __init__(self) -> None:
        self.payload_manager = Payloads()
        self.events = Events()
        self.shown: list[str] = []

    def _showtraceback(self, etype: Any, value: Any, stb: list[str]) -> None:
        self.shown.append("\n".join(stb))


class Kernel:
    """The limit installed on two stand-in streams, as in a kernel, with the cell hooks to drive it."""

    def __init__(self, budget: int, max_saved: int = 1 << 30) -> None:
        self.sink: list[tuple[str, str]] = []
        self.stdout, self.stderr = Stream("stdout", self.sink), Stream("stderr", self.sink)
        self.shell = Shell()
        namespace: dict[str, Any] = {"get_ipython": lambda: self.shell}
        exec(LIMIT_SOURCE, namespace)
        with contextlib.redirect_stdout(self.stdout), contextlib.redirect_stderr(self.stderr):  # type: ignore[type-var]
            namespace["install"](budget, max_saved, "")
        assert self.shell.payload_manager.written.pop() == {"source": "parley.setup", "limited": True, "why": ""}

    def cell(self, *writes: tuple[Stream, str]) -> dict[str, Any]:
        """Run one cell of ``writes``; return its report."""
        self.shell.events.trigger("pre_run_cell")
        for stream, text in writes:
            stream.write(text)
        self.shell.events.trigger("post_run_cell")
        [report] = self.shell.payload_manager.written
        self.shell.payload_manager.written.clear()
        return report

    @property
    def sent(self) -> str:
        return "".join(text for _, text in self.sink)

    @property
    def by_stream(self) -> list[tuple[str, str]]:
        """What was sent, consecutive writes to one stream joined."""
        joined: list[tuple[str, str]] = []
        for name, text in self.sink:
            if joined and joined[-1][0] == name:
                joined[-1] = (name, joined[-1][1] + text)
            else:
                joined.append((name, text))
        return joined


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the limit saves beside the kernel: in its starting directory


def test_output_within_the_budget_is_sent_whole_in_order_and_nothing_is_saved(tmp_path: Path) -> None:
    kernel = Kernel(budget=100)
    report = kernel.cell((kernel.stdout, "a" * 40), (kernel.stderr, "b" * 40), (kernel.stdout, "c" * 20))
    assert kernel.by_stream == [("stdout", "a" * 40), ("stderr", "b" * 40), ("stdout", "c" * 20)]
    assert report == {
        "source": "parley.output",
        "sent": 100,
        "total": 100,
        "saved": None,
        "saved_bytes": 0,
        "saved_cut": False,
    }
    assert list(tmp_path.iterdir()) == []


def test_output_over_the_budget_sends_head_marker_and_tail_within_it_and_saves_it_all(tmp_path: Path) -> None:
    kernel = Kernel(budget=2_000)
    lines = [f"line {i}\n" for i in range(10_000)]
    report = kernel.cell(*((kernel.stdout, line) for line in lines))
    sent = kernel.sent
    assert len(sent) <= 2_000
    assert sent.startswith("line 0\nline 1\n")
    assert sent.endswith("line 9998\nline 9999\n")
    [saved] = tmp_path.iterdir()
    assert saved.read_text() == "".join(lines)
    assert f"over the budget of 2,000. The full output is in {saved} ...]\n" in sent
    assert report["saved"] == str(saved)
    assert (report["sent"], report["total"]) == (len(sent), len("".join(lines)))
    assert report["saved_bytes"] == saved.stat().st_size
    head, tail = sent.split("...]\n")
    cut = int(head.rsplit("[... ", 1)[1].split(" characters cut")[0].replace(",", ""))
    assert len(head.rsplit("\n[... ", 1)[0]) + cut + len(tail) == report["total"]


def test_one_huge_write_keeps_its_own_head() -> None:
    kernel = Kernel(budget=1_000)
    kernel.cell((kernel.stdout, "<" + "x" * 100_000 + ">"))
    assert kernel.sent.startswith("<xxx")
    assert kernel.sent.endswith("xxx>")


def test_what_is_held_back_is_sent_before_a_traceback_so_the_order_is_kept() -> None:
    kernel = Kernel(budget=1_000)
    kernel.shell.events.trigger("pre_run_cell")
    kernel.stdout.write("p" * 600)  # past the head: part of it is held back while it may still fit
    kernel.shell._showtraceback(ValueError, ValueError("x"), ["Traceback", "ValueError: x"])
    assert kernel.sent == "p" * 600  # all of it went out before the traceback was shown
    kernel.shell.events.trigger("post_run_cell")
    assert kernel.shell.payload_manager.written[0]["saved"] is None


def test_a_traceback_that_would_not_fit_after_the_output_makes_room_by_cutting_it(tmp_path: Path) -> None:
    kernel = Kernel(budget=1_000)
    kernel.shell.events.trigger("pre_run_cell")
    kernel.stdout.write("q" * 900)
    traceback = ["t" * 300]
    kernel.shell._showtraceback(ValueError, ValueError("x"), traceback)
    sent = kernel.sent
    assert len(sent) + 301 <= 1_000
    assert "characters cut" in sent
    kernel.shell.events.trigger("post_run_cell")
    [saved] = tmp_path.iterdir()
    assert saved.read_text() == "q" * 900


def test_the_saved_copy_stops_at_max_saved_bytes_on_a_character_boundary(tmp_path: Path) -> None:
    kernel = Kernel(budget=1_000, max_saved=1_001)
    report = kernel.cell(*((kernel.stdout, "é" * 100) for _ in range(100)))  # 2 bytes a character
    [saved] = tmp_path.iterdir()
    assert saved.read_bytes() == ("é" * 500).encode()
    assert (report["saved_bytes"], report["saved_cut"]) == (1_000, True)
    assert "The first 1,000 bytes of it are in" in kernel.sent
    assert "(the saved copy stops at max_saved_bytes, 1,001 bytes)" in kernel.sent


def test_output_outside_a_cell_passes_through_and_is_not_counted() -> None:
    kernel = Kernel(budget=10)
    kernel.stdout.write("x" * 50)  # a silent cell, or a thread between cells
    assert kernel.sent == "x" * 50
    report = kernel.cell((kernel.stdout, "ok"))
    assert (report["sent"], report["total"]) == (2, 2)


def test_a_write_for_another_cell_is_not_counted_as_this_cells() -> None:
    kernel = Kernel(budget=100)
    kernel.shell.events.trigger("pre_run_cell")
    kernel.stderr.parent_header = {"msg_id": "an-earlier-cell"}  # a thread that cell started
    kernel.stderr.write("from a thread")
    kernel.stdout.write("mine")
    kernel.shell.events.trigger("post_run_cell")
    [report] = kernel.shell.payload_manager.written
    assert (report["sent"], report["total"]) == (4, 17)


def test_ipython_history_tee_around_a_cell_cannot_unhook_the_budget() -> None:
    """IPython 9 sets ``stream.write`` to its own wrapper around each cell, then sets back what it found."""
    kernel = Kernel(budget=10)
    found = kernel.stdout.write
    seen: list[str] = []

    def tee(text: str) -> int:
        seen.append(text)
        return int(found(text))

    kernel.shell.events.trigger("pre_run_cell")
    kernel.stdout.write = tee  # type: ignore[method-assign]
    kernel.stdout.write("y" * 1_000)
    kernel.stdout.write = found  # type: ignore[method-assign]
    kernel.shell.events.trigger("post_run_cell")
    assert seen == ["y" * 1_000]
    assert len(kernel.sent) < 1_000
    assert "characters cut" in kernel.sent
    unbound = Stream.write.__get__(kernel.stdout)  # what a tee set up before the install saw
    kernel.stdout.write = unbound  # type: ignore[method-assign]
    kernel.sink.clear()
    kernel.shell.payload_manager.written.clear()
    kernel.cell((kernel.stdout, "z" * 1_000))
    assert len(kernel.sent) < 1_000


# --- the report in the reply, and output lost on the way -------------------------------------------


def reply(*payload: Any, status: str = "ok") -> dict[str, Any]:
    return {"parent_header": {"msg_id": "m"}, "content": {"status": status, "payload": list(payload)}}


def test_the_report_is_read_from_the_replys_payload() -> None:
    entry = {"source": "parley.output", "sent": 5, "total": 9, "saved": "/k/output_0123456789abcdef.txt"}
    report = OutputReport.from_reply(reply({"source": "page"}, {**entry, "saved_bytes": 9, "saved_cut": True}))
    assert report == OutputReport(5, 9, "/k/output_0123456789abcdef.txt", 9, True)
    assert OutputReport.from_reply(reply({**entry, "saved_bytes": 9, "saved": "/etc/passwd"})) == OutputReport(
        5, 9, None, 9, False
    )
    assert OutputReport.from_reply(reply({**entry, "saved_bytes": -1})) is None
    assert OutputReport.from_reply(reply({**entry, "sent": True, "saved_bytes": 1})) is None
    assert OutputReport.from_reply(reply()) is None
    assert OutputReport.from_reply(None) is None


def test_the_note_says_how_much_was_lost_and_what_the_server_said() -> None:
    report = OutputReport(10_000, 10_000, None, 0, False)
    assert lost_output_note(report, 10_000, None) is None
    assert lost_output_note(None, 0, None) is None
    note = lost_output_note(report, 2_500, "IOPub data rate exceeded.")
    assert note is not None
    assert note.startswith(
        "Some of this block's output was lost on the way from the kernel: 7,500 of the 10,000 characters the "
        "kernel sent did not arrive (the Jupyter server said: IOPub data rate exceeded.). The output above is "
        "incomplete"
    )
    assert "part of it did not arrive" in (lost_output_note(None, 0, "IOPub message rate exceeded.") or "")


class ScriptedKernel:
    """A `KernelChannel` that plays back IOPub messages and one reply."""

    def __init__(self, iopub: list[dict[str, Any]], shell_reply: dict[str, Any]) -> None:
        self._iopub = iopub
        self._reply = shell_reply

    async def execute(self, code: str, *, silent: bool = False) -> str:
        return "m"

    async def iopub(self, timeout: float) -> dict[str, Any] | None:
        return self._iopub.pop(0) if self._iopub else None

    async def reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        return self._reply

    async def exit_status(self) -> int | None:
        return None

    async def interrupt(self) -> None:
        pass

    def take_lost_connection(self) -> str | None:
        return None


def iopub(msg_type: str, **content: Any) -> dict[str, Any]:
    return {"msg_type": msg_type, "parent_header": {"msg_id": "m"}, "content": content}


async def test_a_missing_stream_message_is_noticed_from_the_kernels_count(tmp_path: Path) -> None:
    messages = [
        iopub("stream", name="stdout", text="first\n"),
        # the kernel's second stream message ("second\n") never arrives: no notice, nothing
        iopub("stream", name="stderr", text="IOPub data rate exceeded.\nThe Jupyter server will temporarily ..."),
        iopub("status", execution_state="idle"),
    ]
    report = {"source": "parley.output", "sent": 13, "total": 13, "saved": None, "saved_bytes": 0, "saved_cut": False}
    with OutputBudget(1_000, tmp_path / "spill.txt") as budget:
        collector = OutputCollector(budget, tmp_path)
        outcome = await run_cell(ScriptedKernel(messages, reply(report)), "print()", collector, timeout=5, shell=False)
        text = budget.finish().text
    assert text == "first\n"  # the server's notice is not shown as the code's output
    assert (outcome.exit_code, outcome.received, outcome.lost_chars) == (0, 6, 7)
    assert outcome.dropped == "IOPub data rate exceeded."
