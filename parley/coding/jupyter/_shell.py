"""Shell blocks in a kernel: run as a subprocess from Python, not with IPython's ``!cmd``.

IPython's ``!cmd`` costs at least 100 ms a call (pexpect sleeps 0.1 s when it closes the pty,
see DESIGN.md); a plain subprocess started from the kernel costs a few milliseconds. The helper
below is Python *source*, because the embedded executor sends it to a kernel whose interpreter
need not have parley installed; the notebook executor runs the same source in-process.

The helper runs the script with ``<shell> -c <code>`` in a new session (so the whole tree can be
killed), stdin closed, stdout and stderr merged and copied to ``sys.stdout`` as they arrive. When
it is interrupted (the kernel's interrupt, a timeout) it kills the tree and re-raises. It returns
the exit code, ``128 + N`` when signal N ended the script.

A kernel executor sends the helper's definition once per kernel (`shell_cell`), then only the
call (`shell_call`): a cell's size costs every block (the kernel parses it, and sends it back on
IOPub), and the definition is ten times the call. When the helper is gone (a ``%reset``, a
``del``), the call fails with a ``NameError`` that `is_missing_helper` recognises before anything
ran, and the executor sends the whole cell instead.
"""

from __future__ import annotations

__all__ = [
    "EXIT_ERROR_NAME",
    "HELPER_NAME",
    "SHELL_HELPER_SOURCE",
    "helper_cell",
    "is_missing_helper",
    "shell_call",
    "shell_cell",
]

HELPER_NAME = "__parley_shell"
"""The helper's name in the kernel's namespace."""

EXIT_ERROR_NAME = "__ParleyShellExit"
"""The exception a shell cell raises when the script exits non-zero; its value is the exit code.

Reporting the code through the error message costs nothing when the script succeeds; asking for
it as a ``user_expressions`` value would cost every block about half a millisecond (the kernel
runs every display formatter on it).
"""

SHELL_HELPER_SOURCE = f"""\
class {EXIT_ERROR_NAME}(Exception):
    pass


def {HELPER_NAME}(code, shell, raise_on_error=False, proc=None, flush=True):
    import codecs, os, select, signal, subprocess, sys
    if proc is None:
        proc = subprocess.Popen([shell, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    fd = proc.stdout.fileno()
    try:
        while True:
            # A short select timeout lets an asynchronous exception (a timeout raised in this
            # thread by the notebook executor) arrive while the script is quiet.
            if select.select([fd], [], [], 0.25)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                sys.stdout.write(decoder.decode(chunk))
        proc.wait()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        raise
    finally:
        proc.stdout.close()
        sys.stdout.write(decoder.decode(b"", True))
        if flush:
            sys.stdout.flush()
    rc = 128 - proc.returncode if proc.returncode < 0 else proc.returncode
    if not raise_on_error:
        return rc
    if rc:
        raise {EXIT_ERROR_NAME}(rc)
"""
"""Python source defining ``__parley_shell(code, shell, raise_on_error=False, proc=None, flush=True)``.

It returns the exit code; with ``raise_on_error`` it returns None (so a cell shows no value) or
raises `EXIT_ERROR_NAME`. ``proc`` is a ``subprocess.Popen`` already running the script, in a
session of its own, with its output on a pipe (see `parley.coding.jupyter._shell_comm`); by
default the helper starts ``<shell> -c <code>`` itself. Without ``flush`` it leaves the output in
``sys.stdout``'s buffer for its caller to flush: ipykernel's flush waits for its IOPub thread, and
the kernel flushes once more after each request anyway.
"""


def helper_cell(name: str, source: str, call: str) -> str:
    """Return a cell that defines the helper ``name`` by running ``source`` if it is missing, then runs ``call``.

    The helper is defined on first use, and again after a restart or ``%reset``; the kernel
    needs nothing from parley installed.
    """
    return f"try:\n    {name}\nexcept NameError:\n    exec({source!r})\n{call}\n"


def shell_cell(code: str, shell: str) -> str:
    """Return the cell source that runs ``code`` with ``shell`` in a kernel.

    The cell defines the helper on first use (and again after a restart or ``%reset``). When
    the script exits non-zero, the cell raises `EXIT_ERROR_NAME` with the exit code as its value.

    Args:
        code: the shell script.
        shell: the interpreter, ``"bash"`` or ``"sh"``.
    """
    return helper_cell(HELPER_NAME, SHELL_HELPER_SOURCE, _call(code, shell))


def shell_call(code: str, shell: str) -> str:
    """Return the cell that runs ``code`` with ``shell`` through a helper `shell_cell` defined earlier.

    It behaves as `shell_cell` does when the helper is defined; when it is not, the cell raises
    a ``NameError`` (see `is_missing_helper`) before anything runs.

    Args:
        code: the shell script.
        shell: the interpreter, ``"bash"`` or ``"sh"``.
    """
    return _call(code, shell) + "\n"


def is_missing_helper(ename: str, evalue: str) -> bool:
    """Whether a kernel error (its name and value) says a `shell_call` cell found no helper to call."""
    return ename == "NameError" and evalue.startswith(f"name '{HELPER_NAME}' is not defined")


def _call(code: str, shell: str) -> str:
    return f"{HELPER_NAME}({code!r}, {shell!r}, True)"
