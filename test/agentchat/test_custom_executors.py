"""User executors written AutoGen 0.2 style plug in, and images can go to a vision model."""

from __future__ import annotations

import base64
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.exceptions import ConfigError
from parley.testing import ScriptedModelClient

USER_EXECUTOR = textwrap.dedent(
    '''
    """A user's executor in the AutoGen 0.2 style: sync methods only, no parley base class."""
    from parley.coding import CodeBlock, CodeResult, MarkdownCodeExtractor


    class ShoutingExecutor:
        def __init__(self, prefix: str = ">> ") -> None:
            self.prefix = prefix
            self.runs = []

        @property
        def code_extractor(self):
            return MarkdownCodeExtractor()

        def execute_code_blocks(self, code_blocks):
            self.runs.append([b.code for b in code_blocks])
            return CodeResult(exit_code=0, output=self.prefix + " | ".join(b.code.upper() for b in code_blocks))

        def restart(self) -> None:
            pass


    class NotAnExecutor:
        def run(self, code):
            return code
    '''
)

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "executors.py").write_text(USER_EXECUTOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userpkg.executors"
    for name in [m for m in sys.modules if m.startswith("userpkg")]:
        del sys.modules[name]


def chat(config: dict[str, Any], replies: list[Any]) -> tuple[Any, UserProxyAgent]:
    proxy = UserProxyAgent("proxy", human_input_mode="NEVER", code_execution_config=config)
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient(replies))
    result = proxy.initiate_chat(assistant, message="go", silent=True)
    return result, proxy


def test_sync_only_user_executor_as_instance(user_module: str) -> None:
    module = __import__(user_module, fromlist=["ShoutingExecutor"])
    executor = module.ShoutingExecutor(prefix="!! ")
    result, proxy = chat({"executor": executor}, ["```python\nprint('hi')\n```", "done TERMINATE"])
    assert proxy.code_executor is executor
    assert executor.runs == [["print('hi')"]]
    assert result.chat_history[2]["content"] == "exitcode: 0 (execution succeeded)\nCode output: !! PRINT('HI')"


def test_user_executor_by_module_path_with_kwargs(user_module: str) -> None:
    target = f"{user_module}:ShoutingExecutor"
    result, proxy = chat(
        {"executor": target, target: {"prefix": "## "}}, ["```sh\necho a\n```\n```python\nx = 1\n```", "TERMINATE"]
    )
    assert type(proxy.code_executor).__name__ == "ShoutingExecutor"
    assert result.chat_history[2]["content"] == "exitcode: 0 (execution succeeded)\nCode output: ## ECHO A | X = 1"


def test_class_that_is_not_an_executor_is_refused(user_module: str) -> None:
    with pytest.raises(ConfigError, match="execute_code_blocks"):
        UserProxyAgent("proxy", code_execution_config={"executor": f"{user_module}:NotAnExecutor"})


class ImageExecutor:
    """Returns the image files it is told to, as a kernel executor would for plots."""

    def __init__(self, files: list[str]) -> None:
        self.files = files

    @property
    def code_extractor(self) -> Any:
        from parley.coding import MarkdownCodeExtractor

        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: Any) -> Any:
        from parley.coding import CodeResult

        return CodeResult(exit_code=0, output="plotted", output_files=self.files)

    def restart(self) -> None:
        pass


def test_images_reach_the_vision_model_when_asked_within_budget(tmp_path: Path) -> None:
    pngs = []
    for i in range(3):
        p = tmp_path / f"plot{i}.png"
        p.write_bytes(PNG)
        pngs.append(str(p))
    svg = tmp_path / "plot.svg"
    svg.write_text("<svg/>")
    model = ScriptedModelClient(["```python\nplot()\n```", "I see it. TERMINATE"])
    proxy = UserProxyAgent(
        "proxy", human_input_mode="NEVER",
        code_execution_config={"executor": ImageExecutor([*pngs, str(svg)]), "send_images": {"max_count": 2}},
    )  # fmt: skip
    proxy.initiate_chat(AssistantAgent("assistant", llm_config=model), message="plot", silent=True)
    content = model.calls[1][-1]["content"]
    assert isinstance(content, list)
    assert content[0]["type"] == "text"
    text = str(content[0]["text"])
    assert text.startswith("exitcode: 0 (execution succeeded)\nCode output: plotted")
    assert f"Not attached (over the image budget or unreadable): {pngs[2]}" in text
    images = [p for p in content if p["type"] == "image_url"]
    assert len(images) == 2
    assert images[0]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_images_are_not_sent_unless_asked(tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(PNG)
    model = ScriptedModelClient(["```python\nplot()\n```", "TERMINATE"])
    proxy = UserProxyAgent(
        "proxy", human_input_mode="NEVER", code_execution_config={"executor": ImageExecutor([str(png)])}
    )
    proxy.initiate_chat(AssistantAgent("assistant", llm_config=model), message="plot", silent=True)
    assert (
        model.calls[1][-1]["content"] == f"exitcode: 0 (execution succeeded)\nCode output: plotted\nOutput files: {png}"
    )


def test_bad_image_budget_is_refused() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'max_count'"):
        UserProxyAgent("p", code_execution_config={"executor": "local", "send_images": {"max_cuont": 2}})
