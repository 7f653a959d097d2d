"""``parley.oai``: the model-client names where AutoGen 0.2 users import them (``autogen.oai``).

Re-exports only; the implementations live in `parley.llm`.
"""

from parley.llm.cache import Cache
from parley.llm.legacy_completion import ChatCompletion, Completion
from parley.oai.client import ModelClient, OpenAIWrapper
from parley.oai.openai_utils import (
    config_list_from_dotenv,
    config_list_from_json,
    config_list_from_models,
    config_list_gpt4_gpt35,
    config_list_openai_aoai,
    filter_config,
    get_config_list,
)

__all__ = [
    "Cache",
    "ChatCompletion",
    "Completion",
    "ModelClient",
    "OpenAIWrapper",
    "config_list_from_dotenv",
    "config_list_from_json",
    "config_list_from_models",
    "config_list_gpt4_gpt35",
    "config_list_openai_aoai",
    "filter_config",
    "get_config_list",
]
