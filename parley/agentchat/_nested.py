"""Chats of chats on an agent: chat queues it starts, and nested chats as a reply function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from parley._sync import run_sync
from parley.agentchat import chat as _chat
from parley.agentchat.chat import ChatResult
from parley.exceptions import ConfigError
from parley.llm.types import Message

__all__ = ["NestedChatsMixin"]


async def _summary_from_nested_chats(
    recipient: Any, messages: list[Message] | None = None, sender: Any = None, config: Any = None
) -> tuple[bool, str | None]:
    """Reply with the last summary of the nested chats in ``config`` (see `register_nested_chats`)."""
    queue, use_async = config if isinstance(config, tuple) else (config, False)
    last = messages[-1].get("content") if messages else ""
    to_run = []
    for i, c in enumerate(queue):
        entry = dict(c)
        entry.setdefault("sender", recipient)
        message = entry.get("message")
        if i == 0 and message is None:
            entry["message"] = last
        elif callable(message):
            produced = message(recipient, messages, sender, queue)
            entry["message"] = await produced if inspect.isawaitable(produced) else produced
        to_run.append(entry)
    if not to_run:
        return True, None
    if use_async:
        results = list((await _chat.a_initiate_chats(to_run)).values())
    else:
        results = await _chat.run_chats_in_order(to_run)
    return True, results[-1].summary


class NestedChatsMixin:
    """`initiate_chats`, `a_initiate_chats` and `register_nested_chats` for `ConversableAgent`."""

    register_reply: Callable[..., None]
    _finished_chats: list[ChatResult]

    async def a_initiate_chats(self, chat_queue: list[dict[str, Any]]) -> dict[Any, ChatResult]:
        """Run chats with this agent as the sender, as a graph (see `parley.agentchat.a_initiate_chats`).

        Returns:
            ``{chat_id: ChatResult}``.
        """
        results = await _chat.a_initiate_chats([{**c, "sender": self} for c in chat_queue])
        self._finished_chats = list(results.values())
        return results

    def initiate_chats(self, chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
        """Run chats with this agent as the sender, in order, carrying summaries over.

        The results are also kept for `get_chat_results`, as in AutoGen 0.2.
        """
        self._finished_chats = run_sync(_chat.run_chats_in_order([{**c, "sender": self} for c in chat_queue]))
        return self._finished_chats

    def register_nested_chats(
        self,
        chat_queue: list[dict[str, Any]],
        trigger: Any,
        reply_func_from_nested_chats: str | Callable[..., Any] = "summary_from_nested_chats",
        position: int = 2,
        use_async: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Answer messages from ``trigger`` by running a queue of chats and replying with the last summary.

        Args:
            chat_queue: chats as for `initiate_chats`; ``sender`` defaults to this agent, the first
                chat's ``message`` defaults to the received message, and a callable ``message`` is
                called as ``f(recipient, messages, sender, config)``.
            trigger: which senders trigger it (see `register_reply`).
            reply_func_from_nested_chats: ``"summary_from_nested_chats"`` or your own reply
                function, called with ``config=chat_queue`` as in AutoGen 0.2.
            position: where in the reply pipeline; default 2 (after termination and tool calls).
            use_async: run the queue as a graph of concurrent chats (``prerequisites``).
            **kwargs: ``reset_config``, passed to `register_reply`.

        Raises:
            ConfigError: an unknown reply function name, or a chat_queue that is not a list of dicts.
        """
        if not isinstance(chat_queue, list) or not all(isinstance(c, dict) for c in chat_queue):
            raise ConfigError("chat_queue must be a list of dicts, one per chat.", key="chat_queue")
        config: Any = chat_queue
        if reply_func_from_nested_chats == "summary_from_nested_chats":
            func: Callable[..., Any] = _summary_from_nested_chats
            config = (chat_queue, bool(use_async))
        elif callable(reply_func_from_nested_chats):
            func = reply_func_from_nested_chats
        else:
            raise ConfigError(
                f"reply_func_from_nested_chats must be 'summary_from_nested_chats' or a callable, "
                f"got {reply_func_from_nested_chats!r}.",
                key="reply_func_from_nested_chats",
            )
        self.register_reply(
            trigger, func, position=position, config=config,
            reset_config=kwargs.get("reset_config"),
        )  # fmt: skip
