"""`AssistantAgent`: a ConversableAgent that writes code for another agent to run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.agentchat.conversable_agent import ConversableAgent, HumanInputMode
from parley.llm.types import Message
from parley.prompts import ASSISTANT_SYSTEM_MESSAGE

__all__ = ["AssistantAgent"]


class AssistantAgent(ConversableAgent):
    """An LLM agent with a coding system prompt; it never asks a human and runs no code itself.

    Args:
        name: the agent's name.
        system_message: default `parley.prompts.ASSISTANT_SYSTEM_MESSAGE`.
        llm_config: the model (see `ConversableAgent`); required in practice.
        is_termination_msg: see `ConversableAgent`.
        max_consecutive_auto_reply: see `ConversableAgent`.
        human_input_mode: default ``"NEVER"``.
        description: default: a one-line description of a coding assistant.
        **kwargs: any other `ConversableAgent` argument (``code_execution_config`` defaults to False).
    """

    DEFAULT_SYSTEM_MESSAGE = ASSISTANT_SYSTEM_MESSAGE
    DEFAULT_DESCRIPTION = (
        "A helpful AI assistant that solves problems by writing Python or shell code for others to run."
    )

    def __init__(
        self,
        name: str,
        system_message: str | None = ASSISTANT_SYSTEM_MESSAGE,
        llm_config: Any = None,
        is_termination_msg: Callable[[Message], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "NEVER",
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        if description is None and system_message == ASSISTANT_SYSTEM_MESSAGE:
            description = self.DEFAULT_DESCRIPTION
        super().__init__(
            name,
            system_message,
            is_termination_msg,
            max_consecutive_auto_reply,
            human_input_mode,
            llm_config=llm_config,
            description=description,
            **kwargs,
        )
