"""An executor's user functions (``functions=``): checked at construction, installed before the first block.

Installing writes the functions module into ``work_dir`` (without following links, like a code
file), runs ``python -m pip install -qqq`` for the packages the functions need, and imports the
module once in a fresh interpreter to prove it loads. A block imports it like any module next to
its script: blocks run with ``work_dir`` as their script's directory, whether they are forked
from the warm interpreter or started afresh, so both paths find it.

A failure is a `ConfigError` (a `ValueError`, as AutoGen 0.2 raised), naming what failed with
pip's or Python's output: the functions are the user's configuration, not the model's code.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from parley.coding._files import SymlinkNotFollowedError, write_file_in
from parley.coding._process import ProcessRegistry, ProcessStartError, run_in_process_group
from parley.coding.func_with_reqs import UserFunction, build_python_functions_file, required_packages, to_stub
from parley.exceptions import ConfigError

__all__ = ["FUNCTION_PROMPT_TEMPLATE", "UserFunctions"]

FUNCTION_PROMPT_TEMPLATE = """You have access to the following user defined functions. They can be accessed from \
the module called `$module_name` by their function names.

For example, if there was a function called `foo` you could import it by writing `from $module_name import foo`

$functions"""
"""AutoGen 0.2's text telling the model about the functions (``$module_name``, ``$functions``)."""

_OUTPUT_LIMIT = 4000
"""Characters of pip's or Python's output quoted in an error."""


@dataclass(frozen=True)
class UserFunctions:
    """The functions an executor offers to the code it runs, and the module they are written to.

    Attributes:
        functions: the functions, in order.
        module: the module's name (a Python identifier).
    """

    functions: tuple[UserFunction, ...]
    module: str

    @classmethod
    def check(cls, functions: Sequence[UserFunction], module: str) -> UserFunctions:
        """Check ``functions=`` and ``functions_module=`` as given to an executor.

        Raises:
            ConfigError: ``module`` is not a Python identifier, or a function is not callable.
        """
        if not isinstance(module, str) or not module.isidentifier():
            raise ConfigError(
                f"functions_module must be a valid Python identifier (the module name code imports), got {module!r}.",
                key="functions_module",
            )
        bad = [f for f in functions if not callable(f)]
        if bad:
            raise ConfigError(
                f"functions must hold functions (plain, @with_requirements or FunctionWithRequirements.from_str), "
                f"got {bad[0]!r}.",
                key="functions",
            )
        return cls(tuple(functions), module)

    def prompt(self, template: str = FUNCTION_PROMPT_TEMPLATE) -> str:
        """The text telling the model how to import the functions, with their stubs."""
        stubs = "\n\n".join(to_stub(func) for func in self.functions)
        return string.Template(template).substitute(module_name=self.module, functions=stubs)

    async def install(
        self, work_dir: Path, python: str, env: Mapping[str, str], timeout: float, registry: ProcessRegistry
    ) -> None:
        """Write the module into ``work_dir``, install the packages, and check that the module imports.

        Args:
            work_dir: the absolute, existing directory blocks run in.
            python: the interpreter blocks run with.
            env: the blocks' environment.
            timeout: seconds each step (pip, the import) may take.
            registry: the executor's process registry, so `close` ends a step still running.

        Raises:
            ConfigError: a function's source cannot be read, the module cannot be written, pip
                failed, or the module does not import.
        """
        try:
            source = build_python_functions_file(self.functions)
        except ValueError as exc:
            raise ConfigError(f"Cannot write the user functions: {exc}", key="functions") from exc
        try:
            write_file_in(work_dir, f"{self.module}.py", source.encode("utf-8"))
        except (OSError, SymlinkNotFollowedError) as exc:
            raise ConfigError(f"Cannot write {work_dir / (self.module + '.py')}: {exc}", key="functions") from exc
        packages = required_packages(self.functions)
        if packages:
            await _step(
                [python, "-m", "pip", "install", "-qqq", *packages],
                f"Installing the user functions' packages ({', '.join(packages)})",
                work_dir,
                env,
                timeout,
                registry,
            )
        await _step(
            [python, "-c", f"import {self.module}"],
            f"Loading the user functions module {self.module!r}",
            work_dir,
            env,
            timeout,
            registry,
        )


async def _step(
    argv: list[str], what: str, work_dir: Path, env: Mapping[str, str], timeout: float, registry: ProcessRegistry
) -> None:
    output = bytearray()
    try:
        result = await run_in_process_group(
            argv, cwd=work_dir, env=env, timeout=timeout, on_output=output.extend, registry=registry
        )
    except ProcessStartError as exc:
        raise ConfigError(f"{what}: could not start {argv[0]!r}: {exc.__cause__ or exc}", key="functions") from exc
    if result.exit_code == 0 and not result.timed_out:
        return
    text = output.decode("utf-8", "replace").strip()[-_OUTPUT_LIMIT:]
    how = f"timed out after {timeout:g} s" if result.timed_out else f"failed with exit code {result.exit_code}"
    raise ConfigError(f"{what} {how}:\n{text}", key="functions")
