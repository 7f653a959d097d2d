"""Fixtures for the code layer: the executor factory the contract suite runs over, process checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.coding import CodeExecutor, LocalCommandLineCodeExecutor

MakeExecutor = Callable[..., CodeExecutor]


def _make_local(work_dir: Path, **kwargs: Any) -> CodeExecutor:
    return LocalCommandLineCodeExecutor(work_dir=work_dir, **kwargs)


# Executor name -> builder taking (work_dir, timeout=..., max_output_chars=...).
# Issue 3 adds "docker" and "ipython-embedded" here; every contract test then runs on them too.
_BUILDERS: dict[str, Callable[..., CodeExecutor]] = {"local": _make_local}


@pytest.fixture(params=sorted(_BUILDERS))
def executor_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeExecutor]:
    """A function building the parametrised executor on a fresh ``work_dir``; all are closed after."""
    made: list[CodeExecutor] = []

    def make(**kwargs: Any) -> CodeExecutor:
        kwargs.setdefault("work_dir", tmp_path / "work")
        executor = _BUILDERS[request.param](**kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
