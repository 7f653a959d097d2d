"""``parley._pydantic``: the pydantic helpers AutoGen 0.2 code imports from ``autogen._pydantic``.

parley requires pydantic 2, so `PYDANTIC_V1` is always False and each helper is pydantic 2's own
call: `type2schema` is ``TypeAdapter(t).json_schema()``, `model_dump` is ``model.model_dump()``.
These are the calls `parley.agentchat._tool_schema` builds tool schemas with; nothing here is a
second schema generator.
"""

from __future__ import annotations

from typing import Any, ForwardRef

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic.version import VERSION as PYDANTIC_VERSION

__all__ = [
    "PYDANTIC_V1",
    "JsonSchemaValue",
    "evaluate_forwardref",
    "model_dump",
    "model_dump_json",
    "type2schema",
]

PYDANTIC_V1 = PYDANTIC_VERSION.startswith("1.")
"""Whether the installed pydantic is 1.x: always False, as parley requires pydantic 2."""


def type2schema(t: Any) -> JsonSchemaValue:
    """The JSON schema of a type (a class, ``Annotated[...]``, ``list[int]`` ...), as pydantic 2 writes it.

    Raises:
        pydantic.PydanticUserError: pydantic cannot describe ``t``.
    """
    return TypeAdapter(t).json_schema()


def model_dump(model: BaseModel) -> dict[str, Any]:
    """``model`` as a dict (``model.model_dump()``)."""
    return model.model_dump()


def model_dump_json(model: BaseModel) -> str:
    """``model`` as a JSON string (``model.model_dump_json()``)."""
    return model.model_dump_json()


def evaluate_forwardref(
    value: Any, globalns: dict[str, Any] | None = None, localns: dict[str, Any] | None = None
) -> Any:
    """Resolve a string annotation (or `typing.ForwardRef`) against a function's namespaces, leniently.

    Args:
        value: ``"float"``, ``ForwardRef("Model")``, or an annotation that is already a type.
        globalns: the function's globals. Default: none.
        localns: local names. Default: ``globalns``.

    Returns:
        The type the name refers to; ``value`` unchanged when it is not a string or forward
        reference, or when a name in it is not defined (as pydantic's lenient evaluation does).
    """
    text = value.__forward_arg__ if isinstance(value, ForwardRef) else value
    if not isinstance(text, str):
        return value
    try:
        return eval(text, dict(globalns or {}), localns)
    except NameError:
        return value
