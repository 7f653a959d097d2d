"""AutoGen 0.2's legacy function calling: ``llm_config["functions"]``, ``function_call`` messages.

OpenAI's ``functions``/``function_call`` API predates tools and is deprecated; many servers no
longer take it. parley keeps 0.2's surface and speaks tools on the wire:

- the specs in ``llm_config["functions"]`` (or added by `update_function_signature`) go to the
  model as tools;
- a reply that calls only such functions comes back as 0.2's assistant message with one
  ``function_call`` (the model's first call);
- the executor answers a ``function_call`` message with a ``role="function"`` message (see
  `FunctionCallsMixin.a_generate_function_call_reply`);
- when a conversation is sent to the model, each ``function_call`` becomes a tool call with an id
  (``call_fn_<n>``, numbered in the conversation) and the ``function`` message that answers it
  the tool response with that id (`wire_messages`), which also leaves out 0.2's ``context`` key.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from parley._runlog import session as runtime_logging
from parley._sync import run_sync
from parley.agentchat._replies import DECLINED
from parley.agentchat._tool_arguments import UnreadableArguments, error_result, exception_result, read_arguments
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.llm.types import Message, ToolSpec

__all__ = [
    "FunctionCallsMixin",
    "any_needs_rewrite",
    "as_function_call",
    "quick_function_call_reply",
    "wire_messages",
]


def any_needs_rewrite(messages: Sequence[Message], start: int = 0) -> bool:
    """True when a message of ``messages[start:]`` must be reshaped for the wire (tool responses, ``context`` ...).

    A plain loop with the test written out (a model call runs it on the messages new since the
    last one): no slice, generator or call per message.
    """
    for i in range(start, len(messages)):
        m = messages[i]
        if "tool_responses" in m or "function_call" in m or m.get("role") == "function" or "context" in m:
            return True
    return False


def wire_messages(
    messages: Sequence[Message], expand_tool_responses: Callable[[Message], list[Message]]
) -> list[Message]:
    """The messages as the model's API takes them (see the module docstring).

    Args:
        messages: the conversation, oldest first (the system message may lead).
        expand_tool_responses: turns one message with ``tool_responses`` into its tool messages.
    """
    out: list[Message] = []
    pending: str | None = None
    calls = 0
    for m in messages:
        if "tool_responses" in m:
            out.extend(expand_tool_responses(m))
        elif m.get("function_call"):
            calls += 1
            pending = f"call_fn_{calls}"
            fc = cast(Mapping[str, Any], m.get("function_call"))
            call = {
                "id": pending,
                "type": "function",
                "function": {"name": fc.get("name", ""), "arguments": fc.get("arguments") or "{}"},
            }
            wire: dict[str, Any] = {k: v for k, v in m.items() if k not in ("function_call", "context")}
            wire["role"] = "assistant"
            wire["tool_calls"] = [call]
            wire.setdefault("content", None)
            out.append(cast(Message, wire))
        elif m.get("role") == "function" and pending is not None:
            out.append({"role": "tool", "tool_call_id": pending, "content": _text(m.get("content"))})
            pending = None
        elif m.get("role") == "function":  # an answer to no call: its text, as the speaker's message
            out.append({"role": "user", "content": _text(m.get("content"))})
        elif "context" in m:  # 0.2's context stays in the history, off the wire
            out.append(cast(Message, {k: v for k, v in m.items() if k != "context"}))
        else:
            out.append(m)
    return out


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "" if content is None else str(content)


def as_function_call(message: Message, functions: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec]) -> Message:
    """0.2's ``function_call`` message for a reply whose tool calls all name legacy functions.

    A reply that calls a tool (or mixes tools and functions) is returned unchanged.
    """
    calls = message.get("tool_calls") or []
    legacy = {f.get("name") for f in functions}
    tool_names = {t["function"].get("name") for t in tools}
    names = [c.get("function", {}).get("name") for c in calls]
    if not calls or not all(n in legacy and n not in tool_names for n in names):
        return message
    first = calls[0]["function"]
    out: dict[str, Any] = {"role": "assistant", "content": message.get("content"), "function_call": dict(first)}
    return cast(Message, out)


def quick_function_call_reply(
    agent: Any, messages: list[Message] | None, sender: Any = None
) -> tuple[bool, Any] | None:
    """`DECLINED` when `FunctionCallsMixin.a_generate_function_call_reply` answers ``(False, None)`` at once, else None.

    The reply pipeline asks this first (a plain call, no coroutine) on every message.
    """
    return DECLINED if not messages or not messages[-1].get("function_call") else None


class FunctionCallsMixin:
    """0.2's function-calling methods of `ConversableAgent` (see the module docstring)."""

    llm_config: Any
    _function_map: dict[str, Callable[..., Any]]
    _name: str
    _function_specs: tuple[dict[str, Any], ...] = ()

    @property
    def functions(self) -> list[dict[str, Any]]:
        """The legacy function specs offered to the model (``llm_config["functions"]``); a fresh list."""
        config = self.llm_config
        if type(config) is dict or isinstance(config, Mapping):  # asked once per model call: the cheap check first
            specs = config.get("functions") or ()
        else:
            specs = self._function_specs
        return [dict(f) for f in specs] if specs else []

    def update_function_signature(self, func_sig: str | Mapping[str, Any], is_remove: bool) -> None:
        """Add, replace or remove a function offered through 0.2's (deprecated) ``functions`` API.

        Args:
            func_sig: a function spec ``{"name": ..., "description": ..., "parameters": {...}}``;
                to remove, its name is enough.
            is_remove: True to remove the function of that name; False to add it (replacing one
                of the same name).

        Raises:
            ConfigError: the agent has no llm_config, the spec has no ``name``, or the function
                to remove is not there (with a "did you mean").
        """
        if self.llm_config is False or self.llm_config is None:
            raise ConfigError(
                f"update_function_signature needs an agent with an llm_config; {self._name!r} has none.",
                key="llm_config",
            )
        current = self.functions
        names = [f.get("name") for f in current]
        if is_remove:
            name = func_sig if isinstance(func_sig, str) else func_sig.get("name")
            if name not in names:
                known = [n for n in names if isinstance(n, str)]
                raise ConfigError(
                    f"{self._name!r} offers no function named {name!r} to remove; "
                    f"it offers: {', '.join(known) or 'none'}.",
                    key=str(name),
                    suggestions=difflib.get_close_matches(str(name), known, n=1),
                )
            self._set_functions([f for f in current if f.get("name") != name])
            return
        if not isinstance(func_sig, Mapping) or not isinstance(func_sig.get("name"), str):
            raise ConfigError(
                'A function signature is a dict {"name": ..., "description": ..., "parameters": {...}}, '
                f"got {func_sig!r}.",
                key="functions",
            )
        spec = dict(func_sig)
        self._set_functions([f for f in current if f.get("name") != spec["name"]] + [spec])

    def _set_functions(self, functions: list[dict[str, Any]]) -> None:
        config = self.llm_config
        if isinstance(config, Mapping):
            new = dict(config)
            if functions:
                new["functions"] = functions
            else:
                new.pop("functions", None)
            self.llm_config = new
        else:
            self._function_specs = tuple(functions)

    def can_execute_function(self, name: str | list[str]) -> bool:
        """True when this agent has a callable for ``name`` (for each name, given a list)."""
        names = name if isinstance(name, list) else [name]
        return all(n in self._function_map for n in names)

    async def a_execute_function(self, func_call: Mapping[str, Any], verbose: bool = False) -> tuple[bool, Message]:
        """Run one ``function_call`` (``{"name": ..., "arguments": "<json>"}``) with this agent's functions.

        Async functions are awaited; sync ones run in a worker thread.

        Returns:
            ``(succeeded, {"name": name, "role": "function", "content": text})``. An unknown name,
            arguments that are not a JSON object, or an exception in the function is a failed
            call whose content starts with ``"Error: "``; nothing is raised.
        """
        name = str(func_call.get("name", ""))
        func = self._function_map.get(name)
        ok = False
        if func is None:  # AutoGen 0.2's words
            content: Any = f"Error: Function {name} not found."
        else:
            try:
                args = read_arguments(func_call.get("arguments") or "{}")
            except UnreadableArguments as e:
                content = error_result(name, e)
            else:
                IOStream.get_default().print(f"\n>>>>>>>> EXECUTING FUNCTION {name}...", flush=True)
                try:
                    if inspect.iscoroutinefunction(func):
                        content = await func(**args)
                    else:
                        content = await asyncio.to_thread(func, **args)
                        if inspect.isawaitable(content):
                            content = await content
                    ok = True
                except Exception as e:
                    content = exception_result(e)
                if runtime_logging.is_logging:
                    runtime_logging.log_function_use(self, func, args, content)
                if verbose:
                    IOStream.get_default().print(f"\nInput arguments: {args}\nOutput:\n{content}", flush=True)
        return ok, {"name": name, "role": "function", "content": str(content)}

    def execute_function(self, func_call: Mapping[str, Any], verbose: bool = False) -> tuple[bool, Message]:
        """Sync shell over `a_execute_function`."""
        return run_sync(self.a_execute_function(func_call, verbose))

    async def a_generate_function_call_reply(
        self, messages: list[Message] | None = None, sender: Any = None, config: Any = None
    ) -> tuple[bool, Message | None]:
        """Answer a message holding a ``function_call`` with the function's result (a ``role="function"`` message)."""
        if not messages or quick_function_call_reply(self, messages) is not None:  # one test, shared with the pipeline
            return False, None
        call = messages[-1]["function_call"]
        _, result = await self.a_execute_function(cast(Mapping[str, Any], call))
        return True, result
