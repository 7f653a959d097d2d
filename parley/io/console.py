"""``parley.io.console``: `IOConsole` where AutoGen 0.2 users import it.

A re-export of `parley.agentchat.io.IOConsole`.
"""

from parley.agentchat.io import IOConsole

__all__ = ["IOConsole"]
