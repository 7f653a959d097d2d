"""``parley.io``: the IO stream names where AutoGen 0.2 users import them (``autogen.io``).

The implementation lives in `parley.agentchat.io`; this module only re-exports it.
"""

from parley.agentchat.io import IOConsole, IOStream, ScriptedIOStream

__all__ = ["IOConsole", "IOStream", "ScriptedIOStream"]
