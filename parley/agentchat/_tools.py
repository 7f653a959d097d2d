"""Running the tool calls in one message: concurrently, one response per call, in order."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from parley._sync import call_blocking
from parley._tracing import traced_tool
from parley.agentchat._tool_arguments import UnreadableArguments, error_result, exception_result, read_arguments
from parley.exceptions import ToolArgumentsError
from parley.llm.types import Message, ToolCall

__all__ = ["ToolArgumentsError", "run_tool_calls", "stringify"]


def stringify(value: Any) -> str:
    """Turn a tool's return value into the text the model reads.

    A str is kept; a pydantic model becomes its JSON; dicts and lists become JSON (non-JSON
    values through ``str``); anything else uses ``str``.
    """
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


@traced_tool
async def _one(call: ToolCall, functions: Mapping[str, Callable[..., Any]]) -> str:
    fn_part = call.get("function") or {}
    name = fn_part.get("name", "")
    func = functions.get(name)
    if func is None:  # AutoGen 0.2's words; the model has the tool list in its request
        return f"Error: Function {name} not found."
    try:
        args = read_arguments(fn_part.get("arguments") or "")
    except UnreadableArguments as e:
        return error_result(name, e)
    try:
        if inspect.iscoroutinefunction(func):
            result = await func(**args)
        else:
            result = await call_blocking(func, **args)
            if inspect.isawaitable(result):
                result = await result
    except ToolArgumentsError as e:
        return f"Error: {e}"
    except Exception as e:
        return exception_result(e)
    try:
        return stringify(result)
    except Exception as e:  # a result too deep for JSON, a __str__ that raises
        return f"Error: the result of {name!r} cannot be turned into text ({type(e).__name__}: {e})."


async def run_tool_calls(tool_calls: Sequence[ToolCall], functions: Mapping[str, Callable[..., Any]]) -> Message:
    """Run every call concurrently; async tools are awaited, sync tools run in threads.

    Args:
        tool_calls: the ``tool_calls`` of one assistant message.
        functions: the callable for each tool name.

    Returns:
        One message with ``role="tool"``, ``tool_responses`` holding exactly one response per call
        in the calls' order, and ``content`` joining their texts. A bad name, arguments that
        `parley.agentchat._tool_arguments.read_arguments` cannot read (not a JSON object, too
        long, too deep, an integer too long), arguments that fail a validating wrapper's check
        (`ToolArgumentsError`), an exception in a tool, or a result that cannot be turned into
        text becomes an ``"Error: ..."`` response, never an exception.
    """
    results = await asyncio.gather(*(_one(c, functions) for c in tool_calls))
    responses: list[Message] = [
        {"tool_call_id": c.get("id", ""), "role": "tool", "content": r}
        for c, r in zip(tool_calls, results, strict=True)
    ]
    return {"role": "tool", "tool_responses": responses, "content": "\n\n".join(results)}
