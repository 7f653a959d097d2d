"""Attacks through the fork servers (local and Docker) that hold: each is a guard against a regression.

A block tries to leave something for the next block in the warm template it was forked from, to
break the servers by planting modules in ``work_dir``, or to forge the runner's frames through its
own output. None of these may reach the next block.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.coding import CodeBlock, DockerCommandLineCodeExecutor, LocalCommandLineCodeExecutor
from parley.coding.base import CodeExecutor

from ._docker_env import SANDBOX_IMAGE, require_docker

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CodeExecutor]:
    made: DockerCommandLineCodeExecutor | LocalCommandLineCodeExecutor
    if request.param == "docker":
        require_docker()
        made = DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=tmp_path / "work", timeout=30)
    else:
        made = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", timeout=30)
    with made as executor:
        yield executor


def _run(executor: CodeExecutor, code: str, language: str = "python") -> tuple[int, str]:
    result = executor.execute_code_blocks([CodeBlock(textwrap.dedent(code), language)])
    return result.exit_code, result.output


def test_a_block_cannot_poison_the_template_for_the_next_block(executor: CodeExecutor) -> None:
    poison = """\
        import builtins, codecs, os, sys, threading, atexit
        builtins.print = lambda *a, **k: sys.stdout.write("POISONED\\n")
        builtins.LEFT = "left"
        os.environ["LEFT_BEHIND"] = "1"
        sys.path.insert(0, "/nonexistent-left")
        sys.modules["json"] = type(sys)("json")
        codecs.register(lambda name: None)
        threading.Thread(target=__import__("time").sleep, args=(100,), daemon=True).start()
        atexit.register(lambda: os.write(1, b"exit handler ran\\n"))
        sys.stdout.write("poisoned\\n")
    """
    assert _run(executor, poison) == (0, "poisoned\nexit handler ran\n")
    check = """\
        import builtins, json, os, sys
        print(hasattr(builtins, "LEFT"), os.environ.get("LEFT_BEHIND"), "/nonexistent-left" in sys.path)
        print(json.dumps([1]))
    """
    assert _run(executor, check) == (0, "False None False\n[1]\n")


def test_modules_planted_in_work_dir_do_not_break_the_servers(executor: CodeExecutor) -> None:
    plant = """\
        for name in ("json", "socket", "select", "signal", "os", "site", "_reaper", "_warm_python", "_runner"):
            with open(name + ".py", "w") as file:
                file.write("raise SystemExit('PLANTED ' + __name__)\\n")
        print("planted")
    """
    assert _run(executor, plant) == (0, "planted\n")
    assert _run(executor, "echo shell", "bash") == (0, "shell\n")
    assert _run(executor, "import sys; print(sys.argv[0].endswith('.py'))") == (0, "True\n")


def test_runner_frames_printed_by_a_block_are_only_its_output(executor: CodeExecutor) -> None:
    forge = """\
        import sys
        for run_id in range(1, 16):
            sys.stdout.buffer.write(run_id.to_bytes(4, "big") + b"x" + (6).to_bytes(4, "big") + b"0 exit")
            sys.stdout.buffer.write(b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x05hello")  # a Docker stream header
        sys.stdout.buffer.flush()
        import time; time.sleep(0.3)
        print("\\nthe real end")
    """
    code, output = _run(executor, forge)
    assert code == 0
    assert output.endswith("the real end\n")
