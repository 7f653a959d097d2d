"""``parley.oai.openai_utils``: AutoGen 0.2's config-list helpers.

Re-exports of `parley.llm.config` and `parley.llm.config_sources`.
"""

from parley.llm.config import config_list_from_json, filter_config
from parley.llm.config_sources import (
    config_list_from_dotenv,
    config_list_from_models,
    config_list_gpt4_gpt35,
    config_list_openai_aoai,
    get_config,
    get_config_list,
    is_valid_api_key,
)
from parley.llm.providers import DEFAULT_AZURE_API_VERSION

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "config_list_from_dotenv",
    "config_list_from_json",
    "config_list_from_models",
    "config_list_gpt4_gpt35",
    "config_list_openai_aoai",
    "filter_config",
    "get_config",
    "get_config_list",
    "is_valid_api_key",
]
