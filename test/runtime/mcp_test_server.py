"""A small MCP server for the tests, written with the official SDK (``mcp.server.mcpserver.MCPServer``).

Run as ``python mcp_test_server.py [stdio|http|crash|silent]``:

- ``stdio`` (the default) serves over stdin/stdout;
- ``http`` serves streamable HTTP on a free loopback port, prints ``PORT <n>`` on stdout once it
  listens, and answers 401 to any request whose ``X-Test-Token`` header is not ``$TEST_TOKEN``;
- ``crash`` writes a line to stderr and exits with status 3 before speaking MCP;
- ``silent`` never answers (a server stuck at start-up).
"""

from __future__ import annotations

import sys
import time

# The start-up faults come first, before the SDK's import, which takes a while.
if __name__ == "__main__" and sys.argv[1:2] == ["crash"]:
    print("test server: cannot start, the configuration is missing", file=sys.stderr, flush=True)
    sys.exit(3)
if __name__ == "__main__" and sys.argv[1:2] == ["silent"]:
    time.sleep(3600)

import os
import socket
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("parley-test", log_level="WARNING")


@server.tool()
def weather(city: str) -> str:
    """The weather in a city today."""
    return f"Sunny in {city}, 21 C"


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"the tool failed on purpose: {reason}")


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep(3600)
    return "woke up"


@server.tool()
def env_value(name: str) -> str:
    """The value of an environment variable in the server, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool()
def where() -> str:
    """The server's working directory and process id."""
    return f"{os.getcwd()} {os.getpid()}"


@server.tool(name="geo.lookup")
def geo_lookup(place: str) -> dict[str, Any]:
    """Coordinates of a place (a tool whose name has a dot)."""
    return {"place": place, "lat": 48.85, "lon": 2.35}


def _serve_http() -> None:
    import uvicorn

    token = os.environ["TEST_TOKEN"]
    app = server.streamable_http_app()

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        # Lifespan events pass through: they run the app's session manager.
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-test-token", b"").decode() != token:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"missing or wrong X-Test-Token"})
            return
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(guarded, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        _serve_http()
    else:
        server.run()
