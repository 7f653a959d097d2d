"""AutoGen 0.2's ``improve_code`` and ``improve_function``: ask a model how to improve source files.

Each is one chat request through `OpenAIWrapper` (0.2 used the retired text-completions API),
with the file contents and the objective in a user message; the prompts are in `parley.prompts`.
The sync names are thin shells over the async ones (``a_improve_code``, ``a_improve_function``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley._sync import run_sync
from parley.llm.wrapper import OpenAIWrapper
from parley.prompts import IMPROVE_CODE_PROMPT, IMPROVE_FUNCTION_PROMPT

__all__ = ["a_improve_code", "a_improve_function", "improve_code", "improve_function"]

_DEFAULT_MODEL = "gpt-4"


async def _ask(prompt: str, config: dict[str, Any]) -> tuple[str, float]:
    """One request; the entries' model wins, then ``config``'s, then ``"gpt-4"`` (as in AutoGen 0.2)."""
    config = {k: v for k, v in config.items() if k != "request_timeout"}  # 0.2's name; entries set timeouts
    config_list = config.pop("config_list", None)
    if config_list is None:
        config.setdefault("model", _DEFAULT_MODEL)
    else:
        config_list = [{"model": config.get("model", _DEFAULT_MODEL), **entry} for entry in config_list]
        config.pop("model", None)
    wrapper = OpenAIWrapper(config_list=config_list, **config)
    completion = await wrapper.a_create(messages=[{"role": "user", "content": prompt}])
    text = completion.choices[0].message.content if completion.choices else None
    return text or "", completion.cost


async def a_improve_code(
    files: Sequence[str | os.PathLike[str]], objective: str, suggest_only: bool = True, **config: Any
) -> tuple[str, float]:
    """Ask a model for suggestions (or the improved code) that serve ``objective`` in ``files``.

    Args:
        files: the source files, read as UTF-8 and shown to the model with their names.
        objective: what the improvement should achieve.
        suggest_only: True (default) for a list of suggestions; False for suggestions followed
            by the improved code.
        **config: the model to use, as for `OpenAIWrapper` (``config_list``, ``model`` (default
            ``"gpt-4"``), ``temperature`` ...).

    Returns:
        The model's answer and the call's cost in US dollars.

    Raises:
        OSError: a file cannot be read.
        ConfigError: ``config`` is invalid (see `OpenAIWrapper`).
        ModelError: the model call failed.
    """
    texts = await asyncio.to_thread(lambda: [(str(f), Path(f).read_text(encoding="utf-8")) for f in files])
    code = "".join(f"{name}:\n{text}\n\n" for name, text in texts)
    followup = "" if suggest_only else " followed by the improved code"
    return await _ask(IMPROVE_CODE_PROMPT.format(objective=objective, code=code, followup=followup), config)


async def a_improve_function(
    file_name: str | os.PathLike[str], func_name: str, objective: str, **config: Any
) -> tuple[str, float]:
    """Ask a model for an improved version of the function ``func_name`` in ``file_name``.

    Args:
        file_name: the file holding the function, read as UTF-8.
        func_name: the function's name.
        objective: what the improvement should achieve.
        **config: the model to use, as for `a_improve_code`.

    Returns:
        The model's answer and the call's cost in US dollars.

    Raises:
        OSError: the file cannot be read.
        ConfigError: ``config`` is invalid.
        ModelError: the model call failed.
    """
    source = await asyncio.to_thread(Path(file_name).read_text, encoding="utf-8")
    prompt = IMPROVE_FUNCTION_PROMPT.format(func_name=func_name, objective=objective, file_string=source)
    return await _ask(prompt, config)


def improve_code(
    files: Sequence[str | os.PathLike[str]], objective: str, suggest_only: bool = True, **config: Any
) -> tuple[str, float]:
    """The sync form of `a_improve_code` (works inside a running event loop too)."""
    return run_sync(a_improve_code(files, objective, suggest_only, **config))


def improve_function(
    file_name: str | os.PathLike[str], func_name: str, objective: str, **config: Any
) -> tuple[str, float]:
    """The sync form of `a_improve_function` (works inside a running event loop too)."""
    return run_sync(a_improve_function(file_name, func_name, objective, **config))
