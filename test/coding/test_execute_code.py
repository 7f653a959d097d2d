"""AutoGen 0.2's ``parley.code_utils`` execution helpers: `execute_code` over parley's executors, the Docker checks."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from parley.code_utils import (
    TIMEOUT_MSG,
    a_execute_code,
    check_can_use_docker_or_throw,
    decide_use_docker,
    execute_code,
    extract_code,
    get_powershell_command,
    in_docker_container,
    is_docker_running,
)
from parley.exceptions import ConfigError, DockerNotRunningError, ExecutorUnavailableError

from ._docker_env import SANDBOX_IMAGE, require_docker

pytestmark = pytest.mark.timeout(120)


def test_code_runs_locally_and_its_temporary_file_is_removed(tmp_path: Path) -> None:
    assert execute_code("print('hello world')", work_dir=tmp_path, use_docker=False) == (0, "hello world\n", None)
    assert list(tmp_path.iterdir()) == []


def test_a_named_file_is_kept_as_written_and_can_be_run_again(tmp_path: Path) -> None:
    exit_code, logs, image = execute_code("print('saved')", filename="sub/saved.py", work_dir=tmp_path)
    assert (exit_code, logs, image) == (0, "saved\n", None)
    assert (tmp_path / "sub" / "saved.py").read_text() == "print('saved')"
    assert execute_code(filename="sub/saved.py", work_dir=tmp_path) == (0, "saved\n", None)
    assert execute_code("cat sub/saved.py", lang="sh", work_dir=tmp_path) == (0, "print('saved')", None)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["saved.py", "sub"]


def test_a_failure_gives_its_exit_code_and_traceback(tmp_path: Path) -> None:
    exit_code, logs, _ = execute_code("print('before')\nassert 1 == 2", work_dir=tmp_path)
    assert exit_code == 1
    assert logs.startswith("before\nTraceback")
    assert "AssertionError" in logs


def test_a_timeout_kills_the_run_and_says_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    code = f"import time\ntime.sleep(30)\nopen({str(marker)!r}, 'w').close()"
    assert execute_code(code, timeout=1, work_dir=tmp_path) == (124, TIMEOUT_MSG, None)
    assert list(tmp_path.iterdir()) == []


def test_code_does_not_see_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "sk-secret")
    code = "import os; print(os.environ.get('MY_SERVICE_API_KEY'))"
    assert execute_code(code, work_dir=tmp_path)[1] == "None\n"


async def test_the_async_form_inside_a_running_loop(tmp_path: Path) -> None:
    results = await asyncio.gather(*(a_execute_code(f"print({i})", work_dir=tmp_path) for i in range(3)))
    assert results == [(0, f"{i}\n", None) for i in range(3)]


def test_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"code= .* or filename="):
        execute_code()
    with pytest.raises(ConfigError, match="inside work_dir"):
        execute_code("print(1)", filename="../outside.py", work_dir=tmp_path)
    with pytest.raises(ConfigError, match="lang may be"):
        execute_code("1", lang="cobol", work_dir=tmp_path)


def test_docker_is_used_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGEN_USE_DOCKER", raising=False)
    assert decide_use_docker(None) is False
    assert execute_code("print(1)", work_dir=tmp_path)[2] is None
    for value, expected in [("1", True), ("TRUE", True), ("yes", True), ("f", False), ("no", False), ("None", None)]:
        monkeypatch.setenv("AUTOGEN_USE_DOCKER", value)
        assert decide_use_docker(None) is expected
    assert decide_use_docker(False) is False
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", "sometimes")
    with pytest.raises(ValueError, match="AUTOGEN_USE_DOCKER"):
        decide_use_docker(None)


def test_docker_asked_for_without_a_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    assert is_docker_running() is False
    check_can_use_docker_or_throw(False)
    check_can_use_docker_or_throw(None)
    if in_docker_container():  # as in AutoGen 0.2, code already in a container runs where it is
        assert execute_code("print(1)", use_docker=True, work_dir=tmp_path) == (0, "1\n", None)
        return
    with pytest.raises(DockerNotRunningError, match="use_docker=False") as caught:
        execute_code("print(1)", use_docker=True, work_dir=tmp_path)
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value, ExecutorUnavailableError)


def test_the_error_when_docker_cannot_be_used_is_a_runtime_error() -> None:
    assert issubclass(DockerNotRunningError, RuntimeError)
    assert issubclass(DockerNotRunningError, ExecutorUnavailableError)


def test_code_runs_in_the_docker_image_asked_for(tmp_path: Path) -> None:
    require_docker()
    assert is_docker_running() is True
    exit_code, logs, image = execute_code(
        "import os; print(os.path.exists('/.dockerenv'), os.getcwd())", use_docker=SANDBOX_IMAGE, work_dir=tmp_path
    )
    assert (exit_code, logs, image) == (0, "True /workspace\n", SANDBOX_IMAGE)
    assert execute_code("print('listed')", use_docker=[SANDBOX_IMAGE], work_dir=tmp_path)[1:] == (
        "listed\n",
        SANDBOX_IMAGE,
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(bool(shutil.which("pwsh") or shutil.which("powershell")), reason="PowerShell is installed here")
def test_no_powershell_is_a_file_not_found_error() -> None:
    with pytest.raises(FileNotFoundError, match="Neither 'powershell' nor 'pwsh'"):
        get_powershell_command()


def test_extract_code_can_return_inline_code_as_autogen_does() -> None:
    text = "Run `source setup.sh` then:\n```python\nprint(1)\n```\nand `ls`."
    assert extract_code(text) == [("python", "print(1)")]
    assert extract_code(text, detect_single_line_code=True) == [
        ("python", "print(1)"),
        ("", "source setup.sh"),
        ("", "ls"),
    ]
    assert extract_code("no code", detect_single_line_code=True) == []
    assert extract_code("no code") == [("unknown", "no code")]
