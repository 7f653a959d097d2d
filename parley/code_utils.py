"""``parley.code_utils``: AutoGen 0.2's code helpers where its users import them (``autogen.code_utils``).

Re-exports of parley's own functions, plus `extract_code` in AutoGen 0.2's return shape (a list
of ``(language, code)`` pairs) over `parley.coding.MarkdownCodeExtractor`. `execute_code` runs
through parley's executors (`parley.coding._one_shot`), the Docker helpers are
`parley.coding.docker_checks`, and `improve_code`/`improve_function` are one model call each
through `OpenAIWrapper` (`parley.llm.improve`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from parley.agentchat._display import content_str as _content_str
from parley.coding._one_shot import DEFAULT_TIMEOUT, SENTINEL, TIMEOUT_MSG, a_execute_code, execute_code
from parley.coding.docker_checks import (
    check_can_use_docker_or_throw,
    decide_use_docker,
    in_docker_container,
    is_docker_running,
)
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor, inline_code_spans
from parley.coding.utils import create_virtual_env, get_powershell_command, infer_lang
from parley.llm.improve import a_improve_code, a_improve_function, improve_code, improve_function

__all__ = [
    "CODE_BLOCK_PATTERN",
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "FAST_MODEL",
    "PATH_SEPARATOR",
    "SENTINEL",
    "TIMEOUT_MSG",
    "UNKNOWN",
    "WIN32",
    "a_execute_code",
    "a_improve_code",
    "a_improve_function",
    "check_can_use_docker_or_throw",
    "content_str",
    "create_virtual_env",
    "decide_use_docker",
    "execute_code",
    "extract_code",
    "get_powershell_command",
    "improve_code",
    "improve_function",
    "in_docker_container",
    "infer_lang",
    "is_docker_running",
]

WIN32 = sys.platform == "win32"
"""True on Windows, where 0.2's code and tests choose PowerShell over the Unix shells."""

PATH_SEPARATOR = os.sep
"""The platform's path separator (``"\\"`` on Windows, ``"/"`` elsewhere), as 0.2 names it."""

UNKNOWN = "unknown"
"""What `infer_lang` answers, and `extract_code` tags, for text that is not code."""

DEFAULT_MODEL = "gpt-4"
"""AutoGen 0.2's default model name."""

FAST_MODEL = "gpt-3.5-turbo"
"""AutoGen 0.2's fast model name."""


def content_str(content: str | list[Any] | None) -> str:
    """A message's content as one string (AutoGen 0.2's ``content_str``).

    Text parts are concatenated as they are (no separator), each ``image_url`` part becomes
    ``<image>``, None is ``""``.

    Args:
        content: None, a str, or a list of OpenAI content parts (dicts with a ``type``).

    Raises:
        TypeError: ``content`` is of another type, or a list item is not a dict.
        ValueError: a part's type is neither ``text`` nor ``image_url``.
    """
    return _content_str(content, strict=True)


CODE_BLOCK_PATTERN = r"```[ \t]*(\w+)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```"
"""AutoGen 0.2's fence pattern, kept for code that passes it; parley parses Markdown instead."""


def extract_code(
    text: str | list[dict[str, object]], pattern: str = CODE_BLOCK_PATTERN, detect_single_line_code: bool = False
) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text`` as ``(language, code)`` pairs (AutoGen 0.2's shape).

    Args:
        text: a message's content (a string or content parts).
        pattern: accepted for AutoGen 0.2 compatibility; blocks are found by parsing Markdown.
        detect_single_line_code: also return each inline code span (```` `ls -la` ````) as
            ``("", code)``, after the fenced blocks, as AutoGen 0.2's option does. Agents never
            run inline code. Default False.

    Returns:
        One pair per block, in order; ``[(UNKNOWN, content_str(text))]`` when there is none.
    """
    blocks = [(block.language, block.code) for block in MarkdownCodeExtractor().extract_code_blocks(text)]
    if detect_single_line_code:
        return blocks + [("", span) for span in inline_code_spans(content_str(text))]
    return blocks or [(UNKNOWN, content_str(text))]
