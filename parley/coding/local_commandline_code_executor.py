"""Run code blocks as scripts on this machine (AutoGen 0.2's ``LocalCommandLineCodeExecutor``).

Each block is saved to a file in ``work_dir`` and run by its interpreter in a fresh process, so
nothing carries over between blocks except files. Where parley differs from AutoGen 0.2:

- Only an explicit ``# filename:`` first line names the file; a name that would land outside
  ``work_dir`` is refused.
- Blocks in languages the executor does not run (JSON, YAML, plain text ...) are refused, never
  run; ``execution_policies`` can make them be saved instead.
- A timeout kills the whole process tree and keeps the output printed so far.
- Output has a budget (``max_output_chars``); the whole output is saved to a file.
- Python runs with this interpreter (``sys.executable``) or the chosen virtual environment's,
  never with whatever ``python`` is first on ``PATH``.
- Python output is unbuffered (``PYTHONUNBUFFERED=1``), so stdout and stderr interleave in the
  order they were written and a killed run keeps everything it printed.
- Python blocks start from a warm interpreter that forks per block (``fork_server=True``, the
  default), with the semantics of a fresh ``python file.py``; see `parley.coding._warm_python`.
- Everything a block starts ends with the block (background processes, ``setsid`` daemons and
  double forks included), unless ``keep_background=True`` keeps them until `close` or
  `restart`; see `parley.coding._reaper`.
- Environment variables that look like secrets are not passed to the code (``env=`` and
  ``env_allowlist=`` pass what you choose); see `parley.coding._env`.
- An approval step runs before each call; by default it refuses AutoGen 0.2's destructive shell
  commands (`parley.coding.approval.DangerousCommandGuard`) with a result, not an exception.
- ``functions=`` offers user functions to the code, as AutoGen 0.2 does: they are written to a
  module in ``work_dir`` with their packages installed before the first block (see
  `parley.coding.func_with_reqs`); the model learns of them through `user_capability`.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

from parley._logging import get_logger
from parley._sync import run_sync
from parley.coding._batch import create_work_dir, open_batch
from parley.coding._blocks import NotRun, prepare_script
from parley.coding._env import check_env, check_env_allowlist, code_environment
from parley.coding._executor_base import ExecutorBase
from parley.coding._options import check_max_output_chars, check_max_saved_bytes, check_path, check_policies
from parley.coding._output import DEFAULT_MAX_SAVED_BYTES, OutputBudget
from parley.coding._process import ProcessRegistry, ProcessStartError, run_in_process_group
from parley.coding._spare_files import make_spare
from parley.coding._user_functions import FUNCTION_PROMPT_TEMPLATE, UserFunctions
from parley.coding.approval import Approve, DangerousCommandGuard, check_approve, dangerous_command
from parley.coding.base import CodeBlock, CommandLineCodeResult
from parley.coding.func_with_reqs import UserFunction
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ConfigError

__all__ = ["LocalCommandLineCodeExecutor"]

_SHELLS = {"bash": "bash", "shell": "bash", "sh": "sh"}
_HELPER_NAMES = {"supervisor": "the process supervising it", "server": "the process that starts the blocks"}
_GUARD = DangerousCommandGuard()


def _supported_languages() -> tuple[str, ...]:
    base = ("bash", "python", "sh", "shell")
    return (*base, "powershell", "pwsh") if shutil.which("pwsh") else base


_log = get_logger("parley.coding")


class LocalCommandLineCodeExecutor(ExecutorBase):
    """Run code blocks as scripts in fresh processes on this machine.

    The constructor does no I/O: ``work_dir`` is created at the first run. Each block is written
    to a file in ``work_dir`` (named by a ``# filename:`` first line, else
    ``tmp_code_<random hex>.<ext>``) and run there: Python with ``sys.executable`` (or the virtual
    environment's interpreter), ``bash`` and ``shell`` with ``bash``, ``sh`` with ``sh``,
    ``pwsh``/``powershell`` with ``pwsh`` when it is installed. Blocks run in order; the first
    that fails ends the run.

    Every block runs in its own process group, under a supervisor that keeps everything the
    block starts below it (double forks and ``setsid`` daemons too) and ends it all when the
    block ends. After ``timeout`` seconds the tree is interrupted, terminated, then stopped and
    killed (see `parley.coding._process`); the result keeps what was printed, has exit code 124
    and ``timed_out=True``.

    The code sees this process's environment without the variables that look like secrets
    (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD`` ...; the rule is in
    `parley.coding._env`), plus ``env``.

    The executor is a sync and async context manager; `close` kills whatever it is still
    running. POSIX only.

    Args:
        timeout: seconds each block may run. Default 60.
        virtual_env_context: a virtual environment to run Python in: the ``SimpleNamespace``
            that ``venv.EnvBuilder().ensure_directories(path)`` returns. Its ``env_exe`` runs
            Python blocks and its ``bin_path`` is put first on ``PATH`` for every block.
        work_dir: the directory where code is saved and run. Default: the current directory.
        execution_policies: per language, True to run blocks or False to only save them. The
            default runs every supported language. A language that is neither supported nor
            set to False is refused.
        max_output_chars: the output budget in characters. Longer output keeps its head and
            tail, and the whole of it is saved to ``output_<random hex>.txt`` in ``work_dir``.
            Default 32,000.
        max_saved_bytes: the most bytes of that whole output saved to the file; the result says
            when the saved copy was cut. Default 268,435,456 (256 MiB).
        keep_background: let processes a block starts in the background (a server started in
            one block and queried in the next) live until `close` or `restart`; their output
            after the block ends is discarded, so redirect it to a file to read it later. A
            block that times out still takes its own background processes with it. Default
            False: everything a block started ends when the block ends.
        env: variables to set for the code, passed even when they look like secrets.
        env_allowlist: names or shell-style patterns (``"AWS_*"``) of this process's variables
            to pass even when they look like secrets. Default: none.
        fork_server: start Python blocks from a warm interpreter that forks per block (about
            1 ms instead of a new interpreter's 10), with a fresh ``python file.py``'s semantics:
            fresh modules and ``__main__``, ``sys.argv``, the working directory and environment,
            the same containment and timeout. One warm interpreter serves each interpreter and
            environment; one that cannot serve (too old, not CPython, a relative
            ``PYTHONPATH``) falls back to a fresh process. Blocks forked from one warm
            interpreter share its hash seed (set ``PYTHONHASHSEED`` in ``env`` to choose it).
            False starts a fresh interpreter per block. Default True.
        approve: the approval step run before each call's blocks (see
            `parley.coding.approval`): a callable ``(blocks) -> bool | ApprovalDecision`` (sync
            or async), ``"human"`` to ask through the IOStream, or None for none. Default: a
            `DangerousCommandGuard`, which refuses AutoGen 0.2's destructive shell commands.
        functions: user functions the code may import from ``functions_module``: plain
            ``def`` functions, ``@with_requirements`` ones, or
            ``FunctionWithRequirements.from_str(...)`` (see `parley.coding.func_with_reqs`).
            Before the first block runs, they are written to ``<functions_module>.py`` in
            ``work_dir``, their ``python_packages`` are installed with this executor's Python
            (``pip install -qqq``, each step bounded by ``timeout``), and the module is
            imported once to check it. Default: none.
        functions_module: the module name the functions are written to. Default
            ``"functions"``.

    Raises:
        ConfigError: an argument is invalid: ``timeout`` not a positive number,
            ``max_output_chars`` under 2, ``max_saved_bytes`` negative,
            ``execution_policies`` enabling a language this executor cannot run,
            ``virtual_env_context`` without ``env_exe``, ``env`` not a str-to-str mapping,
            ``approve`` not a callable, ``"human"`` or None, ``functions_module`` not an
            identifier or ``functions`` holding something not callable.
    """

    FUNCTION_PROMPT_TEMPLATE: ClassVar[str] = FUNCTION_PROMPT_TEMPLATE
    """AutoGen 0.2's text introducing the user functions (``$module_name``, ``$functions``)."""

    SUPPORTED_LANGUAGES: ClassVar[tuple[str, ...]] = _supported_languages()
    """The languages this executor can run on this machine (``pwsh`` only when installed)."""

    def __init__(
        self,
        timeout: float = 60,
        virtual_env_context: SimpleNamespace | None = None,
        work_dir: Path | str = Path("."),
        execution_policies: dict[str, bool] | None = None,
        max_output_chars: int = 32_000,
        *,
        max_saved_bytes: int = DEFAULT_MAX_SAVED_BYTES,
        keep_background: bool = False,
        env: dict[str, str] | None = None,
        env_allowlist: Sequence[str] = (),
        approve: Approve | str | None = _GUARD,
        fork_server: bool = True,
        functions: Sequence[UserFunction] = (),
        functions_module: str = "functions",
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}.", key="timeout")
        if not math.isfinite(timeout):
            raise ConfigError(f"timeout must be finite, got {timeout!r}.", key="timeout")
        self._max_output_chars = check_max_output_chars(max_output_chars)
        self._max_saved_bytes = check_max_saved_bytes(max_saved_bytes)
        self._keep_background = bool(keep_background)
        self._fork_server = bool(fork_server)
        self._env = check_env(env)
        self._env_allowlist = check_env_allowlist(env_allowlist)
        self._approve = check_approve(approve)
        self._work_dir = check_path("work_dir", work_dir)
        if virtual_env_context is not None and not isinstance(
            getattr(virtual_env_context, "env_exe", None), (str, os.PathLike)
        ):
            raise ConfigError(
                "virtual_env_context must be the namespace returned by "
                "venv.EnvBuilder().ensure_directories(path), with an 'env_exe' attribute; "
                f"got {virtual_env_context!r}.",
                key="virtual_env_context",
            )
        self._timeout = float(timeout)
        self._venv = _absolute_venv(virtual_env_context)
        self._policies = check_policies(execution_policies, self.SUPPORTED_LANGUAGES)
        self._extractor = MarkdownCodeExtractor()
        self._registry = ProcessRegistry()
        self._functions = UserFunctions.check(functions, functions_module)
        self._functions_ready = not self._functions.functions

    @property
    def timeout(self) -> float:
        """Seconds each block may run before its process tree is killed."""
        return self._timeout

    @property
    def work_dir(self) -> Path:
        """The directory where code is saved and run, as given (created at the first run)."""
        return self._work_dir

    @property
    def execution_policies(self) -> dict[str, bool]:
        """A copy of the policy per canonical language: True runs blocks, False only saves them."""
        return dict(self._policies)

    @property
    def functions(self) -> list[UserFunction]:
        """The user functions offered to the code (a copy)."""
        return list(self._functions.functions)

    @property
    def functions_module(self) -> str:
        """The module name the user functions are imported from."""
        return self._functions.module

    def format_functions_for_prompt(self, prompt_template: str = FUNCTION_PROMPT_TEMPLATE) -> str:
        """The text telling the model how to import the user functions, with their signatures and docstrings.

        Args:
            prompt_template: a `string.Template` with ``$module_name`` and ``$functions`` (the
                stubs, two newlines apart). Default: AutoGen 0.2's `FUNCTION_PROMPT_TEMPLATE`.

        Raises:
            KeyError: the template names another placeholder.
        """
        return self._functions.prompt(prompt_template)

    def execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CommandLineCodeResult:
        """Run ``code_blocks``; the sync form of `a_execute_code_blocks` (works inside a running loop)."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    async def a_execute_code_blocks(self, code_blocks: Sequence[CodeBlock]) -> CommandLineCodeResult:
        """Save and run ``code_blocks`` in order, stopping at the first that fails.

        A failing, refused or timed-out block is a result, not an exception. Cancelling the
        awaiting task kills the running process tree.

        Args:
            code_blocks: the blocks to run.

        Returns:
            One result for all blocks: the exit code of the last block run (0 when all
            succeeded, 124 on a timeout, 1 for a refused block); their output, concatenated
            and cut to the budget; ``code_file``, the last file written.

        Raises:
            ExecutorError: the executor was closed, ``work_dir`` cannot be created, or output
                over the budget cannot be saved to its file (the running code is killed first).
            ConfigError: the user functions could not be installed (at the first call; see
                ``functions``).
        """
        self._check_open()
        refused = await self._refusal(code_blocks)
        if refused is not None:
            return CommandLineCodeResult(exit_code=1, output=refused)
        work_dir = self._work_dir.absolute()
        create_work_dir(work_dir)
        if not self._functions_ready:
            python = self._command("python", work_dir)[0]
            await self._functions.install(work_dir, python, self._environment(), self._timeout, self._registry)
            self._functions_ready = True
        with open_batch(work_dir, self._max_output_chars, self._max_saved_bytes) as batch:
            for block in batch.blocks(code_blocks):
                batch.record(*await self._run_block(block, work_dir, batch.budget))
        return batch.command_line_result()

    async def _run_block(self, block: CodeBlock, work_dir: Path, budget: OutputBudget) -> tuple[int, bool, Path | None]:
        """Run one block; return its exit code, whether it timed out, and the file written."""
        ready = prepare_script(block, work_dir, self._policies, self.SUPPORTED_LANGUAGES)
        if isinstance(ready, NotRun):
            budget.feed_text(ready.text + "\n")
            return ready.exit_code, False, ready.path
        lang, path = ready.language, ready.path
        argv = self._command(lang, path)
        try:
            result = await run_in_process_group(
                argv,
                cwd=work_dir,
                env=self._environment(),
                timeout=self._timeout,
                on_output=budget.feed_bytes,
                registry=self._registry,
                keep_background=self._keep_background,
                fork=self._fork_server and lang == "python",
            )
        except ProcessStartError as exc:
            budget.feed_text(f"Not run: could not start {argv[0]!r}: {exc.__cause__ or exc}\n")
            return 127, False, path
        make_spare(work_dir)  # the next block's file, made while the model answers
        newline = "" if budget.ends_with_newline else "\n"
        if result.continued:
            stopped = " and ".join(_HELPER_NAMES[name] for name in result.continued)
            budget.feed_text(
                f"{newline}This block stopped (SIGSTOP) {stopped}; parley continued it so the block could end. "
                "Do not signal the processes above the block.\n"
            )
            newline = ""
        if result.timed_out:
            budget.feed_text(f"{newline}Timeout after {self._timeout:g} s; the process tree was killed.\n")
        elif result.reaper_killed:
            budget.feed_text(
                f"{newline}The process supervising this block was killed (by the block itself, or because the "
                "executor was closed), so its exit code is unknown; every process it started was killed.\n"
            )
        return result.exit_code, result.timed_out, path

    def _command(self, lang: str, path: Path) -> list[str]:
        if lang == "python":
            return [os.path.abspath(self._venv.env_exe) if self._venv is not None else sys.executable, str(path)]
        if lang == "pwsh":
            return ["pwsh", "-NoProfile", "-NonInteractive", "-File", str(path)]
        return [_SHELLS[lang], str(path)]

    def _environment(self) -> dict[str, str]:
        env = code_environment(env=self._env, allowlist=self._env_allowlist)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("PYTHONIOENCODING", "utf-8")
        if self._venv is not None:
            env_dir = getattr(self._venv, "env_dir", None)
            if isinstance(env_dir, (str, os.PathLike)):
                env["VIRTUAL_ENV"] = os.path.abspath(env_dir)
            bin_path = os.path.abspath(getattr(self._venv, "bin_path", Path(self._venv.env_exe).parent))
            env["PATH"] = bin_path + os.pathsep + env.get("PATH", "")
        return env

    def _instructions(self) -> str:
        from parley.prompts import LOCAL_EXECUTOR_INSTRUCTIONS

        python = os.path.abspath(self._venv.env_exe) if self._venv is not None else sys.executable
        instructions = LOCAL_EXECUTOR_INSTRUCTIONS.format(
            work_dir=os.path.abspath(self._work_dir),
            languages=", ".join(sorted(self.SUPPORTED_LANGUAGES)),
            python=python,
            timeout=f"{self._timeout:g}",
            max_output_chars=f"{self._max_output_chars:,}",
        )
        if not self._functions.functions:
            return instructions
        return instructions.rstrip("\n") + "\n\n" + self.format_functions_for_prompt() + "\n"

    @staticmethod
    def sanitize_command(lang: str, code: str) -> None:
        """Raise `ValueError` when a shell block holds one of AutoGen 0.2's destructive commands.

        AutoGen 0.2's check, kept under its name for ported code. The executor itself does not
        raise: its default approval step (`DangerousCommandGuard`) refuses such a call with a
        result the model reads.

        Args:
            lang: the block's language; only shell blocks (``bash``, ``sh``, ``shell``) are checked.
            code: the block's source.

        Raises:
            ValueError: ``"Potentially dangerous command detected: <what>"``.
        """
        message = dangerous_command(lang, code)
        if message is not None:
            raise ValueError(f"Potentially dangerous command detected: {message}")

    @property
    def keep_background(self) -> bool:
        """Whether background processes a block starts are kept until `restart` or `close`."""
        return self._keep_background

    def restart(self) -> None:
        """End the background processes kept by ``keep_background``; every block runs fresh anyway.

        Files written to ``work_dir`` are kept; they are the user's. Blocks until the processes
        are gone, for at most about a second per kept block. Without ``keep_background`` there is
        nothing to restart, and, as AutoGen 0.2 did, it says so with a `UserWarning`.

        Warns:
            UserWarning: ``keep_background`` is off, so no action is taken.
        """
        if not self._keep_background:
            warnings.warn(
                "LocalCommandLineCodeExecutor runs every block in a fresh process and keeps no background "
                "processes (keep_background=False), so there is nothing to restart. No action is taken.",
                UserWarning,
                stacklevel=2,
            )
            return
        _log.debug("LocalCommandLineCodeExecutor: restart() ends kept background processes")
        self._registry.end_kept()

    def close(self) -> None:
        """Kill every process tree still running (kept background processes too) and refuse further runs.

        Idempotent. Blocks until the killed processes are gone, for at most about a second per tree.
        """
        if not self._closed:
            _log.debug("LocalCommandLineCodeExecutor: closed (work_dir %s)", self._work_dir)
        self._closed = True
        self._registry.kill_all()


def _absolute_venv(context: SimpleNamespace | None) -> SimpleNamespace | None:
    """A copy of a venv context with absolute paths, resolved against the current directory now.

    Blocks run with ``work_dir`` as their working directory, so a relative path would miss.
    """
    if context is None:
        return None
    fields = {
        k: os.path.abspath(v)
        if k in ("env_dir", "env_exe", "bin_path", "executable") and isinstance(v, (str, os.PathLike))
        else v
        for k, v in vars(context).items()
    }
    return SimpleNamespace(**fields)
