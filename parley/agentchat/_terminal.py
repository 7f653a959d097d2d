r"""Text from a model or from model-written code, made safe to write to a terminal.

A terminal obeys control characters in what it is sent: ``ESC]0;title BEL`` renames the window,
``ESC[2J`` and ``ESC[3J`` wipe the screen and its scrollback, ``ESC]8;;url`` hides a link behind
text, a carriage return or backspace overwrites what was shown, and bidirectional overrides show
code in another order than it runs. Output printed by model-written code, model messages and tool
results can hold any of them, and so can names the model chose (a tool name, a call id).
`visible_controls` turns each such character into a visible escape, so the operator reads exactly
what was sent and the terminal obeys none of it. `parley.agentchat.io.IOConsole` applies it to all
text before writing, streamed tokens included; its own colours are added after, by rich.

What is replaced, each by its Python escape (``ESC`` becomes the four characters ``\x1b``):

- C0 controls (U+0000 to U+001F) except tab and newline; a CRLF pair becomes one newline;
- DEL (U+007F) and the C1 controls (U+0080 to U+009F; U+009B is a one-character ``ESC[``);
- bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069).
"""

from __future__ import annotations

import re

__all__ = ["visible_controls"]

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SHOWN = {
    **{c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))},
    **{c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def visible_controls(text: str) -> str:
    r"""``text`` with every control character a terminal would obey shown as a visible escape.

    Args:
        text: any text, for example output printed by model-written code.

    Returns:
        The text with CRLF as ``\n`` and each other control character (see the module
        docstring) as its escape: ``"\x1b[2J"`` becomes the characters ``\x1b[2J``. Tabs,
        newlines and all printable characters are kept; text without controls is returned as is.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    if _CONTROLS.search(text) is None:
        return text
    return text.translate(_SHOWN)
