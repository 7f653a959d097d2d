"""Language tags: aliases and inference for untagged blocks."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from parley.coding.utils import PYTHON_CHECK_LIMIT, infer_lang, normalize_lang, silence_pip


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("py", "python"),
        ("PY3", "python"),
        (" python3 ", "python"),
        ("Python", "python"),
        ("ps1", "pwsh"),
        ("PowerShell", "pwsh"),
        ("sh", "sh"),
        ("bash", "bash"),
        ("shell", "shell"),
        ("console", "console"),
        ("JSON", "json"),
    ],
)
def test_normalize_lang(tag: str, canonical: str) -> None:
    assert normalize_lang(tag) == canonical


@pytest.mark.parametrize(
    "code",
    [
        "pip install requests",
        "python3 -m http.server",
        "python train.py --epochs 3",
        "ls",
        "ls -la",
        "cd ..\nls",
        "echo hello",
        "git status",
        "# install first\nmkdir -p out",
        "#!/bin/bash\nfoo --bar",
        "#!/usr/bin/env bash\nset -e",
        "$ echo prompt",
    ],
)
def test_shell_commands_infer_sh(code: str) -> None:
    assert infer_lang(code) == "sh"


@pytest.mark.parametrize(
    "code",
    [
        "print(1)",
        "import os\nprint(os.getcwd())",
        "ls = [1, 2]\nprint(ls)",
        "cat(x)",
        "echo.upper()",
        "#!/usr/bin/env python3\nx = 1",
        "def f():\n    return 1",
    ],
)
def test_valid_python_infers_python(code: str) -> None:
    assert infer_lang(code) == "python"


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ('{"a": 1}', "json"),
        ("[1, 2, 3]", "json"),
        ("name: demo\nversion: 2", "yaml"),
        ("42", "text"),
        ("hello", "text"),
    ],
)
def test_data_that_parses_as_python_is_not_python(code: str, lang: str) -> None:
    assert infer_lang(code) == lang


@pytest.mark.parametrize("code", ["Hello, world!", "{not python", "", "   \n"])
def test_other_text_is_unknown(code: str) -> None:
    assert infer_lang(code) == "unknown"


# ---- any text gets an answer, in bounded work ------------------------------------------------

MB = 1_000_000
NESTED = {
    "5000-brackets": "[" * 5000,
    "100000-plus": "1+" * 100_000 + "1",
    "100000-not": "not " * 100_000,
    "3000-deep-json": "[" * 3000 + "]" * 3000,
    "1MB-brackets": "[" * MB,
    "1MB-plus": "1+" * (MB // 2) + "1",
    "1MB-calls": "f" + "()" * (MB // 2),
    "1MB-attributes": "a" + ".b" * (MB // 2),
    "1MB-lambdas": "lambda: " * (MB // 8) + "1",
    "1MB-conditionals": "a if b else " * (MB // 12) + "c",
    "1MB-minus": "-" * MB + "1",
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("code", NESTED.values(), ids=NESTED.keys())
def test_text_nested_deeper_than_the_parsers_hold_is_unknown(code: str) -> None:
    assert infer_lang(code) == "unknown"  # not RecursionError, MemoryError or ValueError


@pytest.mark.timeout(30)
def test_a_long_block_is_judged_by_a_bounded_head(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real_parse = ast.parse

    def counting_parse(source: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    program = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\nprint(area(2))\n" * 15_000  # 1.1 MB
    assert infer_lang(program) == "python"
    assert infer_lang("name: demo\nversion: 2\n" * 50_000) == "yaml"  # 1.1 MB of data is still data
    assert infer_lang("42\nhello\n" * 100_000) == "text"
    assert infer_lang("x = (\n" + "    1,\n" * 200_000 + ")\n") == "unknown"  # no statement ends within the limit
    # The cut falls before the last top-level statement that starts within the limit, never inside one
    # (here a try whose except clause lies beyond the limit).
    functions = "def f():\n    return 1\n\n\n" * (PYTHON_CHECK_LIMIT // 24)
    assert infer_lang(functions + "try:\n    x = '" + "x" * MB + "'\nexcept ValueError:\n    pass\n") == "python"
    # The parser saw at most PYTHON_CHECK_LIMIT characters of each 1 MB block: the work does not grow with the text.
    assert len(parsed) == 5
    assert max(parsed) <= PYTHON_CHECK_LIMIT


@pytest.mark.parametrize(
    ("lang", "code", "silenced"),
    [
        ("bash", "pip install numpy", "pip install -qqq numpy"),
        ("sh", "cd x\n  pip3 install a b", "cd x\n  pip3 install -qqq a b"),
        ("shell", "python -m pip install x", "python -m pip install -qqq x"),
        ("python", "!pip install numpy\n%pip install pandas", "!pip install -qqq numpy\n%pip install -qqq pandas"),
        ("ipython", "! pip install numpy", "! pip install -qqq numpy"),
        ("bash", "pip install -q numpy\npip install --quiet x", "pip install -q numpy\npip install --quiet x"),
        ("bash", "echo pip install x\npip installer", "echo pip install x\npip installer"),
        ("python", "pip install numpy", "pip install numpy"),
        ("json", "pip install numpy", "pip install numpy"),
    ],
)
def test_silence_pip_quiets_install_lines_as_autogen_does(lang: str, code: str, silenced: str) -> None:
    assert silence_pip(code, lang) == silenced
