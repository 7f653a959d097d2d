"""Tool schemas from type hints, and validation of a model's arguments before a tool runs."""

from __future__ import annotations

import enum
import functools
import json
import threading
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from parley.agentchat._tool_schema import validating_function
from parley.agentchat._tools import ToolArgumentsError, run_tool_calls
from parley.agentchat.tools import function_schema
from parley.exceptions import ConfigError
from parley.llm.types import Message, ToolCall


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    """A postal address."""

    street: str
    zip_code: int = 0


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


class Opaque:
    """Not something a model can send as JSON."""


def params(f: Any, **kw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = function_schema(f, **kw)["function"]["parameters"]
    return schema


# ---- schemas ---------------------------------------------------------------------------------


def test_whole_spec_from_annotated_descriptions_defaults_and_docstring() -> None:
    def weather(
        city: Annotated[str, "The city, e.g. Paris"],
        days: Annotated[int, Field(description="How many days ahead", ge=1, le=7)] = 1,
        verbose: bool = False,
    ) -> str:
        """Forecast the weather
        for a city.

        Args:
            city: ignored here: the first paragraph alone is the description.
        """
        return city

    assert function_schema(weather) == {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Forecast the weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city, e.g. Paris"},
                    "days": {
                        "type": "integer",
                        "default": 1,
                        "description": "How many days ahead",
                        "minimum": 1,
                        "maximum": 7,
                    },
                    "verbose": {"type": "boolean", "default": False},
                },
                "required": ["city"],
            },
        },
    }
    spec = function_schema(weather, name="forecast", description="Explicit text.")
    assert (spec["function"]["name"], spec["function"]["description"]) == ("forecast", "Explicit text.")


def test_optional_literal_enum_list_dict_and_union() -> None:
    def f(
        a: Optional[int],  # noqa: UP045 - the typing spelling is what is tested
        b: str | None = None,
        mode: Literal["fast", "slow"] = "fast",
        unit: Unit = Unit.CELSIUS,
        tags: list[str] | None = None,
        scores: dict[str, float] | None = None,
        either: int | str = 0,
        pairs: list[tuple[str, int]] = [],  # noqa: B006 - never mutated
    ) -> None:
        """F."""

    assert params(f) == {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "b": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "title": "Unit", "default": "celsius"},
            "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None},
            "scores": {
                "anyOf": [{"type": "object", "additionalProperties": {"type": "number"}}, {"type": "null"}],
                "default": None,
            },
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0},
            "pairs": {
                "type": "array",
                "items": {
                    "type": "array",
                    "maxItems": 2,
                    "minItems": 2,
                    "prefixItems": [{"type": "string"}, {"type": "integer"}],
                },
                "default": [],
            },
        },
        "required": ["a"],
    }


ADDRESS_SCHEMA = {
    "type": "object",
    "title": "Address",
    "description": "A postal address.",
    "properties": {  # fields inside a model keep their titles, as in AutoGen 0.2
        "street": {"type": "string", "title": "Street"},
        "zip_code": {"type": "integer", "default": 0, "title": "Zip Code"},
    },
    "required": ["street"],
}


def test_pydantic_models_are_inlined_with_their_docstrings() -> None:
    def ship(to: Address, stops: Annotated[list[Address], "Where to stop on the way"] = []) -> str:  # noqa: B006
        """Ship a parcel."""
        return to.street

    assert params(ship) == {
        "type": "object",
        "properties": {
            "to": ADDRESS_SCHEMA,
            "stops": {
                "type": "array",
                "items": ADDRESS_SCHEMA,
                "default": [],
                "description": "Where to stop on the way",
            },
        },
        "required": ["to"],
    }


def test_recursive_models_keep_defs() -> None:
    def count(tree: Tree) -> int:
        """Count the nodes."""
        return 1

    assert params(count) == {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/Tree"}},
        "required": ["tree"],
        "$defs": {
            "Tree": {
                "type": "object",
                "title": "Tree",
                "properties": {
                    "label": {"type": "string", "title": "Label"},
                    "children": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/Tree"},
                        "default": [],
                        "title": "Children",
                    },
                },
                "required": ["label"],
            }
        },
    }


def test_unannotated_parameters_with_defaults_take_the_default_type() -> None:
    def f(a: int, b=2, c=None, *, d: str = "x") -> None:  # type: ignore[no-untyped-def]
        """F."""

    assert params(f)["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer", "default": 2},
        "c": {"default": None},
        "d": {"type": "string", "default": "x"},
    }


def test_methods_partials_callable_objects_and_async_functions() -> None:
    class Calculator:
        """Adds with an offset."""

        def __init__(self, offset: int) -> None:
            self.offset = offset

        def add(self, a: int, b: int) -> int:
            """Add two numbers."""
            return a + b + self.offset

        def __call__(self, a: int) -> int:
            return a + self.offset

    def scale(x: float, factor: float) -> float:
        """Scale a number."""
        return x * factor

    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    calc = Calculator(1)
    assert params(calc.add)["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
    double = functools.partial(scale, factor=2.0)
    spec = function_schema(double)["function"]
    assert (spec["name"], spec["description"]) == ("scale", "Scale a number.")
    assert spec["parameters"]["properties"] == {"x": {"type": "number"}, "factor": {"type": "number", "default": 2.0}}
    obj = function_schema(calc, name="offset_add")["function"]
    assert (obj["description"], obj["parameters"]["required"]) == ("Adds with an offset.", ["a"])
    assert function_schema(fetch)["function"]["parameters"]["required"] == ["url"]


def test_no_parameters() -> None:
    def now() -> str:
        """The time."""
        return "noon"

    assert params(now) == {"type": "object", "properties": {}}


# ---- bad functions ---------------------------------------------------------------------------


def test_missing_annotations_are_named() -> None:
    def f(a, b, c: int = 1):  # type: ignore[no-untyped-def]
        """F."""

    with pytest.raises(ConfigError, match=r"Tool 'f': every parameter without a default needs a type annotation") as e:
        function_schema(f)
    assert "missing on 'a', 'b'" in str(e.value)
    assert e.value.key == "a"


@pytest.mark.parametrize(
    ("source", "shown"),
    [("def f(*items: int) -> None:\n    'F.'", r"\*items"), ("def f(**opts: int) -> None:\n    'F.'", r"\*\*opts")],
)
def test_star_parameters_are_refused(source: str, shown: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(ConfigError, match=rf"Tool 'f': {shown} cannot be described to a model"):
        function_schema(namespace["f"])


def test_names_follow_openais_rule() -> None:
    with pytest.raises(ConfigError, match=r"Tool name '<lambda>' is not allowed: .*\^\[a-zA-Z0-9_-\]\{1,64\}\$"):
        function_schema(lambda x: x, description="Identity.")
    for bad in ("has space", "x" * 65, "", "dot.name"):
        with pytest.raises(ConfigError, match="is not allowed"):
            function_schema(test_no_parameters, name=bad, description="D.")
    assert function_schema(lambda: 1, name="a-B_9", description="D.")["function"]["name"] == "a-B_9"


def test_a_description_is_required() -> None:
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="Tool 'undocumented' needs a description for the model"):
        function_schema(undocumented)
    assert function_schema(undocumented, description="Echo.")["function"]["description"] == "Echo."


def test_types_that_cannot_be_json_are_named() -> None:
    def f(ok: int, thing: Opaque) -> None:
        """F."""

    with pytest.raises(ConfigError, match=r"Tool 'f': parameter 'thing' has a type that cannot be sent as JSON"):
        function_schema(f)


def test_unresolvable_annotations_say_where_to_define_types() -> None:
    def f(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        """F."""

    with pytest.raises(ConfigError, match=r"Tool 'f': a type annotation cannot be resolved .*module level"):
        function_schema(f)


# ---- validation on call ----------------------------------------------------------------------


def call(name: str, arguments: Any, call_id: str = "c1") -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


async def answer(f: Any, arguments: Any, name: str | None = None) -> str:
    tool = name or f.__name__
    reply: Message = await run_tool_calls([call(tool, arguments)], {tool: validating_function(f, name=tool)})
    return str(reply["tool_responses"][0]["content"])


def book(
    guest: Address, nights: int, unit: Unit = Unit.CELSIUS, room: Literal["single", "double"] = "single"
) -> Address:
    """Book a room; returns the address the bill goes to (``unit.value`` works on enum members only)."""
    return Address(street=f"{guest.street} ({nights} nights, {room}, {unit.value})", zip_code=guest.zip_code)


async def test_arguments_are_coerced_before_the_call() -> None:
    text = await answer(book, {"guest": {"street": "1 Main St", "zip_code": "75001"}, "nights": "3", "unit": "celsius"})
    assert json.loads(text) == {"street": "1 Main St (3 nights, single, celsius)", "zip_code": 75001}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"guest": {"street": "x"}, "nights": "three"},
            "Error: bad arguments for 'book': nights: Input should be a valid integer, unable to parse string as an "
            'integer (got "three")',
        ),
        ({"guest": {"street": "x"}}, "Error: bad arguments for 'book': nights: Field required"),
        (
            {"guest": {"street": "x"}, "nights": 1, "unit": "kelvin"},
            "Error: bad arguments for 'book': unit: Input should be 'celsius' or 'fahrenheit' (got \"kelvin\")",
        ),
        (
            {"guest": {"zip_code": 1}, "nights": 1, "room": "suite"},
            "Error: bad arguments for 'book': guest.street: Field required; "
            "room: Input should be 'single' or 'double' (got \"suite\")",
        ),
        (
            {"guest": {"street": "x"}, "nights": 1, "breakfast": True},
            "Error: bad arguments for 'book': breakfast: Extra inputs are not permitted (got true)",
        ),
    ],
)
async def test_bad_arguments_name_each_problem(arguments: dict[str, Any], expected: str) -> None:
    text = await answer(book, arguments)
    assert text.startswith(expected), text


async def test_long_rejected_values_are_shortened() -> None:
    text = await answer(book, {"guest": "x" * 200, "nights": 1})
    assert text == (
        "Error: bad arguments for 'book': guest: Input should be a valid dictionary or instance of Address "
        f'(got "{"x" * 76}...)'
    )


async def test_async_tools_stay_async_and_sync_tools_run_in_threads() -> None:
    seen: list[str] = []

    async def a_echo(text: str) -> str:
        """Echo."""
        seen.append(f"async on {threading.current_thread().name}")
        return text

    def echo(text: str, /, times: int = 1) -> str:
        """Echo, positional-only."""
        seen.append("sync in a worker" if threading.current_thread() is not threading.main_thread() else "main")
        return text * times

    assert await answer(a_echo, {"text": "hi"}) == "hi"
    assert await answer(echo, {"text": "ab", "times": 2}) == "abab"
    assert seen == [f"async on {threading.main_thread().name}", "sync in a worker"]


async def test_errors_inside_the_tool_are_not_argument_errors() -> None:
    def strict(n: int) -> str:
        """Validates its own data and fails."""
        Address.model_validate({"zip_code": n})
        return "unreachable"

    text = await answer(strict, {"n": 1})
    assert text.startswith("Error: 1 validation error for Address")


def test_the_wrapper_raises_a_parley_error_with_fields() -> None:
    wrapper = validating_function(book, name="book")
    with pytest.raises(ToolArgumentsError) as e:
        wrapper(guest={"street": "x"}, nights=[])
    assert e.value.tool == "book"
    assert e.value.problems == ("nights: Input should be a valid integer (got [])",)
    assert (wrapper.__name__, wrapper.__doc__) == ("book", book.__doc__)


class Point(BaseModel):
    x_pos: int
    y_pos: Annotated[int, Field(title="Vertical")]


def test_only_the_parameters_lose_the_titles_pydantic_derives_from_their_names() -> None:
    def move(
        to_point: Point, speed_limit: float = 1.0, mode: Annotated[str, Field(title="Travel mode")] = "walk"
    ) -> None:
        """Move."""

    assert params(move)["properties"] == {
        "to_point": {
            "type": "object",
            "title": "Point",
            "properties": {
                "x_pos": {"type": "integer", "title": "X Pos"},
                "y_pos": {"type": "integer", "title": "Vertical"},
            },
            "required": ["x_pos", "y_pos"],
        },
        "speed_limit": {"type": "number", "default": 1.0},
        "mode": {"type": "string", "default": "walk", "title": "Travel mode"},  # given explicitly: kept
    }
