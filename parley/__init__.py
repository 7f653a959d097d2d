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
    "AgentNameConflict": "parley.exception_utils",
    "AssistantAgent": "parley.agentchat",
    "Cache": "parley.llm",
    "ChatCompletion": "parley.oai",
    "ChatResult": "parley.agentchat",
    "Completion": "parley.oai",
    "ConversableAgent": "parley.agentchat",
    "DEFAULT_MODEL": "parley.code_utils",
    "FAST_MODEL": "parley.code_utils",
    "GroupChat": "parley.agentchat",
    "GroupChatManager": "parley.agentchat",
    "IOConsole": "parley.agentchat",
    "IOStream": "parley.agentchat",
    "InvalidCarryOverType": "parley.exception_utils",
    "LLMAgent": "parley.agentchat",
    "ModelClient": "parley.llm",
    "NoEligibleSpeaker": "parley.exception_utils",
    "OpenAIWrapper": "parley.llm",
    "SenderRequired": "parley.exception_utils",
    "UndefinedNextAgent": "parley.exception_utils",
    "UserProxyAgent": "parley.agentchat",
    "a_initiate_chats": "parley.agentchat",
    "config_list_from_dotenv": "parley.oai",
    "config_list_from_json": "parley.llm",
    "config_list_from_models": "parley.oai",
    "config_list_gpt4_gpt35": "parley.oai",
    "config_list_openai_aoai": "parley.oai",
    "filter_config": "parley.llm",
    "gather_usage_summary": "parley.agentchat",
    "get_config_list": "parley.oai",
    "initiate_chats": "parley.agentchat",
    "register_function": "parley.agentchat",
}

__all__ = [
    "Agent",
    "AgentNameConflict",
    "AssistantAgent",
    "Cache",
    "ChatCompletion",
    "ChatResult",
    "Completion",
    "ConversableAgent",
    "DEFAULT_MODEL",
    "FAST_MODEL",
    "GroupChat",
    "GroupChatManager",
    "IOConsole",
    "IOStream",
    "InvalidCarryOverType",
    "LLMAgent",
    "ModelClient",
    "NoEligibleSpeaker",
    "OpenAIWrapper",
    "SenderRequired",
    "UndefinedNextAgent",
    "UserProxyAgent",
    "__version__",
    "a_initiate_chats",
    "config_list_from_dotenv",
    "config_list_from_json",
    "config_list_from_models",
    "config_list_gpt4_gpt35",
    "config_list_openai_aoai",
    "filter_config",
    "gather_usage_summary",
    "get_config_list",
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
    from parley.code_utils import DEFAULT_MODEL, FAST_MODEL
    from parley.exception_utils import (
        AgentNameConflict,
        InvalidCarryOverType,
        NoEligibleSpeaker,
        SenderRequired,
        UndefinedNextAgent,
    )
    from parley.llm import Cache, ModelClient, OpenAIWrapper, config_list_from_json, filter_config
    from parley.oai import (
        ChatCompletion,
        Completion,
        config_list_from_dotenv,
        config_list_from_models,
        config_list_gpt4_gpt35,
        config_list_openai_aoai,
        get_config_list,
    )

# AutoGen 0.2's submodules that ``import autogen`` lets code reach as attributes (``autogen.oai``).
_SUBMODULES = frozenset(
    {
        "agentchat",
        "cache",
        "code_utils",
        "coding",
        "exception_utils",
        "function_utils",
        "io",
        "llm",
        "oai",
        "runtime_logging",
    }
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None and name in _SUBMODULES:
        return importlib.import_module(f"parley.{name}")
    if module is None:
        raise AttributeError(f"module 'parley' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
