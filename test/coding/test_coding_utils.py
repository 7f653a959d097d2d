"""Language tags: aliases and inference for untagged blocks."""

from __future__ import annotations

import pytest

from parley.coding.utils import infer_lang, normalize_lang


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
