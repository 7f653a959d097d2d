"""``parley.oai.client``: `OpenAIWrapper` and `ModelClient` where AutoGen 0.2 users import them.

``LEGACY_DEFAULT_CACHE_SEED`` and ``LEGACY_CACHE_DIR`` are AutoGen 0.2's default seed and folder
for ``cache_seed`` caches; in parley a seed turns the cache on (it is off unless asked for).
"""

from parley.llm.cache import DEFAULT_CACHE_PATH_ROOT, DEFAULT_CACHE_SEED
from parley.llm.client import ModelClient
from parley.llm.completion import Completion
from parley.llm.openai_client import OpenAIClient
from parley.llm.wrapper import OpenAIWrapper

TOOL_ENABLED = True
"""AutoGen 0.2's flag for an openai SDK that takes ``tools``; every SDK parley supports does."""

LEGACY_CACHE_DIR = DEFAULT_CACHE_PATH_ROOT
"""Where ``cache_seed`` caches live: ``.cache/<seed>/``."""

LEGACY_DEFAULT_CACHE_SEED = DEFAULT_CACHE_SEED
"""The seed `parley.llm.cache.Cache.disk` uses when given none."""

__all__ = [
    "LEGACY_CACHE_DIR",
    "LEGACY_DEFAULT_CACHE_SEED",
    "Completion",
    "ModelClient",
    "OpenAIClient",
    "OpenAIWrapper",
    "TOOL_ENABLED",
]
