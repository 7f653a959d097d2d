"""Model clients: the ModelClient protocol, the OpenAI adapter, config lists, the cache, usage and cost.

Importing this package does not import the ``openai`` SDK; `OpenAIClient` imports it on its
first request.
"""

from parley.llm.cache import Cache
from parley.llm.client import ModelClient
from parley.llm.config import config_list_from_json, filter_config, validate_config_entry
from parley.llm.openai_client import OpenAIClient
from parley.llm.streaming import stream_to
from parley.llm.types import Message, ModelResponse, ToolCall, ToolSpec, Usage
from parley.llm.usage import ModelUsage, UsageSummary
from parley.llm.wrapper import OpenAIWrapper

__all__ = [
    "Cache",
    "Message",
    "ModelClient",
    "ModelResponse",
    "ModelUsage",
    "OpenAIClient",
    "OpenAIWrapper",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "UsageSummary",
    "config_list_from_json",
    "filter_config",
    "stream_to",
    "validate_config_entry",
]
