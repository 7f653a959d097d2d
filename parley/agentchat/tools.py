"""Typed tools: offer a Python function to a model, and run the model's calls to it safely.

One agent (the *caller*) offers the tool to its model: the function's JSON schema goes out with
every model request. Another agent (the *executor*, possibly the same one) runs the calls. It
validates each call's JSON arguments against the function's type hints first::

    @executor.register_for_execution()
    @assistant.register_for_llm(description="Convert an amount between currencies.")
    def convert(amount: float, currency: Literal["USD", "EUR"] = "USD") -> str: ...

    # or, equivalently, without decorators:
    register_function(convert, caller=assistant, executor=executor, description="...")

The schema is built from the type hints by pydantic (see `parley.agentchat._tool_schema`). That
module, and pydantic with it, is imported when the first tool is registered, not by
``import parley``.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from parley.exceptions import ConfigError, UsageError
from parley.llm.types import ToolSpec

__all__ = ["ToolsMixin", "function_schema", "register_function"]

F = TypeVar("F", bound=Callable[..., Any])

# Decorators stack: a name or description given to one decorator is remembered on the function
# and used by a later one that gives none (AutoGen 0.2 does the same with ``_name``/``_description``).
_NAME_ATTR = "_parley_tool_name"
_DESCRIPTION_ATTR = "_parley_tool_description"


def function_schema(f: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> ToolSpec:
    """Describe ``f`` as a tool for the OpenAI tools API, from its type hints.

    Args:
        f: the function (sync or async), method, ``functools.partial`` or callable object.
        name: the tool's name. Default: ``f.__name__``.
        description: what the tool does, for the model. Default: the first paragraph of ``f``'s
            docstring.

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters"}}``, where
        ``parameters`` is a JSON schema object.

    Raises:
        ConfigError: the name breaks OpenAI's rule ``^[a-zA-Z0-9_-]{1,64}$``; there is no
            description and no docstring; a parameter is ``*args``/``**kwargs``, lacks an
            annotation and a default, or has a type that cannot be sent as JSON.
    """
    from parley.agentchat import _tool_schema

    return _tool_schema.function_schema(f, name=name, description=description)


def _remember(f: Callable[..., Any], attr: str, value: str | None) -> None:
    if value is None:
        return
    with contextlib.suppress(AttributeError, TypeError):  # bound methods and builtins take no attributes
        setattr(f, attr, value)


def _remembered(f: Callable[..., Any], attr: str) -> str | None:
    value = getattr(f, attr, None)
    return value if isinstance(value, str) else None


def _spec_name(spec: Any) -> str:
    """The function name in a tool spec; ConfigError when ``spec`` is not a tool spec."""
    function = spec.get("function") if isinstance(spec, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(spec, Mapping) or spec.get("type") != "function" or not isinstance(name, str):
        raise ConfigError(
            "A tool signature has the OpenAI tools shape "
            '{"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}, '
            f"got {spec!r}.",
            key="tools",
        )
    return name


class ToolsMixin:
    """The tool methods of `parley.agentchat.ConversableAgent` (AutoGen 0.2's names and semantics).

    A host class provides ``llm_config`` (False, a dict, or a ModelClient instance),
    ``_function_map`` (tool name -> callable) and ``_name``.

    With a dict ``llm_config``, the tools live in ``llm_config["tools"]``, as in AutoGen 0.2. The
    dict is copied before each change, so the caller's own dict is never modified. With a
    ModelClient instance, they are kept on the agent. Either way `tools` lists them.
    """

    llm_config: Any
    _function_map: dict[str, Callable[..., Any]]
    _name: str
    _tool_specs: tuple[ToolSpec, ...] = ()

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools offered to this agent's model, in the OpenAI tools shape (a fresh list)."""
        config = self.llm_config
        if type(config) is dict or isinstance(config, Mapping):  # asked once per model call: the cheap check first
            return list(config.get("tools") or ())
        return list(self._tool_specs)

    def _needs_llm_config(self, what: str) -> None:
        if self.llm_config is False or self.llm_config is None:
            raise UsageError(  # 0.2's words first; an AssertionError too, as 0.2's assert was
                "To update a tool signature, agent must have an llm_config.",
                hint=f"{what} needs an agent with a model, and {self._name!r} has llm_config={self.llm_config}: "
                "there is no model to offer the tool to. Register it on the agent that calls the model, or use "
                "register_for_execution() to have this agent run the calls.",
                key="llm_config",
            )

    def update_tool_signature(self, tool_sig: str | Mapping[str, Any], is_remove: bool) -> None:
        """Add, replace or remove one tool offered to the model.

        Args:
            tool_sig: a tool spec (``{"type": "function", "function": {"name": ...}}``); to
                remove, its name is enough.
            is_remove: True to remove the tool of that name; False to add it, replacing (in
                place) a tool of the same name.

        Raises:
            UsageError: the agent has no llm_config (also an AssertionError, as in 0.2).
            ConfigError: ``tool_sig`` is not a tool spec; or the tool to remove is not there
                (with a "did you mean").
        """
        self._needs_llm_config("update_tool_signature")
        current = self.tools
        names = [_spec_name(t) for t in current]
        if is_remove:
            name = tool_sig if isinstance(tool_sig, str) else _spec_name(tool_sig)
            if name not in names:
                raise ConfigError(
                    f"{self._name!r} offers no tool named {name!r} to remove; it offers: {', '.join(names) or 'none'}.",
                    key=name,
                    suggestions=difflib.get_close_matches(name, names, n=1),
                )
            self._set_tools([t for t, n in zip(current, names, strict=True) if n != name])
            return
        name = _spec_name(tool_sig)
        assert isinstance(tool_sig, Mapping)  # _spec_name refused anything else
        spec: ToolSpec = {"type": "function", "function": dict(tool_sig["function"])}
        if name in names:
            current[names.index(name)] = spec
        else:
            current.append(spec)
        self._set_tools(current)

    def _offer(self, f: Callable[..., Any], name: str | None, description: str | None) -> None:
        """Add ``f``'s schema to the tools offered to the model (replacing one of the same name)."""
        self.update_tool_signature(function_schema(f, name=name, description=description), is_remove=False)

    def _execute(self, f: Callable[..., Any], name: str | None) -> None:
        """Map the tool's name to ``f`` wrapped in argument validation."""
        from parley.agentchat import _tool_schema

        chosen = _tool_schema.tool_name(f, name)
        self._function_map[chosen] = _tool_schema.validating_function(f, name=chosen)

    def _set_tools(self, tools: Sequence[ToolSpec]) -> None:
        config = self.llm_config
        if isinstance(config, Mapping):
            new = dict(config)
            if tools:
                new["tools"] = list(tools)
            else:
                new.pop("tools", None)
            self.llm_config = new
        else:
            self._tool_specs = tuple(tools)

    @overload
    def register_for_llm(
        self, func: F, /, *, name: str | None = None, description: str | None = None, api_style: str = "tool"
    ) -> F: ...

    @overload
    def register_for_llm(
        self, func: None = None, /, *, name: str | None = None, description: str | None = None, api_style: str = "tool"
    ) -> Callable[[F], F]: ...

    def register_for_llm(
        self,
        func: F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        api_style: str = "tool",
    ) -> F | Callable[[F], F]:
        """Offer a function to this agent's model as a tool (a decorator).

        Use it as ``@agent.register_for_llm(description="...")``, ``@agent.register_for_llm()``
        or bare ``@agent.register_for_llm``. It returns the function unchanged, so it stacks
        with `register_for_execution` (and with other agents' ``register_for_llm``) in either
        order. As in AutoGen 0.2, a name or description given to a decorator is remembered on
        the function and used by any later decorator that gives none.

        Args:
            func: the function, when used bare.
            name: the tool's name. Default: the name given to a stacked decorator, else
                ``func.__name__``.
            description: what the tool does. Default: the one given to a stacked decorator,
                else the docstring's first paragraph.
            api_style: ``"tool"`` (default) adds it to ``llm_config["tools"]``; ``"function"``
                to ``llm_config["functions"]``, 0.2's legacy function calling (sent to the model
                as a tool; its calls come back as ``function_call`` messages, see
                `parley.agentchat._function_calls`).

        Returns:
            The decorator, or with ``func`` given, ``func`` itself.

        Raises:
            UsageError: the agent has no llm_config (also an AssertionError, as in 0.2).
            ConfigError: ``api_style`` is neither ``"tool"`` nor ``"function"``; or the function
                cannot be described, or has no description ("Function description is required,
                none found.", 0.2's words; see `function_schema`).
        """
        if api_style not in ("tool", "function"):
            raise ConfigError(
                f"api_style must be 'tool' (the OpenAI tools API) or 'function' (0.2's legacy functions API), "
                f"got {api_style!r}.",
                key="api_style",
                suggestions=difflib.get_close_matches(str(api_style), ["tool", "function"], n=1),
            )
        self._needs_llm_config("register_for_llm")
        if api_style == "function":

            def as_function(f: F) -> F:
                chosen_name = name or _remembered(f, _NAME_ATTR)
                chosen_description = description or _remembered(f, _DESCRIPTION_ATTR)
                spec = function_schema(f, name=chosen_name, description=chosen_description)
                self.update_function_signature(spec["function"], is_remove=False)  # type: ignore[attr-defined]
                _remember(f, _NAME_ATTR, name)
                _remember(f, _DESCRIPTION_ATTR, description)
                return f

            return as_function if func is None else as_function(func)

        def decorator(f: F) -> F:
            self._offer(f, name or _remembered(f, _NAME_ATTR), description or _remembered(f, _DESCRIPTION_ATTR))
            _remember(f, _NAME_ATTR, name)
            _remember(f, _DESCRIPTION_ATTR, description)
            return f

        return decorator if func is None else decorator(func)

    @overload
    def register_for_execution(self, name: F) -> F: ...

    @overload
    def register_for_execution(self, name: str | None = None) -> Callable[[F], F]: ...

    def register_for_execution(self, name: str | F | None = None) -> F | Callable[[F], F]:
        """Let this agent run a function when a model calls it (a decorator).

        The function is wrapped: each call's JSON arguments are validated and coerced by pydantic
        against its type hints before it runs. Arguments that do not fit come back to the model as
        ``"Error: bad arguments for 'name': ..."``, naming each bad argument. Arguments that are
        not a JSON object within bounds (at most 1 MiB of text, 100 levels of nesting and 4,300
        digits per integer) come back as ``"Error: the arguments for 'name' ..."``, saying what to
        send instead. Async functions are awaited; sync ones run in a worker thread.

        Use it as ``@agent.register_for_execution()``, ``@agent.register_for_execution("name")``,
        ``@agent.register_for_execution(name="name")`` (AutoGen 0.2's form) or bare
        ``@agent.register_for_execution``. It returns the function unchanged.

        Args:
            name: the tool's name. Default: the name given to a stacked `register_for_llm`, else
                ``func.__name__``. (When used bare, this is the function.)

        Returns:
            The decorator, or, used bare, the function itself.

        Raises:
            ConfigError: the name breaks OpenAI's rule, or the function's parameters cannot be
                described (see `function_schema`).
        """
        if callable(name):
            return self.register_for_execution()(name)
        explicit = name

        def decorator(f: F) -> F:
            self._execute(f, explicit or _remembered(f, _NAME_ATTR))
            _remember(f, _NAME_ATTR, explicit)
            return f

        return decorator


def register_function(
    f: Callable[..., Any],
    *,
    caller: ToolsMixin,
    executor: ToolsMixin,
    name: str | None = None,
    description: str | None = None,
) -> None:
    """Offer ``f`` to ``caller``'s model and let ``executor`` run the calls (AutoGen 0.2's function).

    Args:
        f: the tool function, sync or async, with annotated parameters. Unlike the decorators,
            this leaves no name or description remembered on ``f``.
        caller: the agent whose model may call the tool (it needs an llm_config).
        executor: the agent that runs the calls; it may be ``caller`` itself.
        name: the tool's name. Default: ``f.__name__``.
        description: what the tool does, for the model. Default: the first paragraph of ``f``'s
            docstring (AutoGen 0.2 requires it).

    Raises:
        ConfigError: ``caller`` or ``executor`` is not an agent that takes tools, ``caller`` has
            no llm_config, or ``f`` cannot be described (see `function_schema`).
    """
    for role, agent in (("caller", caller), ("executor", executor)):
        if not isinstance(agent, ToolsMixin):
            raise ConfigError(
                f"register_function: {role} must be an agent that takes tools (a ConversableAgent), "
                f"got {type(agent).__name__}.",
                key=role,
            )
    caller._needs_llm_config("register_function")
    caller._offer(f, name, description)
    executor._execute(f, name)
