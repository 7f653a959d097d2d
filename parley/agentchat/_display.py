"""How a received message is shown on the IOStream (pure: message in, text out)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from parley.agentchat._tool_arguments import UnreadableArguments, read_arguments
from parley.llm.types import Message

__all__ = ["RULE", "content_str", "format_message", "header"]

RULE = "-" * 80


def content_str(content: Any) -> str:
    """The text of a message's content: a str as is, the text parts of a list, "" for None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") == "image_url":
                out.append("<image>")
        return " ".join(out)
    return str(content)


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
