"""``parley.io.websockets``: `IOWebsockets` where AutoGen 0.2 users import it.

A re-export of `parley.agentchat.io_websockets`.
"""

from parley.agentchat.io_websockets import IOWebsockets

__all__ = ["IOWebsockets"]
