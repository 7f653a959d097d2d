"""AutoGen 0.2's block conventions the executors keep: notebook-style ``!cmd`` shell lines, untagged blocks."""

from __future__ import annotations

import pytest

from parley.coding import CodeBlock, MarkdownCodeExtractor
from parley.coding.jupyter._blocks import block_source, strip_shell_escapes


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('!echo "hello world!"', 'echo "hello world!"'),
        ("  !ls -la\ncd /tmp\n!pwd", "  ls -la\ncd /tmp\npwd"),
        ("! false", "! false"),  # bash's negation keeps its meaning
        ("!= x", "!= x"),
        ("!!", "!!"),
        ('echo "a!b"', 'echo "a!b"'),  # only a leading "!" is an escape
    ],
)
def test_shell_escapes_are_dropped_from_shell_lines(code: str, expected: str) -> None:
    assert strip_shell_escapes(code) == expected


def test_a_bang_pip_install_in_a_shell_block_is_made_quiet() -> None:
    assert block_source("!pip install numpy", "bash") == "pip install -qqq numpy"
    assert block_source("!pip install numpy", "python") == "!pip install -qqq numpy"  # IPython runs it as it is


def test_an_untagged_block_that_is_not_code_has_no_language_as_in_autogen() -> None:
    # 0.2's test_markdown_code_extractor expects "" (not "unknown") for such a block.
    message = "Some C#:\n```\nusing System;\nnamespace App { class P { } }\n```\n"
    assert MarkdownCodeExtractor().extract_code_blocks(message) == [
        CodeBlock("using System;\nnamespace App { class P { } }", "")
    ]
