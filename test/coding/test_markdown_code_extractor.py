"""MarkdownCodeExtractor: CommonMark fences, languages, content parts."""

from __future__ import annotations

from typing import Any

import pytest

from parley.coding import CodeBlock, CodeExtractor, MarkdownCodeExtractor


def extract(message: str | list[dict[str, Any]] | None) -> list[CodeBlock]:
    return MarkdownCodeExtractor().extract_code_blocks(message)


def test_is_a_code_extractor() -> None:
    assert isinstance(MarkdownCodeExtractor(), CodeExtractor)


def test_backtick_and_tilde_fences_in_order() -> None:
    message = "First:\n```python\nprint(1)\n```\nthen\n~~~bash\necho hi\n~~~\n"
    assert extract(message) == [CodeBlock("print(1)", "python"), CodeBlock("echo hi", "bash")]


def test_longer_fence_contains_shorter_ones() -> None:
    message = "````markdown\nExample:\n```python\nprint(1)\n```\n````\n"
    assert extract(message) == [CodeBlock("Example:\n```python\nprint(1)\n```", "markdown")]


def test_python_block_whose_code_contains_a_fence() -> None:
    message = '````python\ndoc = """\n```\ninside\n```\n"""\nprint(doc)\n````'
    (block,) = extract(message)
    assert block.language == "python"
    assert block.code == 'doc = """\n```\ninside\n```\n"""\nprint(doc)'


def test_fences_indented_up_to_three_spaces() -> None:
    message = "   ```python\n   x = 1\n   print(x)\n   ```\n"
    assert extract(message) == [CodeBlock("x = 1\nprint(x)", "python")]


def test_four_space_indented_code_without_a_fence_is_not_code_to_run() -> None:
    message = "Example output:\n\n    print('not run')\n\n\tprint('nor this')\n"
    assert extract(message) == []


def test_fences_indented_four_or_more_spaces_are_extracted_as_in_autogen() -> None:
    # After a blank line CommonMark reads these as an indented code block, right after a
    # sentence as paragraph text; AutoGen 0.2 ran them, and models write them.
    message = (
        "Example output:\n\n    print('not run')\n\nRun:\n\n    ```python\n    def f():\n        return 2\n"
        "    print(f())\n    ```\nthen, right after a sentence:\n        ```bash\n        echo hi\n        ```\n"
        "and with a tab:\n\n\t~~~sh\n\tls\n\t~~~\n\n```python\nprint(3)\n```\n"
    )
    assert extract(message) == [
        CodeBlock("def f():\n    return 2\nprint(f())", "python"),
        CodeBlock("echo hi", "bash"),
        CodeBlock("ls", "sh"),
        CodeBlock("print(3)", "python"),
    ]


def test_indented_fences_inside_a_fence_stay_its_content() -> None:
    message = "````markdown\n    ```python\n    x = 1\n    ```\n````\n"
    assert extract(message) == [CodeBlock("    ```python\n    x = 1\n    ```", "markdown")]


def test_unclosed_indented_fence_is_skipped() -> None:
    assert extract("Run:\n\n    ```python\n    import os\n    os.rem") == []


def test_crlf_line_endings() -> None:
    message = "Run this:\r\n```python\r\nprint(1)\r\nprint(2)\r\n```\r\n"
    assert extract(message) == [CodeBlock("print(1)\nprint(2)", "python")]


def test_fences_in_lists_and_block_quotes() -> None:
    message = "- step one\n\n  ```sh\n  ls\n  ```\n\n> ```python\n> print(1)\n> ```\n"
    assert extract(message) == [CodeBlock("ls", "sh"), CodeBlock("print(1)", "python")]


def test_unclosed_fence_is_skipped() -> None:
    message = "```python\nprint(1)\n```\n\nand the rest was cut off:\n```python\nimport os\nos.rem"
    assert extract(message) == [CodeBlock("print(1)", "python")]


def test_blank_blocks_are_skipped() -> None:
    assert extract("```python\n\n   \n```\n") == []


@pytest.mark.parametrize(
    ("info", "language"),
    [
        ("python", "python"),
        ("Python", "python"),
        ("py", "python"),
        ("python3", "python"),
        ("bash", "bash"),
        ("sh", "sh"),
        ("shell", "shell"),
        ("console", "console"),
        ("ps1", "pwsh"),
        ("powershell", "pwsh"),
        ("json", "json"),
        ("python title='x.py'", "python"),
        ("{.python}", "python"),
    ],
)
def test_language_is_first_word_of_info_normalised(info: str, language: str) -> None:
    (block,) = extract(f"```{info}\n1 + 1\n```")
    assert block.language == language


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("pip install numpy", "sh"),
        ("python script.py", "sh"),
        ("ls -la\ncd ..", "sh"),
        ("import math\nprint(math.pi)", "python"),
        ("Hello, how are you?", ""),
    ],
)
def test_untagged_blocks_get_an_inferred_language(code: str, language: str) -> None:
    assert extract(f"```\n{code}\n```") == [CodeBlock(code, language)]


def test_content_parts_only_text_is_read() -> None:
    message: list[dict[str, Any]] = [
        {"type": "text", "text": "```python\nprint(1)\n```"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "```bash\necho 2\n```"},
    ]
    assert extract(message) == [CodeBlock("print(1)", "python"), CodeBlock("echo 2", "bash")]


def test_a_fence_does_not_span_two_content_parts() -> None:
    message: list[dict[str, Any]] = [
        {"type": "text", "text": "```python\nprint(1)"},
        {"type": "text", "text": "```"},
    ]
    assert extract(message) == []


@pytest.mark.parametrize("message", [None, "", "no code here", [], "inline `code` only", "```"])
def test_no_blocks(message: str | list[dict[str, Any]] | None) -> None:
    assert extract(message) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "code",
    ["[" * 5000, "1+" * 100_000 + "1", "not " * 100_000 + "x", "[" * 1_000_000, "-" * 1_000_000 + "1"],
    ids=["5000-brackets", "100000-plus", "100000-not", "1MB-brackets", "1MB-minus"],
)
def test_an_untagged_block_nested_too_deep_to_parse_has_no_language(code: str) -> None:
    """A model's message never makes extraction raise: such a block is kept, untagged ("" as in 0.2)."""
    message = f"Here it is:\n\n```\n{code}\n```\n\nand a tagged one:\n\n```python\nprint(1)\n```\n"
    assert extract(message) == [CodeBlock(code, ""), CodeBlock("print(1)", "python")]
