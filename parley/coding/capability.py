"""Agent capabilities: objects that teach an LLM agent something by extending it.

Every built-in executor has a ``user_capability`` that appends its usage instructions (what the
environment is, how files and images come back, how to install packages) to an LLM agent's
system message. The agent needs only ``system_message`` and ``update_system_message`` (the
`parley.agentchat.LLMAgent` protocol), so this module imports nothing from the agent layer.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from parley.exceptions import ConfigError

__all__ = ["AgentCapability", "ExecutorCapability"]


@runtime_checkable
class AgentCapability(Protocol):
    """Something that can be added to an agent (AutoGen 0.2's ``AgentCapability``)."""

    def add_to_agent(self, agent: Any) -> None:
        """Extend ``agent`` with this capability."""
        ...


class ExecutorCapability:
    """Appends an executor's usage instructions to an LLM agent's system message, exactly once.

    Args:
        instructions: the text to append (see the ``*_EXECUTOR_INSTRUCTIONS`` in `parley.prompts`).
    """

    def __init__(self, instructions: str) -> None:
        self._instructions = instructions.strip()

    @property
    def instructions(self) -> str:
        """The text this capability appends."""
        return self._instructions

    def add_to_agent(self, agent: Any) -> None:
        """Append the instructions to ``agent``'s system message; a second call adds nothing.

        Raises:
            ConfigError: ``agent`` has no ``system_message``/``update_system_message`` (it is not
                an LLM agent).
        """
        current = getattr(agent, "system_message", None)
        update = getattr(agent, "update_system_message", None)
        if not isinstance(current, str) or not callable(update):
            raise ConfigError(
                f"{type(agent).__name__} has no system message to extend; add executor instructions to an "
                "LLM agent such as AssistantAgent.",
                key="agent",
            )
        if self._instructions in current:
            return
        update(f"{current.rstrip()}\n\n{self._instructions}" if current.strip() else self._instructions)

    def __repr__(self) -> str:
        return f"ExecutorCapability({self._instructions[:40]!r}...)"
