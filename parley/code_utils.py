"""``parley.code_utils``: AutoGen 0.2's code helpers where its users import them (``autogen.code_utils``).

Re-exports of parley's own functions, plus `extract_code` in AutoGen 0.2's return shape (a list
of ``(language, code)`` pairs) over `parley.coding.MarkdownCodeExtractor`.
"""

from __future__ import annotations

from parley.agentchat._display import content_str
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.coding.utils import create_virtual_env, infer_lang

__all__ = [
    "CODE_BLOCK_PATTERN",
    "DEFAULT_MODEL",
    "FAST_MODEL",
    "TIMEOUT_MSG",
    "UNKNOWN",
    "content_str",
    "create_virtual_env",
    "extract_code",
    "infer_lang",
]

UNKNOWN = "unknown"
"""What `infer_lang` answers, and `extract_code` tags, for text that is not code."""

TIMEOUT_MSG = "Timeout"
"""AutoGen 0.2's marker for a run that timed out (parley's results say so in words, exit code 124)."""

DEFAULT_MODEL = "gpt-4"
"""AutoGen 0.2's default model name."""

FAST_MODEL = "gpt-3.5-turbo"
"""AutoGen 0.2's fast model name."""

CODE_BLOCK_PATTERN = r"```[ \t]*(\w+)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```"
"""AutoGen 0.2's fence pattern, kept for code that passes it; parley parses Markdown instead."""


def extract_code(
    text: str | list[dict[str, object]], pattern: str = CODE_BLOCK_PATTERN, detect_single_line_code: bool = False
) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text`` as ``(language, code)`` pairs (AutoGen 0.2's shape).

    Args:
        text: a message's content (a string or content parts).
        pattern: accepted for AutoGen 0.2 compatibility; blocks are found by parsing Markdown.
        detect_single_line_code: accepted for AutoGen 0.2 compatibility; inline code is not run.

    Returns:
        One pair per block, in order; ``[(UNKNOWN, content_str(text))]`` when there is none.
    """
    blocks = MarkdownCodeExtractor().extract_code_blocks(text)
    if not blocks:
        return [(UNKNOWN, content_str(text))]
    return [(block.language, block.code) for block in blocks]
