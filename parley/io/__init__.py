"""``parley.io``: the IO stream names where AutoGen 0.2 users import them (``autogen.io``).

The implementations live in `parley.agentchat.io` and `parley.agentchat.io_websockets`; this
package only re-exports them (``IOWebsockets`` is imported on first use, and needs the
``websockets`` library only when its server starts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.agentchat.io import IOConsole, IOStream, ScriptedIOStream

if TYPE_CHECKING:
    from parley.agentchat.io_websockets import IOWebsockets

InputStream = IOStream
"""AutoGen 0.2 splits the protocol in two; parley's `IOStream` has both halves."""

OutputStream = IOStream
"""See `InputStream`."""

__all__ = ["IOConsole", "IOStream", "IOWebsockets", "InputStream", "OutputStream", "ScriptedIOStream"]


def __getattr__(name: str) -> Any:
    if name == "IOWebsockets":
        from parley.agentchat.io_websockets import IOWebsockets

        return IOWebsockets
    raise AttributeError(f"module 'parley.io' has no attribute {name!r}")
