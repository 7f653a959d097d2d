"""EmbeddedIPythonCodeExecutor on real ipykernel kernels: its working directory, lifecycle and config.

The semantics every executor shares are in test_executor_contract.py, and those it shares with
the gateway executor (state, timeouts, dead kernels, displays) in test_kernel_executors.py; both
run on this executor too. This module covers what is particular to a local kernel process.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.coding import CodeBlock, CodeExecutorFactory
from parley.coding.jupyter import EmbeddedIPythonCodeExecutor, NotebookCodeExecutor
from parley.exceptions import ConfigError, ExecutorError, ExecutorUnavailableError
from parley.testing import ScriptedModelClient

from ._kernel_env import kernel_pid, py, require_kernel, run
from ._procs import is_gone, wait_for_pids
from .conftest import building

pytestmark = pytest.mark.kernel
MakeKernel = Callable[..., EmbeddedIPythonCodeExecutor]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeKernel]:
    """Builds executors on ``tmp_path / "work"``; every one is closed after the test."""
    with building("ipython-embedded", tmp_path / "work") as build:
        yield cast(MakeKernel, build)


# --- the working directory ------------------------------------------------------------------------


def test_the_kernel_runs_in_work_dir_and_files_stay(make: MakeKernel, tmp_path: Path) -> None:
    executor = make()
    result = run(executor, py("import os; print(os.getcwd()); _ = open('made.txt', 'w').write('x')"))
    assert result.output == f"{(tmp_path / 'work').absolute()}\n"
    executor.restart()
    assert (tmp_path / "work" / "made.txt").read_text() == "x"


def test_shell_blocks_run_as_subprocesses_with_their_exit_codes(make: MakeKernel, tmp_path: Path) -> None:
    executor = make()
    result = run(executor, CodeBlock("pwd\necho to stderr >&2\nexit 3", "bash"))
    assert (result.exit_code, result.output) == (3, f"{(tmp_path / 'work').absolute()}\nto stderr\n")
    assert "__ParleyShellExit" not in result.output
    ok = run(executor, CodeBlock("echo $0", "sh"), CodeBlock("echo shell", "shell"))
    assert (ok.exit_code, ok.output) == (0, "sh\nshell\n")


def test_filename_marker_saves_the_block_inside_work_dir_and_runs_it(make: MakeKernel, tmp_path: Path) -> None:
    code = "# filename: lib/helper.py\nhelped = True\nprint('ran')"
    result = run(make(), py(code))
    assert (result.exit_code, result.output) == (0, "ran\n")
    assert (tmp_path / "work" / "lib" / "helper.py").read_text() == code + "\n"


# --- lifecycle ------------------------------------------------------------------------------------


def test_constructor_does_no_io(tmp_path: Path) -> None:
    require_kernel()
    before = {p.pid for p in psutil.Process().children()}
    executor = EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "not yet", kernel_name="no-such-kernel")
    assert not (tmp_path / "not yet").exists()
    assert {p.pid for p in psutil.Process().children()} <= before
    executor.close()


@pytest.mark.timeout(60)
def test_close_leaves_no_kernel_and_no_child_behind(make: MakeKernel, tmp_path: Path) -> None:
    executor = make()
    pids = tmp_path / "pids.txt"
    code = f"""
    import os, subprocess
    child = subprocess.Popen(['sleep', '1000'])
    _ = open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')
    """
    started = run(executor, py(code))
    assert started.exit_code == 0, started.output
    kernel, child = wait_for_pids(pids, 2)
    executor.close()
    assert is_gone(kernel)
    assert is_gone(child)
    executor.close()  # idempotent
    with pytest.raises(ExecutorError, match="closed"):
        run(executor, py("1"))


async def test_async_context_manager_starts_and_stops_the_kernel(tmp_path: Path) -> None:
    require_kernel()
    async with EmbeddedIPythonCodeExecutor(work_dir=tmp_path) as executor:
        result = await executor.a_execute_code_blocks([py("import os; print(os.getpid())")])
        pid = int(result.output)
        assert psutil.pid_exists(pid)
    assert is_gone(pid)


@pytest.mark.timeout(90)
def test_no_kernel_is_left_at_interpreter_exit(tmp_path: Path) -> None:
    require_kernel()
    script = textwrap.dedent(
        f"""
        from parley.coding import CodeBlock
        from parley.coding.jupyter import EmbeddedIPythonCodeExecutor
        executor = EmbeddedIPythonCodeExecutor(work_dir={str(tmp_path)!r})
        print(executor.execute_code_blocks([CodeBlock("import os; print(os.getpid())", "python")]).output, flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stderr
    assert is_gone(int(done.stdout))


def test_unknown_kernel_name_says_did_you_mean(tmp_path: Path) -> None:
    require_kernel()
    executor = EmbeddedIPythonCodeExecutor(work_dir=tmp_path, kernel_name="pyhton3")
    with pytest.raises(ConfigError, match=r"No Jupyter kernel named 'pyhton3'.*Did you mean 'python3'\?"):
        executor.execute_code_blocks([py("1")])
    executor.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": 0}, "timeout must be a positive"),
        ({"timeout": float("inf")}, "finite"),
        ({"timeout": True}, "timeout"),
        ({"kernel_name": ""}, "kernel_name"),
        ({"max_output_chars": 1}, "max_output_chars"),
        ({"work_dir": 3}, "work_dir must be a str or Path"),
        ({"output_dir": ["x"]}, "output_dir must be a str or Path"),
        ({"startup_timeout": -1}, "startup_timeout"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        EmbeddedIPythonCodeExecutor(**kwargs)


def test_dirs_default_to_each_other_as_in_autogen(tmp_path: Path) -> None:
    assert EmbeddedIPythonCodeExecutor().output_dir == Path(".")
    only_output = EmbeddedIPythonCodeExecutor(output_dir=tmp_path)
    assert (only_output.work_dir, only_output.output_dir) == (tmp_path, tmp_path)
    only_work = EmbeddedIPythonCodeExecutor(work_dir=tmp_path)
    assert (only_work.work_dir, only_work.output_dir) == (tmp_path, tmp_path)


# --- factory and capability -----------------------------------------------------------------------


def test_factory_builds_it_by_name(tmp_path: Path) -> None:
    executor = CodeExecutorFactory.create(
        {"executor": "ipython-embedded", "ipython-embedded": {"timeout": 5, "work_dir": tmp_path}}
    )
    assert isinstance(executor, EmbeddedIPythonCodeExecutor)
    assert (executor.timeout, executor.work_dir) == (5, tmp_path)


def test_notebook_executor_outside_ipython_says_what_to_use_instead() -> None:
    with pytest.raises(ExecutorUnavailableError, match=r"plain Python.*'ipython-embedded'"):
        CodeExecutorFactory.create({"executor": "notebook"})
    with pytest.raises(ExecutorUnavailableError):
        NotebookCodeExecutor()


def test_user_capability_describes_the_kernel_once(tmp_path: Path) -> None:
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient([]))
    before = assistant.system_message
    executor = EmbeddedIPythonCodeExecutor(work_dir=tmp_path / "w", output_dir=tmp_path / "o", timeout=9)
    executor.user_capability.add_to_agent(assistant)
    executor.user_capability.add_to_agent(assistant)
    added = assistant.system_message[len(before) :]
    assert assistant.system_message.startswith(before)
    assert added.count("# How your code is run") == 1
    for expected in (str(tmp_path / "w"), str(tmp_path / "o"), "9 seconds", "%pip install", "keeps its state"):
        assert expected in added


# --- with agents ----------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_vision_model_sees_its_own_plot(tmp_path: Path) -> None:
    require_kernel()
    plot = "```python\nimport matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.show()\n```"
    model = ScriptedModelClient([plot, "I see the plot. TERMINATE"])
    assistant = AssistantAgent("assistant", llm_config=model)
    proxy = UserProxyAgent(
        "proxy",
        human_input_mode="NEVER",
        code_execution_config={
            "executor": "ipython-embedded",
            "ipython-embedded": {"work_dir": tmp_path},
            "send_images": True,
        },
    )
    try:
        proxy.initiate_chat(assistant, message="Plot [3, 1, 2].", silent=True)
    finally:
        proxy.code_executor.close()
    seen: Any = model.calls[1][-1]["content"]
    assert isinstance(seen, list)
    text, image = seen
    assert str(text["text"]).startswith("exitcode: 0 (execution succeeded)")
    assert image["type"] == "image_url"
    assert str(image["image_url"]["url"]).startswith("data:image/png;base64,")


# --- lifecycle, continued -------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_an_executor_dropped_without_close_ends_its_kernel_when_collected(tmp_path: Path) -> None:
    require_kernel()
    executor = EmbeddedIPythonCodeExecutor(work_dir=tmp_path)
    pid = kernel_pid(executor)
    del executor
    gc.collect()
    assert is_gone(pid)


def test_the_package_exports_are_sorted_and_complete() -> None:
    import parley.coding.jupyter as package

    assert package.__all__ == sorted(package.__all__)
    assert set(package.__all__) == {
        "DockerJupyterServer",
        "EmbeddedIPythonCodeExecutor",
        "IPythonCodeResult",
        "JupyterCodeExecutor",
        "JupyterConnectable",
        "JupyterConnectionInfo",
        "LocalJupyterServer",
        "NotebookCodeExecutor",
    }
