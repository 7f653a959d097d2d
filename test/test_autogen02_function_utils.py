"""`parley.function_utils` and `parley._pydantic`: AutoGen 0.2's step-by-step schema helpers and its checks."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
from pydantic import BaseModel

from parley import function_utils as fu
from parley._pydantic import PYDANTIC_V1, evaluate_forwardref, model_dump, type2schema


class Point(BaseModel):
    x: float
    y: float = 0.0


def area(a: Annotated[float, "side a"], b, c: Annotated[float, "side c"] = 1.0, d=2) -> float:  # type: ignore[no-untyped-def]
    return 0.0


def test_pydantic_helpers_are_pydantic_2s() -> None:
    assert PYDANTIC_V1 is False
    assert type2schema(int) == {"type": "integer"}
    assert model_dump(Point(x=1)) == {"x": 1.0, "y": 0.0}
    assert evaluate_forwardref("Point", globals()) is Point
    assert evaluate_forwardref("NotDefinedAnywhere", {}) == "NotDefinedAnywhere"  # lenient, as 0.2's


def test_signature_helpers_split_a_function_as_0_2_does() -> None:
    sig = fu.get_typed_signature(area)
    assert fu.get_required_params(sig) == ["a", "b"]
    assert fu.get_default_values(sig) == {"c": 1.0, "d": 2}
    assert fu.get_missing_annotations(sig, ["a", "b"]) == ({"b"}, {"d"})
    assert fu.get_typed_return_annotation(area) is float
    assert fu.get_typed_annotation("float", {}) is float


def test_parameters_are_json_schema_with_descriptions_and_defaults() -> None:
    sig = fu.get_typed_signature(area)
    params = fu.get_parameters(["a"], fu.get_param_annotations(sig), fu.get_default_values(sig))
    assert model_dump(params) == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "side a"},
            "c": {"type": "number", "description": "side c", "default": 1.0},
        },
        "required": ["a"],
    }
    assert fu.get_parameter_json_schema("p", Point, {})["description"] == "p"
    with pytest.raises(ValueError, match="should be a string"):
        fu.get_parameter_json_schema("p", Annotated[int, 3], {})


def test_get_function_schema_refuses_unannotated_required_parameters_with_0_2s_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(TypeError, match=r"annotations are missing for the following parameters: 'b'$"):
        fu.get_function_schema(area, description="area")

    def no_return(a: int, flag=True):  # type: ignore[no-untyped-def]
        return a

    with caplog.at_level(logging.WARNING, logger="parley.agentchat"):
        schema = fu.get_function_schema(no_return, description="d")
    assert schema["function"]["parameters"]["required"] == ["a"]
    assert "The return type of the function 'no_return' is not annotated." in caplog.text
    assert "with default values are not annotated: 'flag'." in caplog.text


def test_load_param_function_builds_models_only() -> None:
    load = fu.get_load_param_if_needed_function(Annotated[Point, "a point"])
    assert load is not None
    assert load({"x": 2}, Point) == Point(x=2)
    assert fu.get_load_param_if_needed_function(int) is None
