"""Checking an `ExecutorPool`'s arguments and reading its config dict; no I/O."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from parley.coding._pool_members import WORK_DIR_EXECUTORS
from parley.coding.base import CodeExecutor
from parley.coding.factory import EXECUTOR_ALIASES, EXECUTOR_REGISTRY
from parley.exceptions import ConfigError

__all__ = ["check_count", "check_factory", "parse_config"]

_POOL_KEYS = ("executor", "size", "slots_per_member", "acquire_timeout", "reset_timeout", "start_timeout", "base_dir")
_AGENT_KEYS = ("last_n_messages", "allowed_languages")


def parse_config(config: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any] | None, dict[str, Any]]:
    """Split a pool's config dict into the executor factory, its options and the pool's other arguments.

    Raises:
        ConfigError: see `ExecutorPool.from_config`.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"An executor pool's config must be a dict, got {config!r}.", key="config")
    if "executor" not in config:
        raise ConfigError(
            "An executor pool's config needs 'executor' (a registered name, 'pkg.module:Class' or a callable).",
            key="executor",
        )
    factory = config["executor"]
    names: tuple[str, ...] = ()
    if isinstance(factory, str):
        name = factory.strip()
        names = tuple(dict.fromkeys((name, EXECUTOR_ALIASES.get(name, name))))
    present = [n for n in names if n in config]
    if len(present) > 1:
        raise ConfigError(
            f"Executor arguments are given under both {present[0]!r} and {present[1]!r}; use one key.",
            key=present[0],
        )
    known = (*_POOL_KEYS, *_AGENT_KEYS, *names)
    unknown = [k for k in config if k not in known]
    if unknown:
        raise ConfigError(
            f"Unknown key {unknown[0]!r} in an executor pool's config. Known keys: {', '.join(known)}.",
            key=str(unknown[0]),
            suggestions=difflib.get_close_matches(str(unknown[0]), known, n=1),
        )
    pool_args = {k: config[k] for k in _POOL_KEYS[1:] if k in config}
    return factory, (config[present[0]] if present else None), pool_args


def check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}.", key=name)
    return value


def check_factory(
    executor: object, options: Mapping[str, Any] | None
) -> tuple[str | Callable[[], CodeExecutor], str | None]:
    """Return the factory and, for a registered name, its canonical name.

    Raises:
        ConfigError: see `ExecutorPool`.
    """
    if options is not None and (not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options)):
        raise ConfigError(
            f"options must be a dict of keyword arguments for the executor, got {options!r}.", key="options"
        )
    if isinstance(executor, str):
        name = executor.strip()
        if ":" in name:
            return name, None
        canonical = EXECUTOR_ALIASES.get(name, name)
        if canonical not in EXECUTOR_REGISTRY:
            known = sorted({*EXECUTOR_REGISTRY, *EXECUTOR_ALIASES})
            raise ConfigError(
                f"Unknown code executor {name}. Known executors: {', '.join(known)}; or pass "
                "'pkg.module:Class', or a zero-argument callable returning a new executor.",
                key="executor",
                suggestions=difflib.get_close_matches(name, known, n=2),
            )
        if options and "work_dir" in options and canonical in WORK_DIR_EXECUTORS:
            raise ConfigError(
                "The pool gives each member its own work_dir under base_dir; pass base_dir= to the pool "
                "instead of work_dir in options.",
                key="work_dir",
            )
        return name, canonical
    if hasattr(executor, "execute_code_blocks") and not isinstance(executor, type):
        raise ConfigError(
            f"ExecutorPool needs a way to build executors, not one executor ({executor!r}): pass a "
            "registered name, 'pkg.module:Class', or a zero-argument callable such as a lambda.",
            key="executor",
        )
    if not callable(executor):
        raise ConfigError(
            f"executor must be a registered name, 'pkg.module:Class' or a zero-argument callable, got {executor!r}.",
            key="executor",
        )
    if options:
        raise ConfigError(
            "options apply to a registered name or 'pkg.module:Class'; a callable takes none.", key="options"
        )
    factory: Callable[[], CodeExecutor] = executor
    return factory, None
