"""Streaming in a notebook: tokens reach the cell's output under their header, on a real ipykernel, as they come.

The cell runs a streamed chat with the default IOStream (`IOConsole`, which writes to the cell's
stdout). The scripted server inside the kernel holds the stream after its first words until a
file appears; the test creates the file only after those words have reached it as IOPub
``stream`` messages, which is what Jupyter renders live.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require

pytestmark = pytest.mark.kernel

CELL = """
import os, time
from parley import AssistantAgent, UserProxyAgent
from parley.testing import ScriptedOpenAIServer

class FileGate:
    "Opens when the test creates {gate!r}: the server holds the stream until then."
    def wait(self, timeout):
        time.sleep(timeout)
        return os.path.exists({gate!r})

reply = {{"content": "First words, then the rest. TERMINATE", "stream_pause": {{"after": 3, "until": FileGate()}}}}
with ScriptedOpenAIServer([reply]) as server:
    entry = {{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}}
    assistant = AssistantAgent("assistant", llm_config={{"config_list": [entry], "stream": True}})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    user.initiate_chat(assistant, message="Stream to the notebook.")
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Any]:
    """A client of an ipykernel kernel running this interpreter (where parley is installed)."""
    have = all(importlib.util.find_spec(m) for m in ("ipykernel", "jupyter_client"))
    require(have, "ipykernel and jupyter_client (pip install 'pyparley[jupyter]')")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "parley-test"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "parley", "language": "python"}))
    manager = KernelManager(
        kernel_name="parley-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    )
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def stream_texts(client: Any, msg_id: str, until: str, seen: list[str]) -> bool:
    """Read this cell's IOPub messages into ``seen`` until ``until`` is printed; False if the cell ended first."""
    while True:
        try:
            msg = client.get_iopub_msg(timeout=60)
        except queue.Empty:
            raise AssertionError(f"no IOPub message for 60 s; the cell printed: {''.join(seen)!r}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        if kind == "stream":
            seen.append(content["text"])
            if until in "".join(seen):
                return True
        if kind == "status" and content["execution_state"] == "idle":
            return False


@pytest.mark.timeout(120)
def test_tokens_render_in_the_notebook_before_the_reply_is_complete(kernel: Any, tmp_path: Path) -> None:
    gate = tmp_path / "release"
    msg_id = kernel.execute(CELL.format(gate=str(gate)))
    seen: list[str] = []
    assert stream_texts(kernel, msg_id, "words, ", seen)
    # The kernel's server is holding the rest of the reply: nothing after the first words is out.
    assert "then" not in "".join(seen)
    assert "".join(seen).count("assistant (to user):\n\nFirst ") == 1  # the header came first
    gate.touch()
    assert not stream_texts(kernel, msg_id, "\x00never printed", seen)
    text = "".join(seen)
    # The reply is shown once, under its header, and closed with the rule; never printed again.
    assert text.count("First words, then the rest. TERMINATE") == 1
    assert text.count("assistant (to user):") == 1
    assert "assistant (to user):\n\nFirst words, then the rest. TERMINATE\n\n" + "-" * 80 in text
    assert len(seen) >= 6  # the tokens came as separate stream messages, each flushed as it arrived
