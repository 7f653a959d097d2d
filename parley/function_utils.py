"""``parley.function_utils``: AutoGen 0.2's tool-function helpers where its users import them.

Re-exports of parley's own: `get_function_schema` is `parley.agentchat.tools.function_schema`,
`serialize_to_str` is how tool results become text, and `load_basemodels_if_needed` wraps a
function so its arguments are validated and turned into their annotated types (pydantic models
included) before it runs, as parley does for every tool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.agentchat._tool_schema import tool_name, validating_function
from parley.agentchat._tools import stringify as serialize_to_str
from parley.agentchat.tools import function_schema as get_function_schema

__all__ = ["get_function_schema", "load_basemodels_if_needed", "serialize_to_str"]


def load_basemodels_if_needed(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` wrapped to validate and convert its keyword arguments first (see `validating_function`).

    Raises:
        ConfigError: ``func``'s parameters cannot be described.
    """
    return validating_function(func, name=tool_name(func))
