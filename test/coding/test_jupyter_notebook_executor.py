"""NotebookCodeExecutor inside a real notebook kernel, run headless with nbclient.

One notebook is built from the cells below and executed once per module; each test then reads
the outputs of its cells. A cell prints its executor results as ``RESULT <json>`` lines, so a
test checks both what rendered in the notebook and what came back to the caller.
The agents' side (a chat whose proxy uses ``{"executor": "notebook"}``) is
``notebook/notebook_executor.ipynb``, run by ``test/test_notebooks.py``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ._kernel_env import require_kernel

pytestmark = pytest.mark.kernel

SETUP = """
import dataclasses, json
from parley.coding import CodeBlock
from parley.coding.jupyter import NotebookCodeExecutor
from parley._sync import run_sync

ex = NotebookCodeExecutor(work_dir={work_dir!r}, timeout=2)

def show(result):
    print("RESULT " + json.dumps(dataclasses.asdict(result)))

"""


def _run(code: str, *, language: str = "python", how: str = "ex.execute_code_blocks({blocks})") -> str:
    """A cell that runs one block through the executor and prints its result."""
    blocks = f"[CodeBlock({code!r}, {language!r})]"
    return f"show({how.format(blocks=blocks)})"


SYNC_API = "run_sync(ex.a_execute_code_blocks({blocks}))"
CELLS = {
    "setup": SETUP,
    "user_defines": "user_value = 20",
    "agent_shares": _run("agent_value = user_value + 1\nprint('agent sees', user_value)\nagent_value * 2"),
    "user_reads": "print('user sees', agent_value)",
    "plot": _run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"),
    "html": _run("from IPython.display import HTML, display\ndisplay(HTML('<i>it</i>'))"),
    "markdown": _run("from IPython.display import Markdown, display\ndisplay(Markdown('## Plan\\n- *one*'))"),
    "error": _run("print('before')\nraise ValueError('boom')"),
    "shell": _run("echo from bash\nexit 4", language="bash"),
    "bang": _run("!echo bang"),
    "refused": _run('{"a": 1}', language="json"),
    "timeout_main_thread": _run("import time\nprint('napping', flush=True)\ntime.sleep(600)"),
    "timeout_sync_api": _run("n = 0\nwhile True:\n    n += 1", how=SYNC_API),
    "shell_timeout_sync_api": _run("echo going; sleep 600", language="bash", how=SYNC_API),
    "after_timeouts": _run("print('still fine', agent_value)"),
    "top_level_await": _run("awaited = 5\nprint('awaited', awaited)", how="await ex.a_execute_code_blocks({blocks})"),
    "restart_keeps": "ex.restart()\nprint('after restart', agent_value, awaited)",
    "closed": "ex.close()\ntry:\n    ex.execute_code_blocks([])\n"
    "except Exception as e:\n    print('CLOSED', type(e).__name__, e)",
}
TIMED_OUT = "Timeout after 2 s; the block was interrupted.\n"


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Execute the notebook once; map each cell's name to its outputs."""
    require_kernel()
    import nbformat
    from nbclient import NotebookClient

    work_dir = tmp_path_factory.mktemp("notebook-executor")
    sources = {name: textwrap.dedent(src).format(work_dir=str(work_dir)) if name == "setup" else src
               for name, src in CELLS.items()}  # fmt: skip
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources.values()]  # type: ignore[no-untyped-call]
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True).execute()
    return {name: list(cell.get("outputs", [])) for name, cell in zip(sources, nb.cells, strict=True)}


def streams(outputs: list[dict[str, Any]]) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream" and not o["text"].startswith("RESULT "))


def result(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    lines = [
        line
        for o in outputs
        if o["output_type"] == "stream"
        for line in o["text"].splitlines()
        if line.startswith("RESULT ")
    ]
    assert len(lines) == 1, outputs
    parsed: dict[str, Any] = json.loads(lines[0].removeprefix("RESULT "))
    return parsed


def kinds(outputs: list[dict[str, Any]]) -> list[str]:
    return [o["output_type"] for o in outputs]


@pytest.mark.timeout(180)
def test_agent_code_shares_the_users_namespace(cells: dict[str, list[dict[str, Any]]]) -> None:
    assert cells["setup"] == []
    shared = result(cells["agent_shares"])
    assert (shared["exit_code"], shared["output"]) == (0, "agent sees 20\n42\n")
    # It rendered in the notebook too: the print and the value of the last expression.
    assert streams(cells["agent_shares"]) == "agent sees 20\n"
    [value] = [o for o in cells["agent_shares"] if o["output_type"] == "execute_result"]
    assert value["data"]["text/plain"] == "42"
    assert streams(cells["user_reads"]) == "user sees 21\n"


@pytest.mark.timeout(180)
def test_plots_render_inline_and_come_back_as_png_files(cells: dict[str, list[dict[str, Any]]]) -> None:
    [display] = [o for o in cells["plot"] if o["output_type"] == "display_data"]
    assert "image/png" in display["data"]
    plot = result(cells["plot"])
    [png] = plot["output_files"]
    assert Path(png).read_bytes().startswith(b"\x89PNG")
    assert plot["output"] == f"Image data saved to {png}\n"


@pytest.mark.timeout(180)
def test_html_renders_inline_and_is_saved(cells: dict[str, list[dict[str, Any]]]) -> None:
    [display] = [o for o in cells["html"] if o["output_type"] == "display_data"]
    assert display["data"]["text/html"] == "<i>it</i>"
    shown = result(cells["html"])
    [html] = shown["output_files"]
    assert Path(html).read_text() == "<i>it</i>"
    assert shown["output"] == f"HTML data saved to {html}\nit\n"  # the model reads the text, not a repr


@pytest.mark.timeout(180)
def test_markdown_renders_inline_and_reaches_the_model_as_its_source(cells: dict[str, list[dict[str, Any]]]) -> None:
    [display] = [o for o in cells["markdown"] if o["output_type"] == "display_data"]
    assert display["data"]["text/markdown"] == "## Plan\n- *one*"
    shown = result(cells["markdown"])
    assert (shown["exit_code"], shown["output"], shown["output_files"]) == (0, "## Plan\n- *one*\n", [])


@pytest.mark.timeout(180)
def test_errors_render_and_come_back_as_plain_tracebacks(cells: dict[str, list[dict[str, Any]]]) -> None:
    assert "error" in kinds(cells["error"])
    failed = result(cells["error"])
    assert failed["exit_code"] == 1
    assert failed["output"].startswith("before\n")
    assert "ValueError: boom" in failed["output"]
    assert "\x1b" not in failed["output"]


@pytest.mark.timeout(180)
def test_shell_blocks_and_bang_commands(cells: dict[str, list[dict[str, Any]]]) -> None:
    shell = result(cells["shell"])
    assert (shell["exit_code"], shell["output"]) == (4, "from bash\n")
    assert streams(cells["shell"]) == "from bash\n"
    bang = result(cells["bang"])
    assert (bang["exit_code"], bang["output"]) == (0, "bang\n")
    refused = result(cells["refused"])
    assert refused["exit_code"] == 1
    assert "does not run 'json'" in refused["output"]


@pytest.mark.timeout(180)
def test_timeouts_interrupt_the_block_in_either_thread(cells: dict[str, list[dict[str, Any]]]) -> None:
    main = result(cells["timeout_main_thread"])
    assert (main["exit_code"], main["timed_out"]) == (124, True)
    assert main["output"].startswith("napping\n")
    assert "time.sleep(600)" in main["output"]  # a real SIGINT ended the sleep
    assert main["output"].endswith(TIMED_OUT)
    spin = result(cells["timeout_sync_api"])
    assert (spin["exit_code"], spin["timed_out"]) == (124, True)
    assert "KeyboardInterrupt" in spin["output"]
    sleeper = result(cells["shell_timeout_sync_api"])
    assert (sleeper["exit_code"], sleeper["output"]) == (
        124,
        "going\nTimeout after 2 s; the block was interrupted.\n",
    )
    after = result(cells["after_timeouts"])
    assert (after["exit_code"], after["output"]) == (0, "still fine 21\n")


@pytest.mark.timeout(180)
def test_async_api_restart_and_close(cells: dict[str, list[dict[str, Any]]]) -> None:
    awaited = result(cells["top_level_await"])
    assert (awaited["exit_code"], awaited["output"]) == (0, "awaited 5\n")
    assert streams(cells["restart_keeps"]) == "after restart 21 5\n"
    assert streams(cells["closed"]).startswith("CLOSED ExecutorError This NotebookCodeExecutor is closed")
    assert all("error" not in kinds(cells[name]) for name in ("user_reads", "restart_keeps", "closed"))
