"""HTML as a model reads it: the visible text, with the page's structure kept as line breaks.

A kernel's HTML display (``IPython.display.HTML``, a styled table, a widget's fallback) is saved
as a file for people; a model reads it as text. `html_to_text` keeps what a browser would show
and drops what it would not (tags, ``<script>``, ``<style>``, comments): block elements start new
lines, list items get a ``- ``, table cells are joined by `` | `` one row a line, images show as
``[image: alt]``, and entities are decoded. Whitespace is collapsed as a browser does, except
inside ``<pre>``.

The text is bounded: parsing stops once ``limit`` characters of text are out (or after
`MAX_HTML_CHARS` of HTML, whatever it held), and a last line says the rest is in the file. A
display of megabytes costs no more than its first part.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["HTML_TEXT_LIMIT", "MAX_HTML_CHARS", "html_to_text"]

HTML_TEXT_LIMIT = 2_000
"""The most text, in characters, a model reads for one HTML display; the saved file keeps it all."""

MAX_HTML_CHARS = 1_000_000
"""The most HTML, in characters, read to find that text (a page of markup and little text)."""

_CHUNK = 8_192
_HIDDEN = frozenset({"script", "style", "template", "head", "noscript"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
        "tr", "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self._hidden = 0
        self._pre = 0
        self._cells = 0  # cells seen in the current table row

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def _break(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self._emit("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif self._hidden:
            return
        elif tag in _BLOCKS:
            self._break()
            if tag == "pre":
                self._pre += 1
            elif tag == "tr":
                self._cells = 0
            elif tag == "li":
                self._emit("- ")
        elif tag in ("td", "th"):
            if self._cells:
                self._emit(" | ")
            self._cells += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._emit(f"[image: {_SPACES.sub(' ', alt).strip()}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif not self._hidden and tag in _BLOCKS:
            if tag == "pre" and self._pre:
                self._pre -= 1
            self._break()

    def handle_data(self, data: str) -> None:
        if self._hidden or not data:
            return
        if self._pre:
            self._emit(data)
            return
        text = _SPACES.sub(" ", data)
        if text == " " and (not self.parts or self.parts[-1].endswith((" ", "\n"))):
            return
        if self.parts and self.parts[-1].endswith("\n"):
            text = text.lstrip(" ")
        if text:
            self._emit(text)


def html_to_text(html: str, limit: int = HTML_TEXT_LIMIT) -> str:
    """The readable text of ``html``, at most about ``limit`` characters.

    Args:
        html: an HTML document or fragment (a display's ``text/html``).
        limit: the most characters of text to return, before the closing note. Default
            `HTML_TEXT_LIMIT`.

    Returns:
        The text; "" when the HTML shows none. When it was cut, a last line says so.
    """
    parser = _TextParser()
    end = min(len(html), MAX_HTML_CHARS)
    complete = end == len(html)
    for start in range(0, end, _CHUNK):
        parser.feed(html[start : start + _CHUNK] if start + _CHUNK <= end else html[start:end])
        if parser.size > limit:
            complete = False
            break
    else:
        parser.close()
    lines = (line.rstrip() for line in "".join(parser.parts).split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
    if len(text) <= limit and complete:
        return text
    note = f"[HTML display cut to {limit:,} characters of text here; the saved file has all of it]"
    return "\n".join(part for part in (text[:limit].rstrip(), note) if part)
