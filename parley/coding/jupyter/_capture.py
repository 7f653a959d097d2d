"""Inside the user's own IPython: copy a cell's outputs to a collector while they still render.

`capture` wraps, for the duration of one run, the four places an IPython cell's output leaves
through, calling the original each time (so the notebook shows everything as usual) and handing
a copy to an `OutputCollector`:

- ``sys.stdout`` and ``sys.stderr`` (printed text, and shell blocks' output);
- the display hook's ``write_format_data`` (the value of the last expression);
- the display publisher's ``publish`` (``display(...)``, matplotlib figures);
- the shell's ``_showtraceback`` (errors, as the structured traceback IPython shows).

While it runs, every display format the shell knows is computed, not only those its front end
shows: a terminal IPython shows ``text/plain`` only, where a ``Markdown`` display is
``<IPython.core.display.Markdown object>``, but the model should read its Markdown. The front
end still shows what it always does.

`Deadline` stops a run that takes too long by raising ``KeyboardInterrupt`` in the thread that
runs it, as Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TextIO

from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._messages import KernelDisplay, KernelError, KernelText, strip_ansi

__all__ = ["Deadline", "capture"]


class _Tee:
    """A text stream that writes through to ``target`` and copies the text to ``sink``."""

    def __init__(self, target: TextIO, name: str, sink: Callable[[KernelText], None]) -> None:
        self._target = target
        self._name = name
        self._sink = sink
        self.paused = False

    def write(self, text: str) -> int:
        written = self._target.write(text)
        if not self.paused and text:
            self._sink(KernelText(text, self._name))
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@contextlib.contextmanager
def _patched(obj: Any, name: str, replacement: Any) -> Iterator[None]:
    """Set ``obj.name`` on the instance for the duration, then restore what was there."""
    had_own = name in vars(obj)
    previous = vars(obj).get(name)
    setattr(obj, name, replacement)
    try:
        yield
    finally:
        if had_own:
            setattr(obj, name, previous)
        else:
            with contextlib.suppress(AttributeError):
                delattr(obj, name)


class _Copier:
    """Hands outputs to the collector; a failing collector (disk full) is remembered, not raised."""

    def __init__(self, collector: OutputCollector) -> None:
        self._collector = collector
        self.failure: OSError | None = None

    def __call__(self, item: KernelText | KernelDisplay | KernelError) -> None:
        if self.failure is not None:
            return
        try:
            self._collector.add(item)
        except OSError as exc:
            self.failure = exc


@contextlib.contextmanager
def capture(shell: Any, collector: OutputCollector) -> Iterator[_Copier]:
    """Copy everything a run in ``shell`` outputs to ``collector`` while it still renders.

    Args:
        shell: the running ``IPython.core.interactiveshell.InteractiveShell``.
        collector: where the copies go.

    Yields:
        The copier; its ``failure`` holds an OSError the collector raised (the spill file could
        not be written), for the caller to raise after the run.
    """
    import sys

    copy = _Copier(collector)
    tees = [_Tee(sys.stdout, "stdout", copy), _Tee(sys.stderr, "stderr", copy)]

    def quietly(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            for tee in tees:  # a terminal shell prints these itself; they are copied once, here
                tee.paused = True
            try:
                return original(*args, **kwargs)
            finally:
                for tee in tees:
                    tee.paused = False

        return call

    def write_format_data(format_dict: Any, md_dict: Any = None) -> None:
        quietly(original_write)(format_dict, md_dict)
        copy(KernelDisplay(dict(format_dict)))

    def publish(data: Any = None, *args: Any, **kwargs: Any) -> None:
        quietly(original_publish)(data, *args, **kwargs)
        if data:
            copy(KernelDisplay(dict(data)))

    def showtraceback(etype: Any, evalue: Any, stb: Any) -> None:
        quietly(original_showtraceback)(etype, evalue, stb)
        name = getattr(etype, "__name__", str(etype))
        copy(KernelError(name, str(evalue), strip_ansi("\n".join(str(line) for line in stb))))

    hook, pub = shell.displayhook, shell.display_pub
    original_write, original_publish = hook.write_format_data, pub.publish
    original_showtraceback = shell._showtraceback
    saved_result = getattr(hook, "exec_result", None)
    saved_streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = tees
    try:
        with (
            _every_format(shell),
            _patched(hook, "write_format_data", write_format_data),
            _patched(pub, "publish", publish),
            _patched(shell, "_showtraceback", showtraceback),
        ):
            yield copy
    finally:
        sys.stdout, sys.stderr = saved_streams
        hook.exec_result = saved_result  # a nested run_cell resets it; the user's cell needs it


@contextlib.contextmanager
def _every_format(shell: Any) -> Iterator[None]:
    """Have the shell's display formatter compute every MIME type it has a formatter for."""
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        yield
        return
    saved = list(formatter.active_types)  # a traitlets list: set and restored by value
    formatter.active_types = list(formatter.format_types)
    try:
        yield
    finally:
        formatter.active_types = saved


def _raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Schedule ``exc_type`` in the thread (None clears a pending one); CPython's own mechanism."""
    exc = ctypes.py_object(exc_type) if exc_type is not None else None  # None is passed as NULL
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), exc)


class Deadline:
    """Raise ``KeyboardInterrupt`` in the entering thread if the block has not ended in ``seconds``.

    In the main thread, with Python's default SIGINT handler installed (a notebook cell run by
    ipykernel), the interrupt is a real SIGINT, which also ends blocking calls such as
    ``time.sleep``. Elsewhere (the background thread of parley's sync API, a cell with top-level
    ``await``) it is an asynchronous exception (``PyThreadState_SetAsyncExc``), which Python
    raises at the thread's next bytecode: a call blocked in C ends only when that call returns.

    When the interrupt was sent, ``fired`` is True. The caller must catch ``KeyboardInterrupt``
    around the ``with`` block: the interrupt may surface as the block ends.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._thread_id = threading.get_ident()
        self._done = False
        self._use_signal = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self.fired = False

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._use_signal:
                signal.pthread_kill(self._thread_id, signal.SIGINT)
            else:
                _raise_in_thread(self._thread_id, KeyboardInterrupt)

    def __enter__(self) -> Deadline:
        self._thread_id = threading.get_ident()
        self._use_signal = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            with self._lock:
                self._done = True
                if self.fired and not self._use_signal:
                    _raise_in_thread(self._thread_id, None)  # drop it if it is still pending
        finally:
            self._timer.cancel()
