"""``parley.io.base``: the IOStream protocol where AutoGen 0.2 users import it. Re-exports of `parley.agentchat.io`."""

from parley.io import InputStream, IOStream, OutputStream

__all__ = ["IOStream", "InputStream", "OutputStream"]
