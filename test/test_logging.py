"""Logging: parley's records come from its named loggers, hold no secret, and print nothing unless
the application configures logging."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import pytest

import parley
from parley import AssistantAgent, UserProxyAgent, register_function
from parley._logging import LOGGER_NAMES, get_logger
from parley.testing import ScriptedOpenAIServer

SECRET = "sk-test-secret-0123456789"
PACKAGE = Path(parley.__file__).parent


def script(request: dict[str, Any]) -> Any:
    last = request["messages"][-1]
    if last.get("role") == "tool":
        return "Now two blocks:\n```bash\necho first\n```\n```bash\nrm -rf /tmp/parley-not-there\n```"
    if str(last.get("content") or "").startswith("exitcode: 1"):
        return "```python\nprint(2 + 3)\n```"
    if str(last.get("content") or "").startswith("exitcode: 0"):
        return "The sum is 5. TERMINATE"
    return {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_add"}]}


class Flaky:
    """The script, after one HTTP 500 that the SDK retries."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, request: dict[str, Any]) -> Any:
        if not self.failed:
            self.failed = True
            return {"error": {"status": 500, "message": "try again"}}
        return script(request)


def add(a: Annotated[int, "first"], b: Annotated[int, "second"]) -> int:
    return a + b


def chat(base_url: str, work_dir: Path) -> Any:
    """A chat with a fallback (an unknown model first), a retried request, a tool call, a refused
    block and a block that runs."""
    entries = [
        {"model": "no-such-model", "base_url": base_url, "api_key": SECRET},
        {"model": "gpt-4o-mini", "base_url": base_url, "api_key": SECRET, "max_retries": 1},
    ]
    assistant = AssistantAgent("assistant", llm_config={"config_list": entries})
    proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": str(work_dir)}},
    )
    register_function(add, caller=assistant, executor=proxy, description="Add two integers.")
    return proxy.initiate_chat(assistant, message="What is 2 + 3?", silent=True)


@pytest.mark.timeout(60)
def test_a_run_logs_on_parleys_named_loggers_without_secrets(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="parley"),
        ScriptedOpenAIServer(Flaky(), model="gpt-4o-mini", models=["gpt-4o-mini"]) as server,
    ):
        result = chat(server.base_url, tmp_path)
    assert result.chat_history[-1]["content"] == "The sum is 5. TERMINATE"
    records = [r for r in caplog.records if r.name.startswith("parley")]
    assert {r.name for r in records} <= set(LOGGER_NAMES)
    lines = [(r.name, r.levelname, r.getMessage()) for r in records]
    text = "\n".join(f"{n} {lv} {m}" for n, lv, m in lines)
    assert SECRET not in text
    library = "\n".join(m for n, _, m in lines if n != "parley.testing")  # the test server shows content
    assert "What is 2 + 3" not in library  # no message content

    def seen(name: str, level: str, pattern: str) -> bool:
        return any(n == name and lv == level and re.search(pattern, m) for n, lv, m in lines)

    assert seen("parley.agentchat", "DEBUG", r"^chat user_proxy -> assistant: started$")
    assert seen("parley.llm", "DEBUG", r"^model request: model=gpt-4o-mini base_url=http://127\.0\.0\.1:\d+/v1, ")
    assert seen("parley.llm", "INFO", r"^model request failed: model=no-such-model .*ModelNotFoundError")
    assert seen("parley.llm", "INFO", r"^config_list\[0\] failed \(ModelNotFoundError\); trying the next entry$")
    assert seen(
        "parley.llm", "INFO", r"^model request retried \(retry 1\): POST http://127\.0\.0\.1:\d+/v1/chat/completions$"
    )
    assert seen("parley.agentchat", "DEBUG", r"^tool call add \(id call_add\)$")
    assert seen(
        "parley.coding.approval", "INFO", r"^LocalCommandLineCodeExecutor refused 2 code block\(s\) \(bash, bash\)"
    )
    assert seen("parley.coding", "DEBUG", r"^LocalCommandLineCodeExecutor ran 1 block\(s\) \(python\): exit code 0 in ")
    assert not [m for n, lv, m in lines if lv in ("WARNING", "ERROR", "CRITICAL")]


UNCONFIGURED = textwrap.dedent(
    """
    import logging, sys, tempfile
    sys.path.insert(0, {test_dir!r})
    from test_logging import Flaky, chat
    from parley.testing import ScriptedOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, ScriptedOpenAIServer(
        Flaky(), model="gpt-4o-mini", models=["gpt-4o-mini"]
    ) as server:
        result = chat(server.base_url, tmp)
    print(result.chat_history[-1]["content"])
    print(logging.getLogger("parley").handlers, logging.getLogger().handlers)
    print(sorted(n for n in logging.Logger.manager.loggerDict if n.startswith("parley")
                 and logging.getLogger(n).handlers))
    """
)


@pytest.mark.timeout(60)
def test_unconfigured_logging_prints_nothing_and_parley_adds_no_handler(tmp_path: Path) -> None:
    code = UNCONFIGURED.format(test_dir=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=50, check=True
    )
    assert out.stdout.splitlines() == ["The sum is 5. TERMINATE", "[] []", "[]"]
    assert out.stderr == ""


def test_get_logger_knows_only_the_listed_names() -> None:
    assert get_logger("parley.coding.pool") is logging.getLogger("parley.coding.pool")
    with pytest.raises(ValueError, match=r"'parley.coding.pol' is not one of parley's loggers.*'parley.coding.pool'"):
        get_logger("parley.coding.pol")


def test_only_the_logging_module_names_loggers() -> None:
    """Loggers come from parley._logging.get_logger, so LOGGER_NAMES (and the docs) list them all."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "_logging.py" and "logging.getLogger(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
    used = set()
    for p in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r'get_logger\("([^"]+)"\)', p.read_text(encoding="utf-8")))
    assert used <= set(LOGGER_NAMES)


async def test_a_failed_model_call_is_logged_at_info_with_debug_off(caplog: pytest.LogCaptureFixture) -> None:
    # With the logger at INFO and no tracer, a model call still goes through the logged path:
    # only a call that nothing would record skips it.
    from parley.exceptions import ModelRateLimitError
    from parley.llm import OpenAIWrapper
    from parley.llm.types import ModelResponse

    class Busy:
        async def create(self, messages: Any, *, tools: Any = None, params: Any = None) -> ModelResponse:
            raise ModelRateLimitError("busy", status_code=429)

    wrapper = OpenAIWrapper(config_list=[{"model_client": Busy(), "model": "busy-model", "api_key": SECRET}])
    with caplog.at_level(logging.INFO, logger="parley.llm"), pytest.raises(ModelRateLimitError):
        await wrapper.create([{"role": "user", "content": "hi"}])
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "parley.llm"]
    assert lines == [("INFO", "model request failed: model=busy-model model_client=Busy: ModelRateLimitError: busy")]
    assert SECRET not in caplog.text
