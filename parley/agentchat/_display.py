"""How a received message is shown on the IOStream (pure: message in, text out)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from parley.agentchat._tool_arguments import UnreadableArguments, read_arguments
from parley.llm.types import Message

__all__ = ["RULE", "content_str", "format_message", "header"]

RULE = "-" * 80


def content_str(content: Any, *, strict: bool = False) -> str:
    """The text of a message's content: a str as is, a list's parts joined as AutoGen 0.2 joins them.

    A list's text parts are concatenated with nothing between them (as 0.2 does: a model that
    split a sentence over parts wrote its own spaces), and each ``image_url`` part is ``<image>``.

    Args:
        content: None (``""``), a str, or a list of OpenAI content parts.
        strict: refuse what 0.2's ``content_str`` refuses, instead of showing what can be shown.
            Agents display any message, so they leave it False; `parley.code_utils.content_str`
            sets it.

    Raises:
        TypeError: with ``strict``, ``content`` is not None, a str or a list, or a list item is
            not a dict.
        ValueError: with ``strict``, a part has no ``type`` or a type other than ``text`` and
            ``image_url``.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        if strict:
            raise TypeError(f"content must be None, str, or list, but got {type(content)}")
        return str(content)
    out = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            out.append(str(part.get("text", "")))
        elif kind == "image_url":
            out.append("<image>")
        elif strict and not isinstance(part, dict):
            raise TypeError(
                f"Wrong content format: every element should be dict if the content is a list, got {type(part)}."
            )
        elif strict:
            raise ValueError(
                f"Wrong content format: unknown type {kind!r} within the content; a part's type is 'text' or "
                "'image_url'."
            )
    return "".join(out)


def header(sender: str, recipient: str | None) -> str:
    """The line that opens a message on the console: ``"sender (to recipient):"``.

    Without a recipient (a reply generated outside a conversation) it is ``"sender:"``.
    """
    return f"{sender} (to {recipient}):" if recipient is not None else f"{sender}:"


def format_message(sender: str, recipient: str, message: Message, *, text_shown: bool = False) -> str:
    """Render ``message`` as the console shows it: a header, the content or calls, a rule.

    Args:
        sender: the sending agent's name.
        recipient: the receiving agent's name.
        message: the message as stored.
        text_shown: the header and the content's text are already on the console (they were
            streamed as the model wrote them, the text's line ended): render only what follows
            them, the tool calls and the rule, so that the two parts read as the whole message.
    """
    lines = [header(sender, recipient), ""]
    responses = message.get("tool_responses")
    if responses:
        for r in responses:
            lines.append(f"***** Response from calling tool ({r.get('tool_call_id', '')}) *****")
            lines.append(content_str(r.get("content")))
            lines.append("*" * 40)
    else:
        text = content_str(message.get("content"))
        if text:
            lines.append(text)
            if text_shown:
                del lines[:]
        legacy = message.get("function_call")
        if legacy:
            lines.append(f"***** Suggested function call: {legacy.get('name', '')} *****")
            lines.append(f"Arguments:\n{legacy.get('arguments', '')}")
            lines.append("*" * 40)
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            lines.append(f"***** Suggested tool call ({call.get('id', '')}): {fn.get('name', '')} *****")
            args = fn.get("arguments", "")
            with contextlib.suppress(UnreadableArguments):  # shown as sent, as the tool runner refuses it
                args = json.dumps(read_arguments(args), indent=2)
            lines.append(f"Arguments:\n{args}")
            lines.append("*" * 40)
    lines += ["", RULE]
    return "\n".join(lines)
