"""A function's tool schema and argument validation, both from its type hints, through pydantic.

`function_schema` describes a Python function the way the OpenAI tools API wants it.
`validating_function` wraps the function so that the JSON arguments a model sends are checked
and coerced before it runs: dicts become pydantic models, strings become enum members, ``"3"``
becomes ``3`` for an ``int``. Arguments that do not fit raise `ToolArgumentsError`, which the
tool runner turns into an ``"Error: bad arguments for ..."`` response for the model.

Both build one pydantic model of the function's parameters, so pydantic alone decides what an
annotation means. There is no hand-written table of types. Covered: ``Annotated[T, "text"]``
and ``Annotated[T, Field(description=...)]``, pydantic models, defaults, ``Optional[T]`` /
``T | None``, ``Literal``, ``enum.Enum``, ``list``, ``dict`` and any nesting of them.

Rules, following AutoGen 0.2:

- Every parameter without a default needs an annotation. An unannotated parameter with a
  default takes its default's type, or any JSON value when the default is None.
- ``*args`` and ``**kwargs`` are refused: a model can only send named arguments.
- The description defaults to the docstring's first paragraph. One is required.
- Names follow OpenAI's rule: ``^[a-zA-Z0-9_-]{1,64}$``.

Importing this module imports pydantic, which costs about 40-60 ms. `parley.agentchat.tools`
imports it only when the first tool is registered.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, ValidationError, create_model

from parley.agentchat._tools import ToolArgumentsError
from parley.exceptions import ConfigError
from parley.llm.types import ToolSpec

__all__ = ["ArgumentsModel", "arguments_model", "function_schema", "tool_name", "validating_function"]

NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""OpenAI's rule for a function name (the ``name`` of a tool in the chat-completions API)."""

_DEFS = "#/$defs/"
_INPUT_SHOWN = 80  # characters of a rejected argument value quoted back to the model


def _target(f: Callable[..., Any]) -> Callable[..., Any]:
    """The function behind ``functools.partial`` layers (its name and docstring are the real ones)."""
    while isinstance(f, functools.partial):
        f = f.func
    return f


def tool_name(f: Callable[..., Any], name: str | None = None) -> str:
    """The name a tool is offered under: ``name``, else the function's ``__name__``.

    Raises:
        ConfigError: the name breaks OpenAI's rule ``^[a-zA-Z0-9_-]{1,64}$`` (a lambda's
            ``<lambda>`` does), or the callable has no name and none was given.
    """
    chosen = name if name is not None else getattr(_target(f), "__name__", None)
    if chosen is None:
        raise ConfigError(f"{f!r} has no __name__; pass name= to register it as a tool.", key="name")
    if not isinstance(chosen, str) or not NAME_RULE.match(chosen):
        raise ConfigError(
            f"Tool name {chosen!r} is not allowed: OpenAI requires 1 to 64 characters, each a letter, digit, "
            "'_' or '-' (^[a-zA-Z0-9_-]{1,64}$). Pass name= to offer it under another name.",
            key="name",
        )
    return chosen


def _doc_summary(f: Callable[..., Any]) -> str | None:
    """The first paragraph of the docstring, its lines joined by single spaces; None without one."""
    doc = getattr(_target(f), "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    first = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(first.split())


def _described(annotation: Any) -> Any:
    """``Annotated[T, "text", ...]`` -> ``Annotated[T, Field(description="text"), ...]``.

    pydantic ignores plain strings in ``Annotated``; AutoGen 0.2 reads the first one as the
    parameter's description. A ``Field(description=...)`` given too wins, being later.
    """
    if get_origin(annotation) is not Annotated:
        return annotation
    base, *metadata = get_args(annotation)
    texts = [m for m in metadata if isinstance(m, str)]
    if not texts:
        return annotation
    rest = [m for m in metadata if not isinstance(m, str)]
    return Annotated[(base, Field(description=texts[0]), *rest)]


@dataclass(frozen=True)
class _Param:
    field: str  # the pydantic field name: p0, p1 ... (parameter names may clash with BaseModel's)
    name: str  # the parameter's own name, the field's alias and the name the model sees
    positional_only: bool


@dataclass(frozen=True)
class ArgumentsModel:
    """A function's parameters as one pydantic model.

    Attributes:
        model: the model; its fields are aliased to the parameter names and extra keys are
            forbidden.
        params: each parameter's field, name and whether it is positional-only, in order.
    """

    model: type[BaseModel]
    params: tuple[_Param, ...]


def _signature(f: Callable[..., Any], name: str) -> inspect.Signature:
    try:
        return inspect.signature(f, eval_str=True)
    except (NameError, SyntaxError) as e:
        raise ConfigError(
            f"Tool {name!r}: a type annotation cannot be resolved ({e}). Define the types it uses at "
            "module level, where the function's globals can see them.",
            key=name,
        ) from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Tool {name!r}: cannot read the signature of {f!r}: {e}", key=name) from None


def _annotation(p: inspect.Parameter) -> Any:
    if p.annotation is not p.empty:
        return _described(p.annotation)
    return Any if p.default is None else type(p.default)


def arguments_model(f: Callable[..., Any], name: str) -> ArgumentsModel:
    """Build the pydantic model of ``f``'s parameters.

    Args:
        f: a function, method, ``functools.partial`` or callable object.
        name: the tool's name, for error messages and the model's title.

    Returns:
        The model and the parameter list.

    Raises:
        ConfigError: a parameter is ``*args`` or ``**kwargs``, a parameter without a default has
            no annotation, or an annotation cannot be turned into a JSON schema (each error
            names the parameter).
    """
    sig = _signature(f, name)
    fields: dict[str, Any] = {}
    params: list[_Param] = []
    missing: list[str] = []
    for i, p in enumerate(sig.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise ConfigError(
                f"Tool {name!r}: {stars}{p.name} cannot be described to a model, which sends named "
                "arguments only. Give the function named, annotated parameters.",
                key=p.name,
            )
        if p.annotation is p.empty and p.default is p.empty:
            missing.append(p.name)
            continue
        default = ... if p.default is p.empty else p.default
        fields[f"p{i}"] = (Annotated[_annotation(p), Field(alias=p.name)], default)
        params.append(_Param(f"p{i}", p.name, p.kind is p.POSITIONAL_ONLY))
    if missing:
        shown = ", ".join(repr(m) for m in missing)
        raise ConfigError(
            f"Tool {name!r}: every parameter without a default needs a type annotation (it becomes the "
            f"JSON schema the model reads); missing on {shown}. For example: def {name}(city: str) -> str.",
            key=missing[0],
        )
    try:
        model = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
        model.model_json_schema()
    except PydanticUserError as e:
        raise _unschemable(name, sig, e) from None
    return ArgumentsModel(model, tuple(params))


def _unschemable(name: str, sig: inspect.Signature, error: Exception) -> ConfigError:
    """The ConfigError for an annotation pydantic cannot describe, naming the first bad parameter."""
    for p in sig.parameters.values():
        try:
            TypeAdapter(_annotation(p)).json_schema()
        except PydanticUserError as e:
            return ConfigError(
                f"Tool {name!r}: parameter {p.name!r} has a type that cannot be sent as JSON "
                f"({p.annotation!r}): {e.message}. Use JSON-friendly types: str, int, float, bool, "
                "list, dict, Literal, enums, pydantic models.",
                key=p.name,
            )
    return ConfigError(f"Tool {name!r}: its parameters cannot be described as a JSON schema: {error}", key=name)


def _without_parameter_titles(properties: dict[str, Any]) -> dict[str, Any]:
    """``properties`` without the ``"title"`` pydantic derives from each parameter's name.

    ``"city"`` would carry ``"title": "City"``: noise to a model, and absent from AutoGen 0.2's
    schemas. Only the parameters lose it: the fields of a pydantic model or TypedDict inside keep
    theirs, and so does the title of a type itself (``"title": "Currency"``), as in 0.2. A title
    given explicitly (``Field(title=...)``) stays.
    """
    out: dict[str, Any] = {}
    for name, node in properties.items():
        derived = name.title().replace("_", " ").strip()
        if isinstance(node, dict) and node.get("title") == derived:
            node = {k: v for k, v in node.items() if k != "title"}
        out[name] = node
    return out


class _Recursive(Exception):
    pass


def _inline_defs(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Replace each ``{"$ref": "#/$defs/X", ...}`` by X's schema merged with the ref's siblings.

    Small local models read inline schemas more reliably than references. A recursive type
    cannot be inlined: then the schema keeps ``$defs`` (which the OpenAI API accepts).
    """

    def walk(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_DEFS):
                key = ref[len(_DEFS) :]
                if key in seen:
                    raise _Recursive
                target = walk(defs[key], seen | {key})
                return {**target, **{k: walk(v, seen) for k, v in node.items() if k != "$ref"}}
            return {k: walk(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    try:
        inlined: dict[str, Any] = walk(schema, frozenset())
    except _Recursive:
        return {**schema, "$defs": defs}
    return inlined


def function_schema(f: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> ToolSpec:
    """Describe ``f`` as a tool for the OpenAI tools API.

    Args:
        f: the function (sync or async), method, ``functools.partial`` or callable object.
        name: the tool's name. Default: ``f.__name__``.
        description: what the tool does, for the model. Default: the first paragraph of ``f``'s
            docstring.

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters"}}``. The
        parameters are a JSON schema object. Parameters with a default are not ``required``
        and show their ``"default"``. The schema has AutoGen 0.2's shape (no
        ``"additionalProperties"``, which people compare against), but calls with extra arguments
        are still refused when they run (see `arguments_model`). Nested types are inlined, except
        recursive ones, which stay under ``"$defs"``.

    Raises:
        ConfigError: the name breaks OpenAI's rule, there is neither a description nor a
            docstring, or a parameter cannot be described (see `arguments_model`).
    """
    chosen = tool_name(f, name)
    text = description if description is not None else _doc_summary(f)
    if not text:
        raise ConfigError(  # 0.2's text first, as its tests compare e.args[0]
            "Function description is required, none found.",
            hint=f"Tool {chosen!r} needs a description for the model: pass description=... or give the function "
            "a docstring.",
            key="description",
        )
    raw = arguments_model(f, chosen).model.model_json_schema()
    parameters: dict[str, Any] = {"type": "object", "properties": _without_parameter_titles(raw.get("properties", {}))}
    if raw.get("required"):
        parameters["required"] = raw["required"]
    if "$defs" in raw:
        parameters = _inline_defs(parameters, raw["$defs"])
    return {"type": "function", "function": {"name": chosen, "description": text, "parameters": parameters}}


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except ValueError:  # circular structures
        text = repr(value)
    return text if len(text) <= _INPUT_SHOWN else text[: _INPUT_SHOWN - 3] + "..."


def _problems(error: ValidationError) -> tuple[str, ...]:
    """One line per pydantic error: ``where: what (got value)``; the value is left out when missing."""
    out = []
    for e in error.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"]) or "arguments"
        line = f"{where}: {e['msg']}"
        if e["type"] != "missing":
            line += f" (got {_shown(e['input'])})"
        out.append(line)
    return tuple(out)


def _is_async(f: Callable[..., Any]) -> bool:
    """True for an async function, or a callable object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(type(f).__call__)


def validating_function(f: Callable[..., Any], *, name: str) -> Callable[..., Any]:
    """Wrap ``f`` so that each call first validates and coerces its keyword arguments.

    Args:
        f: the tool function. An async ``f`` gives an async wrapper (awaited by the tool
            runner); a sync one gives a sync wrapper (run in a thread).
        name: the tool's name, used in error messages.

    Returns:
        ``wrapper(**arguments)``, which validates the arguments against ``f``'s parameters
        with pydantic, then calls ``f`` with the coerced values. Omitted parameters get their
        defaults. ``functools.wraps`` keeps ``f``'s name, docstring and signature; ``f`` itself
        is also ``wrapper._origin``, where AutoGen 0.2 code looks for it.

    Raises:
        ConfigError: now, when ``f``'s parameters cannot be described (see `arguments_model`).

    The wrapper raises `ToolArgumentsError` for arguments that do not fit (a wrong type, a
    missing required one, an unknown one, a value outside a Literal or enum). The message
    names each bad argument.
    """
    spec = arguments_model(f, name)

    def bind(arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        try:
            values = spec.model.model_validate(arguments)
        except ValidationError as e:
            raise ToolArgumentsError(name, _problems(e)) from None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in spec.params:
            value = getattr(values, p.field)
            if p.positional_only:
                args.append(value)
            else:
                kwargs[p.name] = value
        return args, kwargs

    if _is_async(f):

        async def call_async(**arguments: Any) -> Any:
            args, kwargs = bind(arguments)
            return await f(*args, **kwargs)

        return _with_origin(functools.wraps(f)(call_async), f)

    def call(**arguments: Any) -> Any:
        args, kwargs = bind(arguments)
        return f(*args, **kwargs)

    return _with_origin(functools.wraps(f)(call), f)


def _with_origin(wrapper: Callable[..., Any], f: Callable[..., Any]) -> Callable[..., Any]:
    # AutoGen 0.2 keeps the registered function as ``_origin`` on what ``function_map`` holds, and
    # its notebooks check ``function_map[name]._origin == f``; ``__wrapped__`` holds the same.
    wrapper._origin = f  # type: ignore[attr-defined]
    return wrapper
