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


@pytest.fixture(autouse=True, scope="session")
def _no_file_left_outside_a_work_dir() -> Iterator[None]:
    """After the session, nothing was left in the temporary directory or the checkout by the tests' code.

    Every test's files belong in its ``tmp_path`` (pytest's own directory). Temporary files that
    parley or the code it runs make elsewhere (kernels' connection files, gateways' runtime
    directories, spilled output) go to a ``TMPDIR`` of the session's own, which must be empty at
    the end; and the checkout gains no untracked file.
    """
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    def untracked() -> set[str]:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True
        )
        return {line[3:] for line in out.stdout.splitlines() if line.startswith("??")}

    before = untracked()
    session_tmp = Path(tempfile.mkdtemp(prefix="parley-session-tmp-"))
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(session_tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
        tempfile.tempdir = None
        # pytest's own tmp_path directories (pytest-of-<user>) are made lazily, so they land here too.
        left = sorted(
            str(p.relative_to(session_tmp)) for p in session_tmp.iterdir() if not p.name.startswith("pytest-of-")
        )
        shutil.rmtree(session_tmp, ignore_errors=True)
    assert left == [], f"files left in the temporary directory after the session: {left[:20]}"
    added = sorted(untracked() - before)
    assert added == [], f"files written into the checkout by the tests: {added[:20]}"
