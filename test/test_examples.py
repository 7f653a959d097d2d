"""The examples gallery runs: each ``examples/NAME.py`` against the scripted server, started as the
"Try it without a key" page says, with ``NAME.replies.yaml`` as its script.

A script written as notebook cells (``# %%`` lines) needs IPython, as its docstring says: it runs
twice, as a notebook in a real ipykernel kernel (nbclient, one code cell per ``# %%``) and as a
file in an ``ipython`` shell; its cells' printed output is what the test reads.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if (p.with_suffix(".replies.yaml")).is_file())
EXPECTED = {
    "two_agents": "Summary: The 10th Fibonacci number is 55.",
    "group_chat": "Speakers: planner, coder, critic",
    "tools": "Summary: 20 EUR is 22.00 USD.",
    "custom_executor": "Summary: It has 2 lines.",
    "pools": "chat 3: Code output: 55",
    "notebook_executor": "Summary: There are 6 prices; their mean is 4.17 and the largest is 9.0.",
}
# Lines the notebook example must print: the agent's variable, read by the user's next cell, and
# the Markdown table its code displayed, which the model read as Markdown.
NOTEBOOK_LINES = ["price_summary: {'count': 6, 'mean': 4.17, 'max': 9.0}", "Code output: | count | mean | max |"]
AS_NOTEBOOK = """\
import sys
import nbformat
from nbclient import NotebookClient

chunks = open(sys.argv[1], encoding="utf-8").read().split("\\n# %%")[1:]  # what precedes the first is the docstring
cells = [nbformat.v4.new_code_cell(chunk.split("\\n", 1)[1]) for chunk in chunks]
notebook = nbformat.v4.new_notebook(cells=cells)
NotebookClient(notebook, kernel_name="python3", timeout=90).execute()
for cell in notebook.cells:
    for output in cell.outputs:
        if output.output_type == "stream":
            getattr(sys, output.name).write(output.text)
"""
IN_IPYTHON = ["-m", "IPython", "--quick", "--no-banner", "--HistoryManager.enabled=False"]


def is_notebook(example: Path) -> bool:
    return "\n# %%" in example.read_text(encoding="utf-8")


RUNS = [
    pytest.param(example, how, id=example.stem + ("" if how == "python" else f"-{how}"))
    for example in EXAMPLES
    for how in (("kernel", "ipython") if is_notebook(example) else ("python",))
]


def command(example: Path, how: str) -> list[str]:
    if how == "kernel":
        return [sys.executable, "-c", AS_NOTEBOOK, str(example)]
    return [sys.executable, *(IN_IPYTHON if how == "ipython" else []), str(example)]


def test_the_gallery_is_complete() -> None:
    assert set(EXPECTED) <= {p.stem for p in EXAMPLES}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("example", "how"), RUNS)
def test_example_runs_against_the_scripted_server(example: Path, how: str, tmp_path: Path) -> None:
    if how != "python":
        need = ("IPython", "ipykernel", "nbclient") if how == "kernel" else ("IPython",)
        require(all(importlib.util.find_spec(m) for m in need), f"{', '.join(need)} (pip install 'pyparley[jupyter]')")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen(
        [sys.executable, "-m", "parley.testing.openai_server", "--script", str(example.with_suffix(".replies.yaml"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        out = subprocess.run(
            command(example, how),
            capture_output=True,
            text=True,
            env={**env, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "none"},
            cwd=tmp_path,
            timeout=100,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert EXPECTED.get(example.stem, "") in lines, out.stdout[-3000:]
    if example.stem == "notebook_executor":
        assert set(NOTEBOOK_LINES) <= set(lines), out.stdout[-3000:]
    assert list(tmp_path.iterdir()) == []
