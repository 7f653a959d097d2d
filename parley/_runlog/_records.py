"""What each logged record holds, shared by the SQLite and the file logger (one serialisation)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from parley._runlog.logger_utils import SECRET_KEYS, to_dict

__all__ = ["config_json", "response_json", "safe_json", "source_name"]


def safe_json(obj: Any) -> str:
    """``obj`` as JSON; what JSON cannot hold is written as ``<<non-serializable: Type>>``."""

    def default(o: Any) -> str:
        to_json = getattr(o, "to_json", None)
        return str(to_json()) if callable(to_json) else f"<<non-serializable: {type(o).__qualname__}>>"

    return json.dumps(obj, default=default)


def config_json(init_args: Mapping[str, Any], *, agent: Any = None) -> str:
    """Constructor arguments as JSON, without `SECRET_KEYS` at any depth, agents named not walked.

    An agent is any object of a class in ``agent``'s lineage that replies (``generate_reply``): the
    loggers sit below ``agentchat`` and cannot import its classes.
    """
    agents = tuple(c for c in type(agent).__mro__ if "generate_reply" in vars(c)) if agent is not None else ()
    return safe_json(to_dict(init_args, exclude=SECRET_KEYS, no_recursive=agents))


def response_json(response: Any) -> str:
    """A model call's response as JSON: ``{"response": text}`` for None or an error text, else the completion."""
    if response is None or isinstance(response, str):
        return json.dumps({"response": response})
    dump = getattr(response, "model_dump", None)
    return safe_json(dump() if callable(dump) else to_dict(response))


def source_name(source: Any) -> str | None:
    """The name of who logged: the string itself, or the object's ``name``."""
    if source is None or isinstance(source, str):
        return source
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else type(source).__name__
