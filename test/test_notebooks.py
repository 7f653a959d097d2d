"""Every notebook in ``notebook/`` runs headless, start to end, on a real ipykernel kernel.

The kernel is the ``python3`` kernel spec, which must start this interpreter (the venv's python,
where parley is installed). The demo notebook's answer is checked against what the test computes
itself: the first 20 primes, and the SHA-256 of the file the notebook names. In the
notebook-executor notebook, the agent's code must have run in the notebook's own kernel: its
output and plot render in the chat's cell, and a later cell reads the variable it defined.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebook"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "python3"
FIRST_20_PRIMES = "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71"

pytestmark = pytest.mark.kernel
Executed = Callable[[Path], tuple[list[dict[str, Any]], str]]


def _starts_this_python(argv: list[str]) -> bool:
    """True when a kernel spec's command runs this interpreter.

    jupyter_client replaces a bare ``python``/``python3``/``python3.X`` with `sys.executable`.
    """
    exe = argv[0] if argv else ""
    major, minor = sys.version_info[:2]
    if exe in {"python", f"python{major}", f"python{major}.{minor}"}:
        return True
    return Path(exe).absolute() == Path(sys.executable).absolute()


@pytest.fixture(scope="module")
def kernel_name() -> str:
    """The ``python3`` kernel spec, installed for this interpreter when missing or pointing elsewhere."""
    have = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel", "jupyter_client"))
    require(have, "nbclient, nbformat, ipykernel and jupyter_client (pip install 'pyparley[jupyter]')")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        ok = _starts_this_python(spec.argv)
    except NoSuchKernel:
        ok = False
    if not ok:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL_NAME],
            check=True,
            capture_output=True,
        )
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        assert _starts_this_python(spec.argv), f"kernel spec {KERNEL_NAME!r} still runs {spec.argv[0]}"
    return KERNEL_NAME


def _output_text(output: dict[str, Any]) -> str:
    """The text of one cell output: a stream, or the text/plain of a result or display."""
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    return str(output.get("data", {}).get("text/plain", ""))


def _run(path: Path, kernel: str) -> tuple[list[dict[str, Any]], str]:
    """Execute the notebook at ``path`` in its own folder; return its code cells and all their text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(_output_text(o) for c in cells for o in c.get("outputs", []))
    return cells, text


@pytest.fixture(scope="module")
def executed(kernel_name: str) -> Executed:
    """Run each notebook once per test module, however many tests look at it."""
    done: dict[Path, tuple[list[dict[str, Any]], str]] = {}

    def get(path: Path) -> tuple[list[dict[str, Any]], str]:
        if path not in done:
            done[path] = _run(path, kernel_name)
        return done[path]

    return get


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, executed: Executed) -> None:
    cells, _ = executed(path)
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert all(c.get("execution_count") for c in cells), "a code cell was not executed"


@pytest.mark.timeout(180)
def test_demo_notebook_reports_the_executed_answer(executed: Executed) -> None:
    _, text = executed(NOTEBOOK_DIR / "demo.ipynb")
    # The proxy really ran the program: its output carries the executed results.
    assert "exitcode: 0" in text
    assert f"PRIMES: {FIRST_20_PRIMES}" in text
    # The assistant's answer, printed from result.summary.
    assert f"The first 20 primes are {FIRST_20_PRIMES}." in text
    answer = re.search(r"The SHA-256 of the file is ([0-9a-f]{64})\.", text)
    assert answer, "the summary does not state a SHA-256"
    named = re.search(r"file to checksum: (.+)", text)
    assert named, "the notebook does not say which file it checksums"
    target = Path(named.group(1).strip())
    assert answer.group(1) == hashlib.sha256(target.read_bytes()).hexdigest()
    # The cost cell shows AutoGen 0.2's usage shape.
    assert "usage_including_cached_inference" in text


@pytest.mark.timeout(180)
def test_notebook_executor_notebook_shares_variables_and_renders_outputs(executed: Executed) -> None:
    cells, text = executed(NOTEBOOK_DIR / "notebook_executor.ipynb")
    [chat] = [c["outputs"] for c in cells if "initiate_chat" in c["source"]]
    # The agent's code ran in the notebook's kernel: its print and its plot rendered in the chat's cell.
    chat_text = "".join(str(o.get("text", "")) for o in chat if o.get("output_type") == "stream")
    assert "AGENT: price_summary = {'count': 8, 'mean': 4.21875, 'max': 9.0}" in chat_text
    assert any("image/png" in o.get("data", {}) for o in chat if o.get("output_type") == "display_data")
    # A later user cell sees the variable the agent's code defined.
    assert "USER: price_summary from the agent: {'count': 8, 'mean': 4.21875, 'max': 9.0}" in text
    # The output also came back to the agents, with the plot saved as a file.
    assert "exitcode: 0 (execution succeeded)" in text
    assert re.search(r"Image data saved to \S+\.png", text)
    assert "saved files: ['.png']" in text
