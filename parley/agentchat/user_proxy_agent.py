"""`UserProxyAgent`: stands in for the human; runs the code it receives and asks the human."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from parley.agentchat.conversable_agent import ConversableAgent, HumanInputMode
from parley.llm.types import Message

__all__ = ["UserProxyAgent"]

DEFAULT_CODE_EXECUTION_CONFIG: Mapping[str, Any] = {"executor": "local", "local": {"work_dir": "coding"}}


class UserProxyAgent(ConversableAgent):
    """A proxy for the user: asks the human for input, runs code blocks, uses no model by default.

    Args:
        name: the agent's name.
        is_termination_msg: see `ConversableAgent` (default: the text ends with TERMINATE).
        max_consecutive_auto_reply: see `ConversableAgent`.
        human_input_mode: default ``"ALWAYS"``: the human answers every message (an empty answer
            lets the agent auto-reply, e.g. run the code).
        function_map: tools this agent executes.
        code_execution_config: default: the local command-line executor with ``work_dir="coding"``
            (created at the first run). False turns code execution off.
        default_auto_reply: the reply when there is nothing to run and no human answer.
        llm_config: default False (no model).
        system_message: used only when an llm_config is given.
        description: default: says it runs code and stands for the user.
    """

    DEFAULT_DESCRIPTION = "A user proxy that runs the code it is sent and reports the results."

    def __init__(
        self,
        name: str,
        is_termination_msg: Callable[[Message], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "ALWAYS",
        function_map: Mapping[str, Callable[..., Any]] | None = None,
        code_execution_config: Mapping[str, Any] | Literal[False] | None = None,
        default_auto_reply: str | Message = "",
        llm_config: Any = False,
        system_message: str | None = "",
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        if code_execution_config is None:
            code_execution_config = dict(DEFAULT_CODE_EXECUTION_CONFIG)
        super().__init__(
            name=name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            function_map=function_map,
            code_execution_config=code_execution_config,
            llm_config=llm_config,
            default_auto_reply=default_auto_reply,
            description=description if description is not None else self.DEFAULT_DESCRIPTION,
            **kwargs,
        )
