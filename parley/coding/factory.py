"""Build a code executor from a ``code_execution_config`` dict (AutoGen 0.2's ``CodeExecutorFactory``).

The accepted shapes::

    {"executor": "local", "local": {"work_dir": "coding", "timeout": 30}}     # a registered name
    {"executor": "my_pkg.executors:SandboxExecutor",                         # "module:Class"
     "my_pkg.executors:SandboxExecutor": {"image": "python:3.12"}}
    {"executor": my_executor}                                                # an instance
    {"work_dir": "coding", "use_docker": False, "timeout": 60}               # AutoGen 0.2 legacy

Per-executor keyword arguments live under the executor's name (for an alias, under the alias or
the canonical name). ``last_n_messages`` and ``allowed_languages`` belong to the agent and are
ignored here. The executor classes are imported only when chosen.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Mapping
from typing import Any, cast

from parley.coding.base import CodeExecutor
from parley.exceptions import ConfigError

__all__ = ["EXECUTOR_ALIASES", "EXECUTOR_REGISTRY", "CodeExecutorFactory"]

EXECUTOR_REGISTRY: dict[str, str] = {
    "commandline-local": "parley.coding.local_commandline_code_executor:LocalCommandLineCodeExecutor",
    "docker": "parley.coding.docker_commandline_code_executor:DockerCommandLineCodeExecutor",
    "ipython-embedded": "parley.coding.jupyter.embedded_ipython_code_executor:EmbeddedIPythonCodeExecutor",
    "jupyter": "parley.coding.jupyter.jupyter_code_executor:JupyterCodeExecutor",
    "notebook": "parley.coding.jupyter.notebook_code_executor:NotebookCodeExecutor",
}
"""Registered executor names and the ``"module:Class"`` each one builds, imported on use."""

EXECUTOR_ALIASES: dict[str, str] = {"local": "commandline-local"}
"""Other names for registered executors."""

_LEGACY_IGNORED = frozenset({"use_docker", "last_n_messages", "allowed_languages", "send_images"})
_REQUIRED = ("code_extractor", "execute_code_blocks", "restart")
_BAD_KWARG = re.compile(r"unexpected keyword argument '(?P<name>[^']+)'")


def _known_names() -> list[str]:
    return sorted({*EXECUTOR_REGISTRY, *EXECUTOR_ALIASES})


def _missing_members(obj: object, *, methods_only: bool = False) -> list[str]:
    names = ("execute_code_blocks", "restart") if methods_only else _REQUIRED
    return [name for name in names if not hasattr(obj, name)]


def _import_target(target: str, *, key: str) -> Any:
    """Import ``"pkg.module:Class"`` and return the attribute, naming the part that failed."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{key} {target!r} is not of the form 'pkg.module:Class' (both parts are needed).", key=key)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{key} {target!r}: the module {module_name!r} cannot be imported ({exc}). Check the "
            f"module path and that its package is installed.",
            key=key,
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(module) if not n.startswith("_")]
            raise ConfigError(
                f"{key} {target!r}: the module {module_name!r} has no attribute {attr!r}.",
                key=key,
                suggestions=difflib.get_close_matches(attr, public, n=3),
            )
        obj = getattr(obj, part)
    return obj


def _check_executor(obj: object, label: str, *, methods_only: bool = False) -> None:
    missing = _missing_members(obj, methods_only=methods_only)
    if missing:
        raise ConfigError(
            f"{label} is not a code executor: it lacks {', '.join(missing)}. A code executor has "
            "a 'code_extractor' property and 'execute_code_blocks(code_blocks)' and 'restart()' "
            "methods (see parley.coding.base.CodeExecutor).",
            key="executor",
        )


def _construct(factory: Any, kwargs: Mapping[str, Any], label: str) -> Any:
    """Call ``factory(**kwargs)``, turning a bad keyword argument into a ConfigError."""
    try:
        signature: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C types have no signature
        signature = None
    try:
        if signature is not None:
            signature.bind(**kwargs)
        return factory(**kwargs)
    except TypeError as exc:
        match = _BAD_KWARG.search(str(exc))
        params = [p for p in (signature.parameters if signature else ()) if p != "self"]
        hint = f" It accepts: {', '.join(params)}." if params else ""
        bad = f" {match.group('name')!r} is not one of its arguments." if match else ""
        raise ConfigError(
            f"Bad arguments for the {label} executor: {exc}.{bad}{hint}",
            key=label,
            suggestions=difflib.get_close_matches(match.group("name"), params, n=1) if match else (),
        ) from exc


def _kwargs_for(config: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    present = [k for k in keys if k in config]
    if len(present) > 1:
        raise ConfigError(
            f"Executor arguments are given under both {present[0]!r} and {present[1]!r}; use one key.",
            key=present[0],
        )
    if not present:
        return {}
    kwargs = config[present[0]]
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise ConfigError(
            f"code_execution_config[{present[0]!r}] must be a dict of keyword arguments for the "
            f"executor, got {kwargs!r}.",
            key=present[0],
        )
    return dict(kwargs)


def _from_name(name: str, config: Mapping[str, Any]) -> CodeExecutor:
    canonical = EXECUTOR_ALIASES.get(name, name)
    target = EXECUTOR_REGISTRY.get(canonical)
    if target is None:
        raise ConfigError(
            f"Unknown code executor {name}. Known executors: {', '.join(_known_names())}; or pass "
            "'pkg.module:Class', or an executor instance.",
            key="executor",
            suggestions=difflib.get_close_matches(name, _known_names(), n=2),
        )
    kwargs = _kwargs_for(config, *dict.fromkeys((name, canonical)))
    executor = _construct(_import_target(target, key="executor"), kwargs, name)
    return cast(CodeExecutor, executor)


def _from_target(target: str, config: Mapping[str, Any]) -> CodeExecutor:
    factory = _import_target(target, key="executor")
    if inspect.isclass(factory):
        _check_executor(factory, f"{target!r}", methods_only=True)
    elif not callable(factory):
        raise ConfigError(f"executor {target!r} names {factory!r}, which is not a class.", key="executor")
    executor = _construct(factory, _kwargs_for(config, target), target)
    _check_executor(executor, f"The object built by {target!r}")
    return cast(CodeExecutor, executor)


def _legacy(config: Mapping[str, Any]) -> CodeExecutor:
    """AutoGen 0.2's form: executor keyword arguments at the top level, ``use_docker`` choosing."""
    kwargs = {k: v for k, v in config.items() if k not in _LEGACY_IGNORED}
    use_docker = config.get("use_docker", False)
    if not use_docker:
        return _from_name("commandline-local", {"commandline-local": kwargs})
    if "docker" not in EXECUTOR_REGISTRY:
        raise ConfigError(
            f"code_execution_config has use_docker={use_docker!r}, but Docker execution (selected "
            "with executor='docker') is not available in this version of parley. Set "
            "use_docker=False, or use {'executor': 'local'}, to run code on this machine.",
            key="use_docker",
        )
    if isinstance(use_docker, str):  # AutoGen 0.2 accepted an image name here
        kwargs.setdefault("image", use_docker)
    return _from_name("docker", {"docker": kwargs})


class CodeExecutorFactory:
    """Builds the code executor that a ``code_execution_config`` asks for."""

    @staticmethod
    def create(code_execution_config: Mapping[str, Any]) -> CodeExecutor:
        """Return the executor ``code_execution_config`` describes (see the module docstring).

        Args:
            code_execution_config: a dict whose ``"executor"`` is a registered name
                (`EXECUTOR_REGISTRY`, `EXECUTOR_ALIASES`), a ``"pkg.module:Class"`` string or
                an executor instance (returned as is); or an AutoGen 0.2 legacy dict with no
                ``"executor"``, whose keys (``work_dir``, ``timeout`` ...) are arguments for the
                local executor, or for the Docker one when ``use_docker`` is truthy.

        Returns:
            A new executor, or the instance that was passed.

        Raises:
            ConfigError: the config is not a dict; the name is unknown (with "did you mean" and
                the known names); ``"module:Class"`` cannot be imported or the attribute is
                missing; the class or instance lacks ``code_extractor``, ``execute_code_blocks``
                or ``restart``; the executor rejects its arguments (naming the bad one); or
                ``use_docker`` asks for an executor that is not available.
        """
        if not isinstance(code_execution_config, Mapping):
            raise ConfigError(
                f"code_execution_config must be a dict (or False to turn code execution off), got "
                f"{code_execution_config!r}.",
                key="code_execution_config",
            )
        if "executor" not in code_execution_config:
            return _legacy(code_execution_config)
        executor = code_execution_config["executor"]
        if isinstance(executor, str):
            name = executor.strip()
            if ":" in name:
                return _from_target(name, code_execution_config)
            return _from_name(name, code_execution_config)
        if inspect.isclass(executor):
            raise ConfigError(
                f"executor is the class {executor.__qualname__}; pass an instance of it, or the "
                f"string '{executor.__module__}:{executor.__qualname__}' with its arguments under "
                "that key.",
                key="executor",
            )
        _check_executor(executor, f"The executor {executor!r}")
        return cast(CodeExecutor, executor)
