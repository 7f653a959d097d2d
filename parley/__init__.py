"""parley: conversations among agents that solve tasks together."""

__version__ = "0.1.0"
