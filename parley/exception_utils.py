"""``parley.exception_utils``: AutoGen 0.2's group-chat exceptions where its users import them.

They are subclasses in parley's own error tree (`parley.exceptions`), raised where AutoGen 0.2
raised them; this module only re-exports them, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [  # noqa: F822 - resolved by __getattr__ from parley.exceptions
    "AgentNameConflict",
    "InvalidCarryOverType",
    "NoEligibleSpeaker",
    "SenderRequired",
    "UndefinedNextAgent",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("parley.exceptions"), name)
    raise AttributeError(f"module 'parley.exception_utils' has no attribute {name!r}")
