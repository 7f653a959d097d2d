"""What the two executors that own a kernel share, run on both: the local kernel and one on a gateway.

`EmbeddedIPythonCodeExecutor` and `JupyterCodeExecutor` share their kernel handling
(parley/coding/jupyter/_kernel_executor.py): state, timeouts that keep it, dead kernels replaced,
displays saved as files. Each test here runs on both, through the ``kernel_executor_factory``
fixture (a real ipykernel kernel, and a kernel on a real ``jupyter kernelgateway`` on loopback);
what is particular to each is in test_jupyter_embedded.py and test_jupyter_gateway.py.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from parley.coding import CodeBlock
from parley.coding.jupyter import EmbeddedIPythonCodeExecutor, JupyterCodeExecutor

from ._kernel_env import kernel_pid, py, run
from ._procs import is_gone, wait_for_pids
from .conftest import MakeKernelExecutor

pytestmark = pytest.mark.kernel

KernelExecutor = EmbeddedIPythonCodeExecutor | JupyterCodeExecutor


@pytest.fixture
def make(kernel_executor_factory: MakeKernelExecutor) -> MakeKernelExecutor:
    return kernel_executor_factory


def how_it_died(executor: KernelExecutor, locally: str) -> str:
    """What the model is told about a dead kernel: its exit status, which a gateway does not report."""
    return "the gateway found it dead and restarted it" if isinstance(executor, JupyterCodeExecutor) else locally


# --- state ----------------------------------------------------------------------------------------


def test_state_persists_across_blocks_and_calls(make: MakeKernelExecutor) -> None:
    executor = make()
    assert run(executor, py("x = 20"), py("x += 1")).exit_code == 0
    result = run(executor, py("import math\nx * 2"))
    assert (result.exit_code, result.output) == (0, "42\n")


def test_restart_wipes_the_state(make: MakeKernelExecutor) -> None:
    executor = make()
    run(executor, py("kept = 1"))
    executor.restart()
    result = run(executor, py("kept"))
    assert result.exit_code == 1
    assert "NameError" in result.output


# --- timeouts and dead kernels --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_timeout_interrupts_and_the_state_survives(make: MakeKernelExecutor) -> None:
    executor = make(timeout=1)
    run(executor, py("before = 'still here'"))
    result = run(executor, py("print('spinning', flush=True)\nwhile True: pass"))
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("spinning\n")
    assert "KeyboardInterrupt" in result.output
    assert "Timeout after 1 s; the kernel was interrupted. Its state (variables, imports) is kept." in result.output
    assert run(executor, py("print(before)")).output == "still here\n"


@pytest.mark.timeout(60)
def test_a_kernel_that_dies_is_replaced_and_the_model_is_told_state_was_lost(make: MakeKernelExecutor) -> None:
    executor = make()
    run(executor, py("gone_soon = 1"))
    first_pid = kernel_pid(executor)
    result = run(executor, py("print('about to die', flush=True)\nimport os; os._exit(1)"), py("print('not run')"))
    assert result.exit_code == 1
    assert not result.timed_out
    assert f"The kernel died ({how_it_died(executor, 'exit status 1')}) while running this block." in result.output
    assert "All state was lost" in result.output
    assert "A fresh kernel was started" in result.output
    assert "not run" not in result.output
    after = run(executor, py("print('works'); print('gone_soon' in globals())"))
    assert (after.exit_code, after.output) == (0, "works\nFalse\n")
    assert is_gone(first_pid)


@pytest.mark.timeout(60)
def test_a_kernel_killed_between_runs_is_replaced_and_the_next_block_never_runs_twice(
    make: MakeKernelExecutor, tmp_path: Path
) -> None:
    executor = make()
    run(executor, py("lost = 1"))
    pid = kernel_pid(executor)
    psutil.Process(pid).kill()  # as the OOM killer would
    while not is_gone(pid):  # pytest-timeout bounds it
        time.sleep(0.01)
    ran = tmp_path / "ran.txt"
    result = run(executor, py(f"open({str(ran)!r}, 'a').write('ran\\n'); print('lost' in globals())"))
    how = how_it_died(executor, "killed by SIGKILL")
    if "reached the kernel the gateway restarted" in result.output:  # it ran there, once; not again
        assert result.exit_code == 1
    else:  # noticed before the block was sent, or the block never reached the dead kernel: run once, fresh
        assert result.exit_code == 0
        assert result.output.startswith(f"The kernel had died since the last run ({how}). All state was lost")
        assert result.output.endswith("\nFalse\n")
    time.sleep(0.5)  # a second run, if any, would have written by now
    assert ran.read_text() == "ran\n"  # exactly once
    assert run(executor, py("print('fine')")).output == "fine\n"


@pytest.mark.timeout(60)
def test_timeout_of_a_shell_block_kills_its_whole_tree(make: MakeKernelExecutor, tmp_path: Path) -> None:
    executor = make(timeout=1)
    pids = tmp_path / "pids.txt"
    script = f"sleep 1000 &\necho $$ $! > {pids}\necho started\nwait\n"
    result = run(executor, CodeBlock(script, "bash"))
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("started\n")
    assert all(is_gone(pid) for pid in wait_for_pids(pids, 2))
    assert run(executor, CodeBlock("echo alive", "sh")).output == "alive\n"


@pytest.mark.timeout(60)
async def test_cancelling_the_awaiting_task_interrupts_the_kernel(make: MakeKernelExecutor) -> None:
    executor = make()
    await executor.a_execute_code_blocks([py("state = 'kept'")])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(executor.a_execute_code_blocks([py("import time; time.sleep(1000)")]), 1)
    result = await executor.a_execute_code_blocks([py("print(state)")])
    assert (result.exit_code, result.output) == (0, "kept\n")


async def test_concurrent_calls_are_served_one_at_a_time(make: MakeKernelExecutor) -> None:
    executor = make()
    await executor.a_start()
    results = await asyncio.gather(
        *(executor.a_execute_code_blocks([py(f"import time; time.sleep(0.05); print({i})")]) for i in range(4))
    )
    assert [r.output for r in results] == ["0\n", "1\n", "2\n", "3\n"]


# --- outputs --------------------------------------------------------------------------------------


def test_matplotlib_plot_comes_back_as_a_png_file(make: MakeKernelExecutor, tmp_path: Path) -> None:
    executor = make(output_dir=tmp_path / "images")
    result = run(executor, py("import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title('squares')\nplt.show()"))
    assert result.exit_code == 0
    [png] = result.output_files
    assert Path(png).parent == (tmp_path / "images").absolute()
    assert Path(png).suffix == ".png"
    assert Path(png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"Image data saved to {png}" in result.output
    assert "<Figure" not in result.output


def test_rich_displays_become_files_and_text(make: MakeKernelExecutor) -> None:
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
    # The model reads each display's own text, never "<IPython.core.display.Markdown object>".
    assert result.output == f"HTML data saved to {html}\nbold\nImage data saved to {svg}\n*note*\n{{'a': 1}}\n"


def test_errors_come_back_as_plain_text_tracebacks(make: MakeKernelExecutor) -> None:
    result = run(make(), py("def f():\n    return 1 / 0\nf()"))
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "ZeroDivisionError" in result.output
    assert "----> 3 f()" in result.output


def test_shell_blocks_send_the_helper_once_and_define_it_again_after_a_reset(make: MakeKernelExecutor) -> None:
    executor = make()
    watch = (
        "get_ipython().parley_test_cells = []\n"
        "get_ipython().events.register('pre_run_cell', lambda info, cells=get_ipython().parley_test_cells: "
        "cells.append(info.raw_cell))"
    )
    show = "print([('exec(' in cell, len(cell) < 200) for cell in get_ipython().parley_test_cells[:-1]])"
    run(executor, py(watch))
    if isinstance(executor, EmbeddedIPythonCodeExecutor):  # shell blocks go to parley's comm, and run no cell
        assert run(executor, CodeBlock("echo zero", "bash")).output == "zero\n"
        assert run(executor, py(show)).output == "[]\n"
        # without the comm (closed here), they run as cells, as on a gateway
        run(executor, py("get_ipython()._parley_shell_service.comm.close()\nget_ipython().parley_test_cells.clear()"))
    first = run(executor, CodeBlock("echo one", "bash"))
    second = run(executor, CodeBlock("echo two; exit 3", "sh"))
    assert (first.exit_code, first.output, second.exit_code, second.output) == (0, "one\n", 3, "two\n")
    assert run(executor, py(show)).output == "[(True, False), (False, True)]\n"  # the definition, then the call
    run(executor, py("get_ipython().parley_test_cells.clear()\n%reset -f"))
    again = run(executor, CodeBlock("echo three", "bash"), CodeBlock("echo four", "bash"))
    assert (again.exit_code, again.output) == (0, "three\nfour\n")  # no NameError shown for the missing helper
    # after the reset: the call found no helper, the definition ran in its place, then the call alone again
    assert run(executor, py(show)).output == "[(False, True), (True, False), (False, True)]\n"


def test_syntax_errors_are_results(make: MakeKernelExecutor) -> None:
    result = run(make(), py("def broken(:\n    pass"))
    assert result.exit_code == 1
    assert "SyntaxError" in result.output


def test_bang_echo_and_pip_install_work_in_python_blocks(make: MakeKernelExecutor, tmp_path: Path) -> None:
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


def test_bang_lines_in_shell_blocks_run_as_shell_commands(make: MakeKernelExecutor) -> None:
    """A notebook-style shell block (``!cmd``) runs, as in 0.2's kernel executors; bash's ``! cmd`` stays."""
    executor = make()
    result = run(executor, CodeBlock('!echo "hello world!"\n  !printf "%s\\n" indented', "bash"))
    assert (result.exit_code, result.output) == (0, "hello world!\nindented\n")
    negated = run(executor, CodeBlock("! false && echo negated", "sh"))
    assert (negated.exit_code, negated.output) == (0, "negated\n")


def test_untagged_blocks_are_refused_with_a_request_for_a_tag(make: MakeKernelExecutor) -> None:
    result = run(make(), CodeBlock("Hello there", ""))
    assert result.exit_code == 1
    assert "no language tag" in result.output


def test_blocks_in_other_languages_are_refused(make: MakeKernelExecutor) -> None:
    result = run(make(), CodeBlock("console.log(1)", "javascript"))
    assert result.exit_code == 1
    assert "does not run 'javascript'" in result.output
    assert "python" in result.output
