"""``parley.function_utils``: AutoGen 0.2's tool-function helpers where its users import them.

`get_function_schema` is `parley.agentchat.tools.function_schema` with 0.2's checks in front:
a parameter without a default or an annotation is a ``TypeError`` with 0.2's words, and a missing
return annotation or an unannotated parameter with a default is logged as a warning on this
module's ``logger``. `serialize_to_str` is how tool results become text, and
`load_basemodels_if_needed` wraps a function so its arguments are validated and turned into their
annotated types (pydantic models included) before it runs, as parley does for every tool.

The step-by-step helpers 0.2 exposes (`get_typed_signature`, `get_parameters`,
`get_parameter_json_schema` ...) read signatures with `inspect` and describe types with
pydantic 2 (`parley._pydantic.type2schema`), the same calls the tool schema is built from.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

from parley._logging import get_logger
from parley._pydantic import JsonSchemaValue, evaluate_forwardref, type2schema
from parley.agentchat._tool_schema import tool_name, validating_function
from parley.agentchat._tools import stringify as serialize_to_str
from parley.agentchat.tools import function_schema

__all__ = [
    "Parameters",
    "get_default_values",
    "get_function_schema",
    "get_load_param_if_needed_function",
    "get_missing_annotations",
    "get_param_annotations",
    "get_parameter_json_schema",
    "get_parameters",
    "get_required_params",
    "get_typed_annotation",
    "get_typed_return_annotation",
    "get_typed_signature",
    "load_basemodels_if_needed",
    "logger",
    "serialize_to_str",
]

logger = get_logger("parley.agentchat")
"""Where `get_function_schema` warns about missing annotations (0.2 code patches its ``warning``)."""

_EMPTY = inspect.Parameter.empty


class Parameters(BaseModel):
    """A function's parameters as the OpenAI API describes them: a JSON schema object."""

    type: Literal["object"] = "object"
    properties: dict[str, JsonSchemaValue]
    required: list[str]


def get_typed_annotation(annotation: Any, globalns: dict[str, Any]) -> Any:
    """An annotation with a string (``"float"``) resolved against ``globalns``; other annotations as they are."""
    return evaluate_forwardref(annotation, globalns, globalns) if isinstance(annotation, str) else annotation


def get_typed_signature(call: Callable[..., Any]) -> inspect.Signature:
    """``call``'s signature with string annotations resolved against its globals (no return annotation)."""
    globalns = getattr(call, "__globals__", {})
    params = [
        p.replace(annotation=get_typed_annotation(p.annotation, globalns))
        for p in inspect.signature(call).parameters.values()
    ]
    return inspect.Signature(params)


def get_typed_return_annotation(call: Callable[..., Any]) -> Any:
    """``call``'s return annotation, resolved; None when it has none."""
    annotation = inspect.signature(call).return_annotation
    if annotation is _EMPTY:
        return None
    return get_typed_annotation(annotation, getattr(call, "__globals__", {}))


def get_param_annotations(typed_signature: inspect.Signature) -> dict[str, Any]:
    """The annotation of each annotated parameter, by name."""
    return {k: p.annotation for k, p in typed_signature.parameters.items() if p.annotation is not _EMPTY}


def get_required_params(typed_signature: inspect.Signature) -> list[str]:
    """The names of the parameters without a default, in order."""
    return [k for k, p in typed_signature.parameters.items() if p.default is _EMPTY]


def get_default_values(typed_signature: inspect.Signature) -> dict[str, Any]:
    """The default of each parameter that has one, by name."""
    return {k: p.default for k, p in typed_signature.parameters.items() if p.default is not _EMPTY}


def get_missing_annotations(typed_signature: inspect.Signature, required: list[str]) -> tuple[set[str], set[str]]:
    """The unannotated parameters: ``(those in required, those with a default)``."""
    unannotated = {k for k, p in typed_signature.parameters.items() if p.annotation is _EMPTY}
    missing = unannotated & set(required)
    return missing, unannotated - missing


def get_parameter_json_schema(k: str, v: Any, default_values: dict[str, Any]) -> JsonSchemaValue:
    """The JSON schema of parameter ``k`` of type ``v``, with its ``description`` and any ``default``.

    The description is the first metadata of ``Annotated[T, "text"]``, else the parameter's name.

    Raises:
        ValueError: ``v`` is ``Annotated`` and its first metadata is not a string.
    """
    schema = type2schema(v)
    if k in default_values:
        schema["default"] = default_values[k]
    description: Any = k
    if get_origin(v) is Annotated:
        description = get_args(v)[1]
        if not isinstance(description, str):
            raise ValueError(f"Invalid description {description} for parameter {k}, should be a string.")
    schema["description"] = description
    return schema


def get_parameters(
    required: list[str], param_annotations: dict[str, Any], default_values: dict[str, Any]
) -> Parameters:
    """The `Parameters` of a function from its required names, annotations and defaults."""
    properties = {
        k: get_parameter_json_schema(k, v, default_values) for k, v in param_annotations.items() if v is not _EMPTY
    }
    return Parameters(properties=properties, required=required)


def get_function_schema(f: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> Any:
    """``f`` described as a tool for the OpenAI API, checked as AutoGen 0.2 checks it.

    Args:
        f: the function (sync or async).
        name: the tool's name. Default: ``f.__name__``.
        description: what it does, for the model. Default: the docstring's first paragraph.

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters"}}`` (see
        `parley.agentchat.tools.function_schema`).

    Raises:
        TypeError: a parameter without a default has no annotation (0.2's message).
        ConfigError: no description, a name OpenAI refuses, or a type that cannot be described.
    """
    typed_signature = get_typed_signature(f)
    missing, unannotated_with_default = get_missing_annotations(typed_signature, get_required_params(typed_signature))
    fname = getattr(f, "__name__", name)
    if get_typed_return_annotation(f) is None:
        logger.warning(
            f"The return type of the function '{fname}' is not annotated. Although annotating it is optional, "
            "the function should return either a string, a subclass of 'pydantic.BaseModel'."
        )
    if unannotated_with_default:
        shown = ", ".join(f"'{k}'" for k in sorted(unannotated_with_default))
        logger.warning(
            f"The following parameters of the function '{fname}' with default values are not annotated: {shown}."
        )
    if missing:
        shown = ", ".join(f"'{k}'" for k in sorted(missing))
        raise TypeError(
            f"All parameters of the function '{fname}' without default values must be annotated. "
            f"The annotations are missing for the following parameters: {shown}"
        )
    return function_schema(f, name=name, description=description)


def get_load_param_if_needed_function(t: Any) -> Callable[[Any, type[BaseModel]], BaseModel] | None:
    """For a pydantic model type (also in ``Annotated``), a function ``(value, model) -> model(**value)``; else None."""
    if get_origin(t) is Annotated:
        return get_load_param_if_needed_function(get_args(t)[0])
    if isinstance(t, type) and issubclass(t, BaseModel):
        return _load_model
    return None


def _load_model(value: Any, model: type[BaseModel]) -> BaseModel:
    return model.model_validate(value)


def load_basemodels_if_needed(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` wrapped to validate and convert its keyword arguments first (see `validating_function`).

    Raises:
        ConfigError: ``func``'s parameters cannot be described.
    """
    return validating_function(func, name=tool_name(func))
