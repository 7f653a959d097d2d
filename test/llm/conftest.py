"""Fixtures for model-layer tests: a fake API key, a closed port, config entries for a server."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from parley.testing import ScriptedOpenAIServer

SECRET = "SECRET123456789"
FAKE_KEY = f"sk-test-{SECRET}"


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def entry_for() -> Callable[..., dict[str, Any]]:
    """``entry_for(server_or_base_url, **overrides)``: a config entry with the fake key and no retries."""

    def make(target: ScriptedOpenAIServer | str, **overrides: Any) -> dict[str, Any]:
        base_url = target if isinstance(target, str) else target.base_url
        return {"model": "gpt-4o-mini", "api_key": FAKE_KEY, "base_url": base_url, "max_retries": 0, **overrides}

    return make
