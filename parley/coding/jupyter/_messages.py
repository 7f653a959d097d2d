"""Kernel messages as data: pure functions that turn Jupyter messages into outputs for a model.

Nothing here talks to a kernel or touches the disk, so every rule is tested with scripted
message lists. Two steps:

1. `parse_iopub` reads one IOPub message (the dict jupyter_client gives, shaped as in the
   Jupyter messaging spec, https://jupyter-client.readthedocs.io/en/stable/messaging.html) and
   returns what it means for one execution: text (``stream``), a MIME bundle (``execute_result``,
   ``display_data``, ``update_display_data``), an error, the server's notice that it dropped
   output (its IOPub rate limit), or the end of the execution (``status`` idle). Messages of
   other executions and bookkeeping messages (``execute_input``, busy, ``clear_output``) give
   None.
2. `render_bundle` decides what a MIME bundle becomes: files to save (PNG, JPEG, GIF, SVG, HTML)
   and the text a model reads.

Decisions worth knowing:

- Tracebacks lose their ANSI colour codes (`strip_ansi`): a model reads them as plain text.
- A bundle with an image is shown to the model as the saved file, not as its ``text/plain``
  repr (``<Figure size 640x480 with 1 Axes>`` says nothing). HTML is saved *and* its
  ``text/plain`` kept, because a pandas table's plain form is what a model reads best.
- A ``text/plain`` that is only Python's default repr (``<IPython.core.display.Markdown
  object>``) is dropped when the bundle has anything better: the model reads Markdown and
  LaTeX as their source, HTML as its readable text (`parley.coding.jupyter._html_text`,
  bounded), JSON as JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parley.coding.jupyter._html_text import html_to_text

__all__ = [
    "FileToSave",
    "RATE_LIMIT_NOTICES",
    "KernelDisplay",
    "KernelDropped",
    "KernelError",
    "KernelIdle",
    "KernelOutput",
    "KernelText",
    "RenderedBundle",
    "parse_iopub",
    "render_bundle",
    "strip_ansi",
]

# CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) and two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")

# MIME type -> file extension, for the displays saved as files. Binary types arrive base64-encoded.
_BINARY_IMAGES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}
_TEXT_FILES = {"image/svg+xml": "svg", "text/html": "html"}
_IMAGE_TYPES = (*_BINARY_IMAGES, "image/svg+xml")
_SOURCE_TEXT_TYPES = ("text/markdown", "text/latex")
# Python's default repr, ``<IPython.core.display.HTML object>``: it says nothing about the display.
_DEFAULT_REPR = re.compile(r"<[\w.]+ object(?: at 0x[0-9a-fA-F]+)?>")


RATE_LIMIT_NOTICES = ("IOPub data rate exceeded.", "IOPub message rate exceeded.")
"""How a Jupyter server's notice begins when its IOPub rate limit drops an execution's output.

The server sends it as ``stderr`` text of the execution whose message it dropped.
"""


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor moves, terminal titles) from ``text``."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class KernelText:
    """Text the code printed. ``name`` is ``"stdout"`` or ``"stderr"``."""

    text: str
    name: str = "stdout"


@dataclass(frozen=True)
class KernelDisplay:
    """A rich output: the MIME bundle (``{"text/plain": ..., "image/png": <base64>, ...}``)."""

    data: Mapping[str, Any]


@dataclass(frozen=True)
class KernelError:
    """The code raised. ``traceback`` is the kernel's traceback as plain text (ANSI removed)."""

    ename: str
    evalue: str
    traceback: str


@dataclass(frozen=True)
class KernelDropped:
    """The Jupyter server dropped some of the execution's output; ``notice`` is the first line of its notice."""

    notice: str


@dataclass(frozen=True)
class KernelIdle:
    """The kernel went idle: every output of the execution has arrived."""


KernelOutput = KernelText | KernelDisplay | KernelError | KernelDropped | KernelIdle
"""What one IOPub message means for the execution it belongs to."""


def parse_iopub(msg: Mapping[str, Any], msg_id: str) -> KernelOutput | None:
    """Read one IOPub message for the execution whose request had ``msg_id``.

    Args:
        msg: the message as jupyter_client deserialises it (``msg_type``, ``parent_header``,
            ``content`` ...).
        msg_id: the ``msg_id`` of the ``execute_request`` being collected.

    Returns:
        The output it carries, `KernelIdle` for the final ``status: idle``, or None for a message
        of another request or one that carries nothing for the model.
    """
    if msg.get("parent_header", {}).get("msg_id") != msg_id:
        return None
    kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
    content = msg.get("content", {})
    if kind == "stream":
        text, name = str(content.get("text", "")), str(content.get("name", "stdout"))
        if name == "stderr" and text.startswith(RATE_LIMIT_NOTICES):
            return KernelDropped(text.split("\n", 1)[0])
        return KernelText(text, name)
    if kind in ("execute_result", "display_data", "update_display_data"):
        data = content.get("data", {})
        return KernelDisplay(data) if isinstance(data, Mapping) and data else None
    if kind == "error":
        lines = content.get("traceback") or [f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"]
        return KernelError(
            str(content.get("ename", "Error")),
            str(content.get("evalue", "")),
            strip_ansi("\n".join(str(line) for line in lines)),
        )
    if kind == "status" and content.get("execution_state") == "idle":
        return KernelIdle()
    return None


@dataclass(frozen=True)
class FileToSave:
    """A display to save as a file: its MIME type, file extension (no dot) and bytes."""

    mime: str
    extension: str
    content: bytes


@dataclass(frozen=True)
class RenderedBundle:
    """What a MIME bundle becomes.

    Attributes:
        files: the displays to save as files, images first.
        text: the text a model should read for it ("" for none); the executor adds a line per
            saved file.
    """

    files: tuple[FileToSave, ...]
    text: str


def _decode(mime: str, value: Any) -> FileToSave | None:
    if mime in _BINARY_IMAGES:
        try:
            content = base64.b64decode(str(value).encode("ascii"), validate=False)
        except (binascii.Error, UnicodeEncodeError):
            return None
        return FileToSave(mime, _BINARY_IMAGES[mime], content) if content else None
    text = "".join(value) if isinstance(value, list) else str(value)  # nbformat may split lines
    return FileToSave(mime, _TEXT_FILES[mime], text.encode("utf-8"))


def render_bundle(data: Mapping[str, Any]) -> RenderedBundle:
    """Decide which parts of a MIME bundle become files and what text a model reads.

    Args:
        data: a display's MIME bundle, MIME type to value (base64 text for binary images;
            text may come as a list of lines, as nbformat stores it).

    Returns:
        The files to save (PNG, JPEG, GIF, SVG and HTML, images first) and the text: none when
        there is an image (the saved file says it); else the bundle's ``text/plain``, unless it
        is only Python's default repr (``<IPython.core.display.Markdown object>``) and the
        bundle has better: the source of Markdown or LaTeX, the readable text of HTML (at most
        `parley.coding.jupyter._html_text.HTML_TEXT_LIMIT` characters), or JSON as text.
    """
    files = [f for mime in (*_IMAGE_TYPES, "text/html") if mime in data if (f := _decode(mime, data[mime]))]
    if any(f.mime in _IMAGE_TYPES for f in files):
        return RenderedBundle(tuple(files), "")
    plain = _text(data.get("text/plain"))
    if plain is not None and not _DEFAULT_REPR.fullmatch(plain.strip()):
        return RenderedBundle(tuple(files), plain)
    better = next((_text(data[m]) or "" for m in _SOURCE_TEXT_TYPES if m in data), None)
    if better is None and "text/html" in data:
        better = html_to_text(_text(data["text/html"]) or "")
    if better is None and "application/json" in data:
        better = json.dumps(data["application/json"])
    return RenderedBundle(tuple(files), better if better is not None else plain or "")


def _text(value: Any) -> str | None:
    """A bundle's text value as one str (nbformat may split it into lines); None stays None."""
    if value is None:
        return None
    return "".join(value) if isinstance(value, list) else str(value)
