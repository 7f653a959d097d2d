"""Find fenced code blocks in a message written in Markdown (AutoGen 0.2's ``MarkdownCodeExtractor``).

Parsing is CommonMark, done by markdown-it-py, rather than a regular expression, so the cases a
regular expression gets wrong come out right:

- both fence styles, backticks and tildes (```` ``` ```` and ``~~~``);
- a longer fence containing shorter ones (a ```` ```` ```` block that shows a ```` ``` ````
  block is one block, inner fences included);
- fences indented by up to three spaces, fences inside lists and block quotes;
- CRLF line endings.

Decisions worth knowing:

- Indented code blocks (four spaces, no fence) are examples, not code to run: they are skipped.
- A fence that is never closed is skipped. Per CommonMark it runs to the end of the message, but
  in practice that means the message was cut off, and half a program should not run.
- Blocks holding only whitespace are skipped.
- The language is the first word of the info string, lower-cased, with aliases normalised by
  `parley.coding.utils.normalize_lang` (``py`` → ``python``). Pandoc-style ``{.python}`` works.
  An untagged block gets `parley.coding.utils.infer_lang`'s guess, which is bounded in work and
  never raises: text nested deeper than Python's parsers hold (``"[" * 5000``) is ``unknown``.
- One trailing newline is dropped from each block's code, as AutoGen 0.2 does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from parley.coding.base import CodeBlock
from parley.coding.utils import infer_lang, normalize_lang

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["MarkdownCodeExtractor"]

_NEWLINES = re.compile(r"\r\n?")  # the same normalisation markdown-it applies to its input
_parser: MarkdownIt | None = None


def _get_parser() -> MarkdownIt:
    # Imported on first use: markdown_it costs ~30 ms to import, which `import parley` must not pay.
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        # Only block structure matters; skipping inline parsing makes parsing ~4x faster.
        _parser = MarkdownIt("commonmark").disable(["inline", "text_join"])
    return _parser


def _text_of(message: str | list[dict[str, Any]] | None) -> list[str]:
    if message is None:
        return []
    if isinstance(message, str):
        return [message]
    texts: list[str] = []
    for part in message:
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return texts


def _is_closed(lines: list[str], start: int, end: int, markup: str) -> bool:
    """True when the fence opened at line ``start`` is closed by line ``end - 1``."""
    if end - 1 <= start or end > len(lines):
        return False
    closing = lines[end - 1].lstrip(" \t>")
    fence_len = len(closing) - len(closing.lstrip(markup[0]))
    return fence_len >= len(markup) and not closing[fence_len:].strip()


def _language(info: str, code: str) -> str:
    words = info.split(maxsplit=1)
    tag = words[0].strip("{}.") if words else ""
    return normalize_lang(tag) if tag else infer_lang(code)


class MarkdownCodeExtractor:
    """Extract fenced code blocks from Markdown text (a `parley.coding.base.CodeExtractor`).

    The extractor holds no state; one instance can serve any number of agents and threads.
    """

    def extract_code_blocks(self, message: str | list[dict[str, Any]] | None) -> list[CodeBlock]:
        """Return the fenced code blocks in ``message``, in order.

        Args:
            message: a message's content: a string, None, or a list of content parts in the
                OpenAI shape (``{"type": "text", "text": ...}``, ``{"type": "image_url", ...}``).
                Only text parts are read, each one on its own.

        Returns:
            One `CodeBlock` per closed, non-blank fenced block; an empty list when there are
            none. See the module docstring for how languages are decided.
        """
        blocks: list[CodeBlock] = []
        for text in _text_of(message):
            if "```" in text or "~~~" in text:
                blocks.extend(self._extract_from_text(text))
        return blocks

    @staticmethod
    def _extract_from_text(text: str) -> list[CodeBlock]:
        text = _NEWLINES.sub("\n", text)
        lines = text.split("\n")
        blocks: list[CodeBlock] = []
        for token in _get_parser().parse(text):
            if token.type != "fence" or token.map is None:
                continue
            if not _is_closed(lines, token.map[0], token.map[1], token.markup):
                continue
            code = token.content.removesuffix("\n")
            if code.strip():
                blocks.append(CodeBlock(code=code, language=_language(token.info, code)))
        return blocks
