"""EmbeddedIPythonCodeExecutor on real ipykernel kernels: state, timeouts, dead kernels, displays.

The semantics every executor shares are in test_executor_contract.py, which runs on this
executor too; this module covers what is particular to a kernel that keeps state.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.coding import CodeBlock, CodeExecutorFactory, CodeResult
from parley.coding.jupyter import EmbeddedIPythonCodeExecutor, NotebookCodeExecutor
from parley.exceptions import ConfigError, ExecutorError, ExecutorUnavailableError
from parley.testing import ScriptedModelClient

from ._kernel_env import require_kernel
from ._procs import is_gone, wait_for_pids

pytestmark = pytest.mark.kernel
MakeKernel = Callable[..., EmbeddedIPythonCodeExecutor]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeKernel]:
    """Builds executors on ``tmp_path / "work"``; every one is closed after the test."""
    require_kernel()
    made: list[EmbeddedIPythonCodeExecutor] = []

    def build(**kwargs: Any) -> EmbeddedIPythonCodeExecutor:
        kwargs.setdefault("work_dir", tmp_path / "work")
        made.append(EmbeddedIPythonCodeExecutor(**kwargs))
        return made[-1]

    yield build
    for executor in made:
        executor.close()


def py(code: str) -> CodeBlock:
    return CodeBlock(textwrap.dedent(code), "python")


def run(executor: EmbeddedIPythonCodeExecutor, *blocks: CodeBlock) -> CodeResult:
    return executor.execute_code_blocks(list(blocks))


def kernel_pid(executor: EmbeddedIPythonCodeExecutor) -> int:
    return int(run(executor, py("import os; print(os.getpid())")).output)


# --- state ----------------------------------------------------------------------------------------


def test_state_persists_across_blocks_and_calls(make: MakeKernel) -> None:
    executor = make()
    assert run(executor, py("x = 20"), py("x += 1")).exit_code == 0
    result = run(executor, py("import math\nx * 2"))
    assert (result.exit_code, result.output) == (0, "42\n")


def test_restart_wipes_the_state(make: MakeKernel) -> None:
    executor = make()
    run(executor, py("kept = 1"))
    executor.restart()
    result = run(executor, py("kept"))
    assert result.exit_code == 1
    assert "NameError" in result.output


def test_the_kernel_runs_in_work_dir_and_files_stay(make: MakeKernel, tmp_path: Path) -> None:
    executor = make()
    result = run(executor, py("import os; print(os.getcwd()); _ = open('made.txt', 'w').write('x')"))
    assert result.output == f"{(tmp_path / 'work').absolute()}\n"
    executor.restart()
    assert (tmp_path / "work" / "made.txt").read_text() == "x"


# --- timeouts and dead kernels --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_timeout_interrupts_and_the_state_survives(make: MakeKernel) -> None:
    executor = make(timeout=1)
    run(executor, py("before = 'still here'"))
    result = run(executor, py("print('spinning', flush=True)\nwhile True: pass"))
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("spinning\n")
    assert "KeyboardInterrupt" in result.output
    assert "Timed out after 1 s; the kernel was interrupted. Its state (variables, imports) is kept." in result.output
    assert run(executor, py("print(before)")).output == "still here\n"


@pytest.mark.timeout(60)
def test_a_kernel_that_dies_is_replaced_and_the_model_is_told_state_was_lost(make: MakeKernel) -> None:
    executor = make()
    run(executor, py("gone_soon = 1"))
    first_pid = kernel_pid(executor)
    result = run(executor, py("print('about to die', flush=True)\nimport os; os._exit(1)"), py("print('not run')"))
    assert result.exit_code == 1
    assert not result.timed_out
    assert "The kernel died (exit status 1) while running this block." in result.output
    assert "All state was lost" in result.output
    assert "A fresh kernel was started" in result.output
    assert "not run" not in result.output
    after = run(executor, py("print('works'); print('gone_soon' in globals())"))
    assert (after.exit_code, after.output) == (0, "works\nFalse\n")
    assert is_gone(first_pid)


@pytest.mark.timeout(60)
def test_a_kernel_killed_between_runs_is_replaced_before_the_next_block(make: MakeKernel) -> None:
    executor = make()
    run(executor, py("lost = 1"))
    pid = kernel_pid(executor)
    psutil.Process(pid).kill()  # as the OOM killer would
    while not is_gone(pid):  # pytest-timeout bounds it
        time.sleep(0.01)
    result = run(executor, py("print('lost' in globals())"))
    assert result.exit_code == 0
    assert result.output.startswith("The kernel had died since the last run (killed by SIGKILL). All state was lost")
    assert result.output.endswith("\nFalse\n")


@pytest.mark.timeout(60)
def test_timeout_of_a_shell_block_kills_its_whole_tree(make: MakeKernel, tmp_path: Path) -> None:
    executor = make(timeout=1)
    pids = tmp_path / "pids.txt"
    script = f"sleep 1000 &\necho $$ $! > {pids}\necho started\nwait\n"
    result = run(executor, CodeBlock(script, "bash"))
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert all(is_gone(pid) for pid in wait_for_pids(pids, 2))
    assert run(executor, CodeBlock("echo alive", "sh")).output == "alive\n"


@pytest.mark.timeout(60)
async def test_cancelling_the_awaiting_task_interrupts_the_kernel(make: MakeKernel) -> None:
    executor = make()
    await executor.a_execute_code_blocks([py("state = 'kept'")])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(executor.a_execute_code_blocks([py("import time; time.sleep(1000)")]), 1)
    result = await executor.a_execute_code_blocks([py("print(state)")])
    assert (result.exit_code, result.output) == (0, "kept\n")


async def test_concurrent_calls_are_served_one_at_a_time(make: MakeKernel) -> None:
    executor = make()
    await executor.a_start()
    results = await asyncio.gather(
        *(executor.a_execute_code_blocks([py(f"import time; time.sleep(0.05); print({i})")]) for i in range(4))
    )
    assert [r.output for r in results] == ["0\n", "1\n", "2\n", "3\n"]


# --- outputs --------------------------------------------------------------------------------------


def test_matplotlib_plot_comes_back_as_a_png_file(make: MakeKernel, tmp_path: Path) -> None:
    executor = make(output_dir=tmp_path / "images")
    result = run(executor, py("import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title('squares')\nplt.show()"))
    assert result.exit_code == 0
    [png] = result.output_files
    assert Path(png).parent == (tmp_path / "images").absolute()
    assert Path(png).suffix == ".png"
    assert Path(png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"Image saved to {png}" in result.output
    assert "<Figure" not in result.output


def test_rich_displays_become_files_and_text(make: MakeKernel) -> None:
    code = """
    from IPython.display import HTML, SVG, Markdown, display
    display(HTML("<b>bold</b>"))
    display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'))
    display(Markdown("*note*"))
    display({"a": 1}, raw=False)
    """
    result = run(make(), py(code))
    assert result.exit_code == 0
    html, svg = result.output_files
    assert Path(html).read_text() == "<b>bold</b>"
    assert Path(svg).read_text().startswith("<svg")
    assert (
        result.output
        == f"HTML saved to {html}\nImage saved to {svg}\n<IPython.core.display.Markdown object>\n{{'a': 1}}\n"
    )


def test_errors_come_back_as_plain_text_tracebacks(make: MakeKernel) -> None:
    result = run(make(), py("def f():\n    return 1 / 0\nf()"))
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "ZeroDivisionError" in result.output
    assert "----> 3 f()" in result.output


def test_syntax_errors_are_results(make: MakeKernel) -> None:
    result = run(make(), py("def broken(:\n    pass"))
    assert result.exit_code == 1
    assert "SyntaxError" in result.output


def test_bang_echo_and_pip_install_work_in_python_blocks(make: MakeKernel, tmp_path: Path) -> None:
    wheel = tmp_path / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tinypkg/__init__.py", "ANSWER = 42\n")
        z.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        z.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("tinypkg-1.0.dist-info/RECORD", "")
    site = tmp_path / "site"
    executor = make()
    echo = run(executor, py("!echo from the shell"))
    assert (echo.exit_code, echo.output) == (0, "from the shell\n")
    install = run(
        executor,
        py(f"%pip install --quiet --no-index --no-deps --target {site} {wheel}"),
        py(f"import sys; sys.path.insert(0, {str(site)!r})\nimport tinypkg\nprint(tinypkg.ANSWER)"),
    )
    assert install.exit_code == 0, install.output
    assert install.output.endswith("42\n")


def test_shell_blocks_run_as_subprocesses_with_their_exit_codes(make: MakeKernel, tmp_path: Path) -> None:
    executor = make()
    result = run(executor, CodeBlock("pwd\necho to stderr >&2\nexit 3", "bash"))
    assert (result.exit_code, result.output) == (3, f"{(tmp_path / 'work').absolute()}\nto stderr\n")
    assert "__ParleyShellExit" not in result.output
    ok = run(executor, CodeBlock("echo $0", "sh"), CodeBlock("echo shell", "shell"))
    assert (ok.exit_code, ok.output) == (0, "sh\nshell\n")


def test_blocks_in_other_languages_are_refused(make: MakeKernel) -> None:
    result = run(make(), CodeBlock("console.log(1)", "javascript"))
    assert result.exit_code == 1
    assert "does not run 'javascript'" in result.output
    assert "python" in result.output


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
        "EmbeddedIPythonCodeExecutor",
        "JupyterCodeExecutor",
        "JupyterConnectionInfo",
        "NotebookCodeExecutor",
    }
