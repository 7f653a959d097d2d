"""`parley.testing.LocalEnterpriseGateway`: how it is found and started (the suites run executors on it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.coding import CodeBlock
from parley.coding.jupyter import JupyterCodeExecutor
from parley.exceptions import ExecutorUnavailableError
from parley.testing import LocalEnterpriseGateway

from ._gateway_env import running_enterprise_gateway


@pytest.mark.timeout(120)
def test_it_starts_from_a_command_too_and_lets_root_start_kernels(tmp_path: Path) -> None:
    script = running_enterprise_gateway().python.parent / "jupyter-enterprisegateway"
    with LocalEnterpriseGateway(tmp_path / "kernels", command=[str(script)]) as gateway:
        with JupyterCodeExecutor(gateway, work_dir=tmp_path) as executor:
            result = executor.execute_code_blocks([CodeBlock("import os\nprint(os.getcwd())", "python")])
        assert (result.exit_code, result.output) == (0, f"{tmp_path / 'kernels'}\n")
        assert gateway.kernel_ids() == set()


def test_a_missing_interpreter_or_command_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ExecutorUnavailableError, match=r"scripts/enterprise_gateway_setup\.sh"):
        LocalEnterpriseGateway(python=tmp_path / "no-venv" / "bin" / "python").start()
    with pytest.raises(ExecutorUnavailableError, match="its program was not found"):
        LocalEnterpriseGateway(command=[str(tmp_path / "no-such-program")]).start()
