"""``improve_code`` and ``improve_function`` (AutoGen 0.2's ``code_utils``): one request each, scripted server."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.code_utils import a_improve_code, improve_code, improve_function
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(60)


def _files(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "calc.py", tmp_path / "util.py"
    first.write_text("def add(a, b):\n    return a + b\n")
    second.write_text("def twice(x):\n    return x * 2\n")
    return [first, second]


def test_improve_code_sends_the_files_and_objective_and_returns_text_and_cost(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with ScriptedOpenAIServer(["1. Add type hints.", "Suggestions, then code."]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}
        text, cost = improve_code(files, "be typed", config_list=[entry])
        assert (text, isinstance(cost, float)) == ("1. Add type hints.", True)
        text, _ = improve_code([str(f) for f in files], "be typed", suggest_only=False, config_list=[entry])
        assert text == "Suggestions, then code."
        first, second = server.requests
    (message,) = first["messages"]
    assert message["role"] == "user"
    assert first["model"] == "gpt-4o-mini"
    for path in files:
        assert f"{path}:\n{path.read_text()}" in message["content"]
    assert "be typed" in message["content"]
    assert "improved code" not in message["content"]
    assert "followed by the improved code" in second["messages"][0]["content"]


async def test_improve_function_names_the_function_and_the_async_form_works(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with ScriptedOpenAIServer(["def add(a: int, b: int) -> int: ...", "ok"]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}
        text, _ = improve_function(files[0], "add", "add integers only", config_list=[entry])
        assert text.startswith("def add(a: int")
        assert (await a_improve_code(files[:1], "x", config_list=[entry]))[0] == "ok"
        content = server.requests[0]["messages"][0]["content"]
    assert "'add'" in content
    assert "add integers only" in content
    assert "def add(a, b):" in content
