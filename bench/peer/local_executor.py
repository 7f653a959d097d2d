"""Peer side of the local-executor benchmark: AutoGen 0.2.35's LocalCommandLineCodeExecutor, ``print(1)``.

AutoGen 0.2 runs a python block as ``python <file>``, i.e. whatever ``python`` the PATH finds. So
each sample measures it twice, as two kinds of user would get it:

* ``block_ms``: PATH starts with the peer venv's ``bin`` (the user activated the venv);
* ``block_inherited_path_ms``: PATH exactly as the orchestrator inherited it (here a pyenv shim
  may answer, which costs tens of milliseconds per start);

plus ``bare_ms``: a bare ``subprocess.run([sys.executable, file])`` of the same code, in the
same process, as the floor, and ``overhead_ms``: ``block_ms - bare_ms`` of the same sample.
All times are milliseconds per block. ``info`` records which interpreter actually ran the block
in each mode.

Config: none. Run by the orchestrator inside the peer venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _protocol import Close, Sample, serve


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    from autogen.coding import CodeBlock, LocalCommandLineCodeExecutor

    tmp = tempfile.TemporaryDirectory(prefix="peer-local-exec-")
    work = Path(tmp.name)
    executor = LocalCommandLineCodeExecutor(timeout=60, work_dir=work)
    block = [CodeBlock(code="print(1)", language="python")]
    bare_file = work / "bare.py"
    bare_file.write_text("print(1)\n")
    inherited_path = os.environ.get("PATH", "")
    activated_path = f"{Path(sys.executable).parent}{os.pathsep}{inherited_path}"

    def run_block(path: str) -> float:
        os.environ["PATH"] = path
        start = time.perf_counter()
        result = executor.execute_code_blocks(block)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0 or result.output.strip() != "1":
            raise RuntimeError(f"print(1) failed: exit {result.exit_code}, output {result.output!r}")
        return elapsed * 1e3

    def run_bare() -> float:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(bare_file)], capture_output=True, text=True, cwd=work)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or done.stdout.strip() != "1":
            raise RuntimeError(f"bare print(1) failed: {done!r}")
        return elapsed * 1e3

    def which_python(path: str) -> str:
        os.environ["PATH"] = path
        found = shutil.which("python") or "?"
        ran = executor.execute_code_blocks([CodeBlock(code="import sys; print(sys.executable)", language="python")])
        return f"`python` on PATH = {found}, which runs {ran.output.strip()}"

    info = {
        "autogen": autogen.__version__,
        "executor python (venv activated)": which_python(activated_path),
        "executor python (PATH inherited)": which_python(inherited_path),
        "bare python": sys.executable,
    }

    def sample() -> dict[str, float]:
        block, bare = run_block(activated_path), run_bare()
        return {
            "block_ms": block,
            "bare_ms": bare,
            "overhead_ms": block - bare,
            "block_inherited_path_ms": run_block(inherited_path),
        }

    def close() -> None:
        os.environ["PATH"] = inherited_path
        tmp.cleanup()

    return sample, info, close


if __name__ == "__main__":
    serve(setup)
