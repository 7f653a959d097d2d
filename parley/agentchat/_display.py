"""How a received message is shown on the IOStream (pure: message in, text out)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from parley.agentchat._tool_arguments import UnreadableArguments, read_arguments
from parley.llm.types import Message

__all__ = ["RULE", "content_str", "format_message"]

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


def format_message(sender: str, recipient: str, message: Message) -> str:
    """Render ``message`` as the console shows it: a header, the content or calls, a rule."""
    lines = [f"{sender} (to {recipient}):", ""]
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
