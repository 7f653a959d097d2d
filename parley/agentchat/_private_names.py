"""AutoGen 0.2's private `ConversableAgent` names, kept for subclasses and scripts ported from 0.2.

0.2 code that extends an agent often calls these underscored helpers. Each is a thin view of
parley's own state or logic, so nothing here decides anything: `_append_oai_message` stores a
message as `send`/`receive` do, `_match_trigger` asks the compiled `register_reply` trigger,
`_consecutive_auto_reply_counter` and `_max_consecutive_auto_reply_dict` are the counters the
termination step reads, and `_wrap_function` is the wrapper every registered tool gets.
"""

from __future__ import annotations

import functools
import inspect
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from parley.agentchat._replies import compile_trigger
from parley.agentchat._tools import stringify
from parley.exceptions import InvalidMessageError
from parley.llm.types import Message

__all__ = ["PrivateNamesMixin"]


class PrivateNamesMixin:
    """0.2's underscored helpers on `ConversableAgent`, as views of parley's own state and logic."""

    _auto_reply_counter: defaultdict[Any, int]
    _max_auto_reply_dict: defaultdict[Any, int]

    def _append(self, message: str | Message, role: str, other: Any, is_sending: bool) -> Message:
        raise NotImplementedError  # provided by ConversableAgent

    def _append_oai_message(
        self, message: str | Message, role: str, conversation_id: Any, is_sending: bool = False
    ) -> bool:
        """Store ``message`` in the conversation with ``conversation_id``, as `send`/`receive` do.

        Returns:
            False, storing nothing, when the message has neither content nor a call (0.2's
            contract); True otherwise.
        """
        try:
            self._append(message, role, conversation_id, is_sending)
        except InvalidMessageError:
            return False
        return True

    def _match_trigger(self, trigger: Any, sender: Any) -> bool:
        """Whether a `register_reply` ``trigger`` matches ``sender``.

        Raises:
            ConfigError: ``trigger`` is not a valid trigger (a `ValueError`, as in 0.2).
        """
        return bool(compile_trigger(trigger)[0](sender))

    @property
    def _consecutive_auto_reply_counter(self) -> defaultdict[Any, int]:
        return self._auto_reply_counter

    @property
    def _max_consecutive_auto_reply_dict(self) -> defaultdict[Any, int]:
        return self._max_auto_reply_dict

    def _wrap_function(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` as a registered tool runs it: arguments validated and converted, the result as text.

        The wrapper takes keyword arguments, as a tool call passes them; an async ``func`` gives
        an async wrapper.

        Raises:
            ConfigError: ``func``'s parameters cannot be described.
        """
        from parley.agentchat._tool_schema import tool_name, validating_function  # imports pydantic: lazily

        validated = validating_function(func, name=tool_name(func))
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def wrapped_async(**kwargs: Any) -> str:
                return stringify(await validated(**kwargs))

            return wrapped_async

        @functools.wraps(func)
        def wrapped(**kwargs: Any) -> str:
            return stringify(validated(**kwargs))

        return wrapped
