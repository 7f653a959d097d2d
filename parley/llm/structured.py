"""Structured output: a pydantic model class as ``response_format``, and the reply parsed into it.

``response_format=MyModel`` (in ``llm_config``, a config entry, or per-call params) is sent as
OpenAI's JSON-schema response format::

    {"type": "json_schema", "json_schema": {"name": "MyModel", "schema": {...}, "strict": true}}

The schema is pydantic's ``model_json_schema()`` made *strict* as OpenAI's Structured Outputs
guide requires (https://platform.openai.com/docs/guides/structured-outputs, "Supported schemas"):
every object lists all its properties as ``required`` and sets ``additionalProperties: false``,
and a ``$ref`` has no sibling keywords (it is inlined when it has some). The reply's text is then
validated with ``MyModel.model_validate_json``.

pydantic is imported only when a model class is actually used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["is_model_class", "parse_structured", "response_format_param", "strict_schema"]

_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")


def is_model_class(value: Any) -> bool:
    """True when ``value`` is a pydantic model class rather than an OpenAI ``response_format`` dict.

    Any class with ``model_json_schema`` and ``model_validate_json`` class methods counts.
    """
    return (
        isinstance(value, type)
        and callable(getattr(value, "model_json_schema", None))
        and callable(getattr(value, "model_validate_json", None))
    )


def response_format_param(model: type[Any]) -> dict[str, Any]:
    """The OpenAI ``response_format`` body value for a pydantic model class.

    Args:
        model: a pydantic model class.

    Returns:
        ``{"type": "json_schema", "json_schema": {"name": ..., "schema": ..., "strict": True}}``;
        the name is the class name with characters outside ``[A-Za-z0-9_-]`` replaced by ``_``,
        cut to 64 characters (the API's limit).
    """
    name = _NAME_BAD.sub("_", model.__name__)[:64] or "response"
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": strict_schema(model.model_json_schema()), "strict": True},
    }


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema in the strict form OpenAI's Structured Outputs accept.

    Every object schema gets ``required`` = all its properties and ``additionalProperties:
    false``; a ``$ref`` with sibling keywords is replaced by the referenced definition merged
    with those keywords; ``"default": null`` is dropped. ``$defs`` stay at the root.
    """
    root = dict(schema)
    defs = root.get("$defs") or {}
    return _strict(root, defs)  # type: ignore[no-any-return]


def _strict(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, defs) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {k: _strict(v, defs) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and len(out) > 1 and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, Mapping):
            merged = {**_strict(target, defs), **{k: v for k, v in out.items() if k != "$ref"}}
            out = merged
    if "default" in out and out["default"] is None:
        del out["default"]
    if out.get("type") == "object" and isinstance(out.get("properties"), Mapping):
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def parse_structured(model: type[Any], content: Any) -> Any:
    """Validate a reply's text against ``model``.

    Args:
        model: the pydantic model class that was the ``response_format``.
        content: the reply's content (a JSON string).

    Returns:
        The parsed model instance.

    Raises:
        ValueError: the content is not a string, not JSON, or does not validate; the message
            names the class, the number of errors and the first few, each with its location.
    """
    if not isinstance(content, str):
        raise ValueError(f"the reply has no text to parse as {model.__name__} (content is {content!r})")
    from pydantic import ValidationError

    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        errors = exc.errors()
        shown = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValueError(
            f"the reply does not validate as {model.__name__}: {len(errors)} error(s): {shown}{more}"
        ) from None
