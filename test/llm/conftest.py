"""Fixtures for model-layer tests: a fake API key, a closed port, config entries for a server, Redis."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import require

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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis server's URL (``PARLEY_TEST_REDIS_URL``, set by scripts/test.sh); skips without one."""
    url = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        answered = True
    except Exception:
        answered = False
    require(answered, f"a Redis server at {url} (scripts/redis_setup.sh installs and starts one)")
    return url


@pytest.fixture
def redis_seed(redis_url: str) -> Iterator[str]:
    """A cache seed no other test uses; its keys (``parley:<seed>:*``) are deleted afterwards."""
    import redis

    seed = f"test-{uuid.uuid4().hex[:12]}"
    yield seed
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"parley:{seed}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
