"""`execute_code`: AutoGen 0.2's one-call way to run a piece of code or a file (``autogen.code_utils``).

It is a thin shell over parley's executors, so a call gets their containment, timeout, output
budget and environment rule: the code (when given) is written to its file in ``work_dir``, and
a one-line shell block runs that file with the language's interpreter, in a
`LocalCommandLineCodeExecutor` or, when Docker is chosen, a `DockerCommandLineCodeExecutor` with
``work_dir`` mounted. The executor is closed before the call returns.

Where parley differs from AutoGen 0.2:

- Docker is used only when asked for (``use_docker=True``, an image, or
  ``AUTOGEN_USE_DOCKER``); see `parley.coding.docker_checks.decide_use_docker`.
- ``work_dir`` defaults to the current directory (0.2: a folder inside the installed package).
- The output is stdout and stderr together, in order (0.2 returned stdout on success and stderr
  on failure), cut to the executors' budget.
- A timeout kills the whole process tree and gives exit code 124 (0.2: 1), with 0.2's
  `TIMEOUT_MSG` as the output.
- The image returned is the one the code ran in; no image is committed after each run.
- Inside a container, Docker is still used when asked for and a daemon answers (0.2 always ran
  the code in the container itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from parley._sync import run_sync
from parley.coding._files import default_filename, resolve_in_work_dir, write_file_in
from parley.coding.base import CodeBlock, CommandLineCodeResult
from parley.coding.docker_checks import (
    check_can_use_docker_or_throw,
    decide_use_docker,
    in_docker_container,
    is_docker_running,
)
from parley.coding.utils import normalize_lang
from parley.exceptions import ConfigError

__all__ = ["DEFAULT_TIMEOUT", "SENTINEL", "TIMEOUT_MSG", "a_execute_code", "execute_code"]

SENTINEL: object = object()
"""The default of ``use_docker``: decide by ``AUTOGEN_USE_DOCKER`` (see `decide_use_docker`)."""

DEFAULT_TIMEOUT = 600
"""Seconds a call may run when ``timeout`` is not given (AutoGen 0.2's figure)."""

TIMEOUT_MSG = "Timeout"
"""The output of a call that timed out (AutoGen 0.2's marker)."""

_LOCAL = {"sh": "sh", "shell": "sh", "bash": "bash", "pwsh": "pwsh"}
_DOCKER_IMAGE = "python:3-slim"


async def a_execute_code(
    code: str | None = None,
    timeout: float | None = None,
    filename: str | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    use_docker: bool | str | Sequence[str] | object | None = SENTINEL,
    lang: str = "python",
) -> tuple[int, str, str | None]:
    """Run ``code``, or the file ``filename``, and return AutoGen 0.2's ``(exit_code, logs, image)``.

    Args:
        code: the source to run. When ``filename`` is given too, the code is saved there (and
            kept); otherwise it goes to a ``tmp_code_<random hex>`` file that is removed after.
        timeout: seconds the run may take. Default `DEFAULT_TIMEOUT` (600).
        filename: the file to run, relative to ``work_dir`` (it must stay inside it).
        work_dir: the directory the code is saved and run in. Default: the current directory.
        use_docker: True for Docker with the ``python:3-slim`` image, an image name (or a list,
            whose first name is used), False or None to run locally. Default: what
            ``AUTOGEN_USE_DOCKER`` says (unset: locally). Inside a container, code runs locally
            when no Docker daemon answers there (AutoGen 0.2 always ran it locally there).
        lang: ``python`` (default), ``sh``/``shell``, ``bash``, or ``pwsh`` (locally).

    Returns:
        The exit code (124 on a timeout), the output (stdout and stderr as written; `TIMEOUT_MSG`
        on a timeout), and the image the code ran in (None when local).

    Raises:
        AssertionError: neither ``code`` nor ``filename`` was given (as AutoGen 0.2 raised).
        ConfigError: ``filename`` leaves ``work_dir``, or ``lang`` cannot run where it is to run.
        DockerNotRunningError: Docker was asked for and no daemon answers (a `RuntimeError`).
        ValueError: ``use_docker`` was left to ``AUTOGEN_USE_DOCKER``, which holds a bad value.
    """
    if code is None and filename is None:
        raise AssertionError("execute_code needs code= (the source to run) or filename= (a file to run).")
    choice = decide_use_docker(None) if use_docker is SENTINEL else use_docker
    await asyncio.to_thread(check_can_use_docker_or_throw, choice)
    local = not choice or (in_docker_container() and not await asyncio.to_thread(is_docker_running))
    image = None if local else _image(choice)
    language = normalize_lang(lang)
    interpreter = _interpreter(language, image)
    work, relative, temporary = await asyncio.to_thread(_save, code, filename, work_dir, language)
    written = [work / relative] if temporary else []
    try:
        runner = CodeBlock(f"exec {interpreter} {shlex.quote(relative.as_posix())}", "sh")
        result = await _run(runner, work, float(timeout or DEFAULT_TIMEOUT), image)
        if result.code_file is not None:
            written.append(Path(result.code_file))
    finally:
        await asyncio.to_thread(_remove, written)
    if result.timed_out:
        return result.exit_code, TIMEOUT_MSG, image
    return result.exit_code, result.output, image


def execute_code(
    code: str | None = None,
    timeout: float | None = None,
    filename: str | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    use_docker: bool | str | Sequence[str] | object | None = SENTINEL,
    lang: str = "python",
) -> tuple[int, str, str | None]:
    """Run code or a file and return ``(exit_code, logs, image)``; the sync form of `a_execute_code`."""
    return run_sync(a_execute_code(code, timeout, filename, work_dir, use_docker, lang))


def _save(
    code: str | None, filename: str | None, work_dir: str | os.PathLike[str] | None, language: str
) -> tuple[Path, Path, bool]:
    """Save ``code`` (if any) in ``work_dir``.

    Returns:
        The directory, the file's path relative to it, and whether the file is a temporary one
        to remove after the run.

    Raises:
        ConfigError: ``filename`` leaves ``work_dir``.
    """
    work = Path(os.path.abspath(work_dir if work_dir is not None else os.curdir))
    name = filename if filename is not None else default_filename(language)
    target = resolve_in_work_dir(work, name)
    if target is None:
        raise ConfigError(f"filename {name!r} must name a file inside work_dir {work}.", key="filename")
    relative = target.relative_to(work.resolve())
    if code is not None:
        work.mkdir(parents=True, exist_ok=True)
        write_file_in(work, relative, code.encode("utf-8"))
    return work, relative, code is not None and filename is None


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _image(choice: object) -> str:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, Sequence) and choice and isinstance(choice[0], str):
        return choice[0]
    return _DOCKER_IMAGE


def _interpreter(language: str, image: str | None) -> str:
    if language == "python":
        return "python3" if image is not None else shlex.quote(sys.executable)
    if language in _LOCAL and (image is None or language != "pwsh"):
        return _LOCAL[language]
    where = "in Docker" if image is not None else "here"
    runs = "python, sh, bash" + ("" if image is not None else ", pwsh")
    raise ConfigError(f"execute_code cannot run {language!r} code {where}; lang may be: {runs}.", key="lang")


async def _run(block: CodeBlock, work: Path, timeout: float, image: str | None) -> CommandLineCodeResult:
    from parley.coding.docker_commandline_code_executor import DockerCommandLineCodeExecutor
    from parley.coding.local_commandline_code_executor import LocalCommandLineCodeExecutor

    executor: LocalCommandLineCodeExecutor | DockerCommandLineCodeExecutor
    if image is None:
        executor = LocalCommandLineCodeExecutor(timeout=timeout, work_dir=work, approve=None)
    else:
        executor = DockerCommandLineCodeExecutor(image=image, timeout=timeout, work_dir=work)
    async with executor:
        return await executor.a_execute_code_blocks([block])
