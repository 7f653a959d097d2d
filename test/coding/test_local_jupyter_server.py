"""`LocalJupyterServer` (AutoGen 0.2's ``coding.jupyter``): a real Kernel Gateway that JupyterCodeExecutor uses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from parley.coding import CodeBlock
from parley.coding.jupyter import JupyterCodeExecutor, JupyterConnectable, LocalJupyterServer

from ._kernel_env import require_kernel

pytestmark = pytest.mark.timeout(120)


def test_the_autogen_way_starts_it_on_first_use_and_stop_ends_its_kernels(tmp_path: Path) -> None:
    require_kernel()
    server = LocalJupyterServer(root=tmp_path)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url  # the constructor started nothing
    executor = JupyterCodeExecutor(server, output_dir=tmp_path)
    assert isinstance(server, JupyterConnectable)
    try:
        result = executor.execute_code_blocks([CodeBlock("import os\nx = 41\nprint(os.getcwd())", "python")])
        assert (result.exit_code, result.output.strip()) == (0, str(tmp_path))
        assert executor.execute_code_blocks([CodeBlock("print(x + 1)", "python")]).output.strip() == "42"
        assert len(server.kernel_ids()) == 1
        info = server.connection_info
        assert (info.host, info.token) == ("127.0.0.1", server.token)
        assert len(server.token) == 32
    finally:
        executor.close()
        assert server.kernel_ids() == set()
        server.stop()
        server.stop()
    with pytest.raises(ConnectionRefusedError):  # the gateway is gone
        socket.create_connection(("127.0.0.1", info.port or 0), timeout=5).close()
    with pytest.raises(RuntimeError, match="stopped"):
        _ = server.connection_info  # never restarted behind the caller's back


def test_a_given_port_and_token_and_a_log_file(tmp_path: Path) -> None:
    require_kernel()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = tmp_path / "gateway.log"
    with LocalJupyterServer(port=port, token="my-token", log_file=log, log_level="DEBUG") as server:
        info = server.connection_info
        assert (info.port, info.token) == (port, "my-token")
        assert server.get("/api")["version"]
    assert "my-token" not in repr(info)
    assert log.stat().st_size > 0
