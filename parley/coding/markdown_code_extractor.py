"""Find fenced code blocks in a message written in Markdown (AutoGen 0.2's ``MarkdownCodeExtractor``).

Parsing is CommonMark, done by markdown-it-py, rather than a regular expression, so the cases a
regular expression gets wrong come out right:

- both fence styles, backticks and tildes (```` ``` ```` and ``~~~``);
- a longer fence containing shorter ones (a ```` ```` ```` block that shows a ```` ``` ````
  block is one block, inner fences included);
- fences indented by up to three spaces, fences inside lists and block quotes;
- CRLF line endings.

Decisions worth knowing:

- A fence indented by four or more spaces (or a tab) is still a fence, as AutoGen 0.2's pattern
  allowed: models indent whole fenced blocks under a list or a sentence, and CommonMark would
  read them as an indented code block (or paragraph text) holding fence lines. Such a block
  ends at the next fence line of the same character, at least as long, however indented; its
  lines lose the opening fence's indentation. Indented code blocks without a fence are
  examples, not code to run: they are skipped.
- A fence that is never closed is skipped. Per CommonMark it runs to the end of the message, but
  in practice that means the message was cut off, and half a program should not run.
- Blocks holding only whitespace are skipped.
- The language is the first word of the info string, lower-cased, with aliases normalised by
  `parley.coding.utils.normalize_lang` (``py`` → ``python``). Pandoc-style ``{.python}`` works.
  An untagged block gets `parley.coding.utils.infer_lang`'s guess, which is bounded in work and
  never raises; when it cannot tell (``unknown``), the language is ``""``, as in AutoGen 0.2
  (text nested deeper than Python's parsers hold, ``"[" * 5000``, is such a block). Executors
  refuse a ``""`` block with a message asking for a language tag.
- One trailing newline is dropped from each block's code, as AutoGen 0.2 does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from parley.coding.base import CodeBlock
from parley.coding.utils import infer_lang, normalize_lang

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["MarkdownCodeExtractor", "inline_code_spans"]

_NEWLINES = re.compile(r"\r\n?")  # the same normalisation markdown-it applies to its input
_INDENTED_FENCE = re.compile(r"^(?P<indent>(?: {4,}|[ ]*\t)[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_parser: MarkdownIt | None = None
_inline_parser: MarkdownIt | None = None


def _get_parser() -> MarkdownIt:
    # Imported on first use: markdown_it costs ~30 ms to import, which `import parley` must not pay.
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        # Only block structure matters; skipping inline parsing makes parsing ~4x faster.
        _parser = MarkdownIt("commonmark").disable(["inline", "text_join"])
    return _parser


def inline_code_spans(text: str) -> list[str]:
    """The inline code spans of Markdown ``text`` (```` `ls -la` ````), stripped, in order; none inside fences."""
    global _inline_parser
    if "`" not in text:
        return []
    if _inline_parser is None:
        from markdown_it import MarkdownIt

        _inline_parser = MarkdownIt("commonmark")
    spans: list[str] = []
    for token in _inline_parser.parse(_NEWLINES.sub("\n", text)):
        spans.extend(child.content.strip() for child in token.children or () if child.type == "code_inline")
    return [span for span in spans if span]


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
    if tag:
        return normalize_lang(tag)
    guess = infer_lang(code)
    return "" if guess == "unknown" else guess


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
        found: list[tuple[int, CodeBlock]] = []
        in_fence = [False] * len(lines)
        for token in _get_parser().parse(text):
            if token.type != "fence" or token.map is None:
                continue
            start, end = token.map
            in_fence[start:end] = [True] * (min(end, len(lines)) - start)
            if not _is_closed(lines, start, end, token.markup):
                continue
            code = token.content.removesuffix("\n")
            if code.strip():
                found.append((start, CodeBlock(code=code, language=_language(token.info, code))))
        found.extend(_indented_fences(lines, in_fence))
        return [block for _, block in sorted(found, key=lambda pair: pair[0])]


def _indented_fences(lines: list[str], in_fence: list[bool]) -> list[tuple[int, CodeBlock]]:
    """The fenced blocks indented by four or more spaces, outside the fences already found.

    Returns:
        ``(line index of the opening fence, block)`` pairs. A block is the lines from an indented
        opening fence to the next closing fence of the same character and at least its length
        (at any indentation), with the opening fence's indentation taken off and parsed again.
        An opening fence that is never closed gives nothing.
    """
    found: list[tuple[int, CodeBlock]] = []
    i = 0
    while i < len(lines):
        opening = None if in_fence[i] else _INDENTED_FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence = opening["fence"]
        close = next(
            (j for j in range(i + 1, len(lines)) if not in_fence[j] and _closes(lines[j], fence)),
            None,
        )
        if close is None:
            i += 1
            continue
        indent = len(opening["indent"])
        snippet = "\n".join(_dedent(line, indent) for line in lines[i : close + 1])
        found.extend((i, block) for block in MarkdownCodeExtractor._extract_from_text(snippet))
        i = close + 1
    return found


def _closes(line: str, fence: str) -> bool:
    """True when ``line`` is a closing fence for ``fence``: its character, at least as long, nothing after."""
    stripped = line.strip(" \t")
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _dedent(line: str, indent: int) -> str:
    """``line`` without up to ``indent`` characters of leading white space."""
    return line[min(indent, len(line) - len(line.lstrip(" \t"))) :]
