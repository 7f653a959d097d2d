"""AutoGen 0.2's ``autogen.Completion`` and ``autogen.ChatCompletion``: names kept, the API retired.

In 0.2 these classes wrapped the ``openai<1`` SDK (text and chat completions with tuning, a disk
cache and logging). With ``openai>=1`` installed, as 0.2 itself requires, every call on them
already raised. parley keeps the names, so a ported import works, and each call raises a
`ConfigError` that names what to use instead: `parley.OpenAIWrapper` (``create(messages=...)``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from parley.exceptions import ConfigError

__all__ = ["ChatCompletion", "Completion"]

_RETIRED = (
    "autogen.{name}.{method}() used the openai<1 SDK, which OpenAI retired (AutoGen 0.2 raises here too with "
    "openai>=1). Use OpenAIWrapper instead: OpenAIWrapper(config_list=[...]).create(messages=[...]) "
    "returns the completion, with .cost; agents take the same entries as llm_config={{'config_list': [...]}}."
)


class _Retired(type):
    def __getattr__(cls, method: str) -> Any:
        if method.startswith("__"):
            raise AttributeError(method)

        def retired(*args: Any, **kwargs: Any) -> NoReturn:
            raise ConfigError(_RETIRED.format(name=cls.__name__, method=method))

        return retired


class Completion(metaclass=_Retired):
    """AutoGen 0.2's ``openai<1`` completion class: importable, and every method call raises.

    Raises:
        ConfigError: on any method (``create``, ``tune``, ``test``, ``cost`` ...), naming
            `OpenAIWrapper` as the replacement.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ConfigError(_RETIRED.format(name=type(self).__name__, method="__init__"))


class ChatCompletion(Completion):
    """AutoGen 0.2's ``openai<1`` chat completion class; see `Completion`."""
