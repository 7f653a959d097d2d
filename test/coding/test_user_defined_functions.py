"""User functions on the local executor (``functions=``), and ``pip install`` silenced in blocks.

Real subprocesses and a real pip; the packages "installed" are already in this environment (or a
local path that does not exist), so no test needs the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parley import AssistantAgent
from parley.coding import CodeBlock, LocalCommandLineCodeExecutor
from parley.coding.func_with_reqs import (
    Alias,
    FunctionWithRequirements,
    ImportFromModule,
    build_python_functions_file,
    to_stub,
    with_requirements,
)
from parley.exceptions import ConfigError

pytestmark = pytest.mark.timeout(120)


def add_two_numbers(a: int, b: int) -> int:
    """Add two numbers together."""
    return a + b


@with_requirements(
    python_packages=["markdown-it-py"],
    global_imports=[ImportFromModule("markdown_it", [Alias("MarkdownIt", "Md")]), Alias("json", "js")],
)
def count_headings(text: str) -> str:
    """Count the Markdown headings in ``text``.

    Returns:
        The count, as JSON.
    """
    return str(js.dumps(sum(t.type == "heading_open" for t in Md().parse(text))))  # type: ignore[name-defined]  # noqa: F821


@with_requirements(global_imports=["not_a_real_module_xyz"])
def needs_a_missing_module() -> None:
    """Import something that is not installed."""


def py(code: str) -> CodeBlock:
    return CodeBlock(code, "python")


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_blocks_import_user_functions_with_their_imports(tmp_path: Path, fork_server: bool) -> None:
    executor = LocalCommandLineCodeExecutor(
        work_dir=tmp_path, fork_server=fork_server, functions=[add_two_numbers, count_headings]
    )
    assert not (tmp_path / "functions.py").exists()  # the constructor does no I/O
    with executor:
        result = executor.execute_code_blocks(
            [py("from functions import add_two_numbers, count_headings\nprint(add_two_numbers(1, 2))")]
        )
        assert (result.exit_code, result.output) == (0, "3\n")
        result = executor.execute_code_blocks([py("import functions\nprint(functions.count_headings('# a\\n## b'))")])
        assert (result.exit_code, result.output) == (0, "2\n")
    module = (tmp_path / "functions.py").read_text()
    assert module.startswith("from markdown_it import MarkdownIt as Md\nimport json as js\n")
    assert "@with_requirements" not in module


def test_decorated_function_is_still_callable_here() -> None:
    assert with_requirements(python_packages=["x"])(add_two_numbers)(1, 2) == 3
    assert getattr(count_headings, "__name__", None) == "count_headings"
    assert "Markdown headings" in str(count_headings.__doc__)


def test_functions_module_name_and_string_functions(tmp_path: Path) -> None:
    sub = FunctionWithRequirements.from_str(
        'def subtract(a: int, b: int) -> int:\n    """Subtract b from a."""\n    return a - b\n'
    )
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, functions=[sub], functions_module="tools") as executor:
        result = executor.execute_code_blocks([py("from tools import subtract\nprint(subtract(5, 3))")])
    assert (result.exit_code, result.output) == (0, "2\n")
    assert executor.functions_module == "tools"
    assert executor.functions == [sub]


def test_a_string_function_is_never_run_here(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\n\ndef f() -> int:\n    return 1\n"
    func = FunctionWithRequirements.from_str(source)
    assert not marker.exists()
    assert to_stub(func) == "def f() -> int:\n    ..."
    with pytest.raises(NotImplementedError, match="executor"):
        func()


@pytest.mark.parametrize(
    "source", ["invaliddef f(a, b):\n    return a + b\n", "x = 1\n", "def f(): pass\ndef g(): pass\n"]
)
def test_a_string_that_is_not_one_function_is_a_value_error(source: str) -> None:
    with pytest.raises(ValueError, match=r"compile|exactly one function"):
        FunctionWithRequirements.from_str(source)


def test_prompt_shows_the_stubs_and_the_module(tmp_path: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path, functions=[add_two_numbers, count_headings])
    prompt = executor.format_functions_for_prompt()
    assert "`from functions import foo`" in prompt
    assert 'def add_two_numbers(a: int, b: int) -> int:\n    """Add two numbers together."""\n    ...' in prompt
    assert "def count_headings(text: str) -> str:" in prompt
    assert "The count, as JSON." in prompt
    assert executor.format_functions_for_prompt("$module_name: $functions").startswith("functions: def add_two")
    assistant = AssistantAgent("assistant", llm_config=False)
    executor.user_capability.add_to_agent(assistant)
    assert "def add_two_numbers(a: int, b: int) -> int:" in assistant.system_message


def test_a_module_that_does_not_load_is_a_config_error(tmp_path: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path, functions=[needs_a_missing_module])
    with executor, pytest.raises(ConfigError, match="not_a_real_module_xyz") as caught:
        executor.execute_code_blocks([py("print(1)")])
    assert isinstance(caught.value, ValueError)  # as AutoGen 0.2 raised
    assert "Loading the user functions module 'functions' failed" in str(caught.value)


def test_a_package_pip_cannot_install_is_a_config_error_with_pips_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_project"
    broken = FunctionWithRequirements.from_callable(add_two_numbers, python_packages=[str(missing)])
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", functions=[broken])
    with executor, pytest.raises(ConfigError, match="Installing the user functions' packages") as caught:
        executor.execute_code_blocks([py("print(1)")])
    assert "ERROR:" in str(caught.value)


@pytest.mark.parametrize("module", ["not-an-identifier", "1abc", ""])
def test_functions_module_must_be_an_identifier(module: str) -> None:
    with pytest.raises(ConfigError, match="functions_module"):
        LocalCommandLineCodeExecutor(functions=[add_two_numbers], functions_module=module)


def test_functions_file_keeps_each_import_once_in_order() -> None:
    first = FunctionWithRequirements.from_callable(add_two_numbers, global_imports=["os", Alias("json", "js")])
    second = FunctionWithRequirements.from_str("def g():\n    return os.sep\n", global_imports=["os", "sys"])
    text = build_python_functions_file([first, second])
    assert text.startswith("import os\nimport json as js\nimport sys\n\n\ndef add_two_numbers(")
    assert text.endswith("def g():\n    return os.sep\n")


def test_pip_install_in_a_block_is_silenced(tmp_path: Path) -> None:
    # A stand-in `pip` first on PATH shows the arguments the block ran it with.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pip"
    fake.write_text('#!/bin/sh\necho "pip $*"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", env=env) as executor:
        result = executor.execute_code_blocks([CodeBlock("pip install numpy pandas\npip install -q requests", "bash")])
    assert result.output == "pip install -qqq numpy pandas\npip install -q requests\n"
