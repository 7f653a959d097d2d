"""Shared fixtures, and the guard that makes any real (non-loopback) model request fail."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str) -> None:
    """Skip when ``what`` is missing here; on CI (CI=true) a missing component fails the run."""
    if available:
        return
    if ON_CI:
        pytest.fail(f"{what} is required on CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture(autouse=True, scope="session")
def _block_real_model_requests() -> Iterator[None]:
    """No test may talk to a hosted model: only loopback servers are allowed."""
    from parley.llm import openai_client

    saved_env = {
        k: os.environ.pop(k) for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OAI_CONFIG_LIST") if k in os.environ
    }
    openai_client.ALLOW_REMOTE_MODEL_REQUESTS = False
    yield
    openai_client.ALLOW_REMOTE_MODEL_REQUESTS = True
    os.environ.update(saved_env)
