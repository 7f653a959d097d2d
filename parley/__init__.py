"""parley: conversations among agents (LLM assistants, code-running proxies, humans) that solve tasks.

The names below are imported on first use, so ``import parley`` stays cheap (no openai, no
pydantic, no rich until an agent needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Agent": "parley.agentchat",
    "AssistantAgent": "parley.agentchat",
    "Cache": "parley.llm",
    "ChatResult": "parley.agentchat",
    "ConversableAgent": "parley.agentchat",
    "GroupChat": "parley.agentchat",
    "GroupChatManager": "parley.agentchat",
    "IOConsole": "parley.agentchat",
    "IOStream": "parley.agentchat",
    "LLMAgent": "parley.agentchat",
    "ModelClient": "parley.llm",
    "OpenAIWrapper": "parley.llm",
    "UserProxyAgent": "parley.agentchat",
    "a_initiate_chats": "parley.agentchat",
    "config_list_from_json": "parley.llm",
    "filter_config": "parley.llm",
    "gather_usage_summary": "parley.agentchat",
    "initiate_chats": "parley.agentchat",
    "register_function": "parley.agentchat",
}

__all__ = [
    "Agent",
    "AssistantAgent",
    "Cache",
    "ChatResult",
    "ConversableAgent",
    "GroupChat",
    "GroupChatManager",
    "IOConsole",
    "IOStream",
    "LLMAgent",
    "ModelClient",
    "OpenAIWrapper",
    "UserProxyAgent",
    "__version__",
    "a_initiate_chats",
    "config_list_from_json",
    "filter_config",
    "gather_usage_summary",
    "initiate_chats",
    "register_function",
]

if TYPE_CHECKING:
    from parley.agentchat import (
        Agent,
        AssistantAgent,
        ChatResult,
        ConversableAgent,
        GroupChat,
        GroupChatManager,
        IOConsole,
        IOStream,
        LLMAgent,
        UserProxyAgent,
        a_initiate_chats,
        gather_usage_summary,
        initiate_chats,
        register_function,
    )
    from parley.llm import Cache, ModelClient, OpenAIWrapper, config_list_from_json, filter_config


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'parley' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
