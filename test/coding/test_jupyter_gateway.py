"""JupyterCodeExecutor against a real Jupyter Kernel Gateway: where files go, errors, event loops, cleanup.

The semantics every executor shares are in test_executor_contract.py, and those the two kernel
executors share (state, timeouts, dead kernels, displays) in test_kernel_executors.py; both run on
this executor too. This module covers what is particular to a kernel behind a gateway. The
gateway is a real ``jupyter kernelgateway`` process on loopback (see _gateway_env.py).
"""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from parley import AssistantAgent
from parley.coding import CodeBlock, CodeExecutorFactory
from parley.coding.jupyter import JupyterCodeExecutor, JupyterConnectionInfo
from parley.exceptions import ConfigError, ExecutorError, ExecutorUnavailableError
from parley.testing import ScriptedModelClient
from parley.testing.kernel_gateway import LocalKernelGateway as Gateway

from ._kernel_env import py, run
from .conftest import building

pytestmark = pytest.mark.kernel
MakeExecutor = Callable[..., JupyterCodeExecutor]
RESTARTED = "the gateway found it dead and restarted it"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeExecutor]:
    """Builds executors on the session's gateway and ``tmp_path / "work"``; every one is closed after."""
    with building("jupyter", tmp_path / "work") as build:
        yield cast(MakeExecutor, build)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- state and files ------------------------------------------------------------------------------


def test_restart_wipes_the_state_and_deletes_the_old_kernel(make: MakeExecutor, kernel_gateway: Gateway) -> None:
    before = kernel_gateway.kernel_ids()
    executor = make()
    run(executor, py("kept = 1"))
    [first] = kernel_gateway.kernel_ids() - before
    executor.restart()
    result = run(executor, py("kept"))
    assert result.exit_code == 1
    assert "NameError" in result.output
    [second] = kernel_gateway.kernel_ids() - before
    assert second != first


def test_the_kernel_works_in_the_gateways_directory_and_named_blocks_are_saved_there(
    make: MakeExecutor, kernel_gateway: Gateway, tmp_path: Path
) -> None:
    executor = make()
    code = "# filename: lib/helper.py\nimport os\nprint(os.getcwd())"
    result = run(executor, py(code))
    assert (result.exit_code, result.output) == (0, f"{kernel_gateway.root}\n")
    assert (kernel_gateway.root / "lib" / "helper.py").read_text() == code + "\n"
    assert not (tmp_path / "work" / "lib").exists()  # nothing of the kernel's lands on this side
    imported = run(executor, py("import sys; sys.path.insert(0, 'lib'); import helper"))
    assert (imported.exit_code, imported.output) == (0, f"{kernel_gateway.root}\n")


def test_shell_blocks_run_on_the_gateways_machine_with_their_exit_codes(
    make: MakeExecutor, kernel_gateway: Gateway
) -> None:
    executor = make()
    result = run(executor, CodeBlock("pwd\necho to stderr >&2\nexit 3", "bash"))
    assert (result.exit_code, result.output) == (3, f"{kernel_gateway.root}\nto stderr\n")
    ok = run(executor, CodeBlock("echo $0", "sh"))
    assert (ok.exit_code, ok.output) == (0, "sh\n")


# --- output the gateway drops -------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_full_output_is_saved_beside_the_kernel_on_the_gateways_machine(
    make: MakeExecutor, kernel_gateway: Gateway, tmp_path: Path
) -> None:
    result = run(make(), py("print('v' * 10_000_000)"))
    assert result.exit_code == 0
    assert result.full_output_file is not None
    saved = Path(result.full_output_file)
    assert saved.parent == kernel_gateway.root
    assert f"The full output is in {saved} on the kernel's machine ..." in result.output
    assert saved.stat().st_size == 10_000_001
    assert not list((tmp_path / "work").glob("output_*"))  # nothing was spilled on this side


@pytest.mark.timeout(60)
def test_output_the_gateway_drops_is_reported_as_lost_not_as_a_silent_success(make: MakeExecutor) -> None:
    executor = make(max_output_chars=20_000_000)  # the kernel keeps it all, so the gateway's limit bites
    result = run(executor, py("print('w' * 10_000_000)"))
    assert result.exit_code == 0
    assert "Some of this block's output was lost on the way from the kernel" in result.output
    assert "(the Jupyter server said: IOPub data rate exceeded.)" in result.output
    assert "The output above is incomplete" in result.output
    after = run(executor, py("print('fine')"))
    assert (after.exit_code, after.output) == (0, "fine\n")


# --- event loops ---------------------------------------------------------------------------------


async def test_sync_and_async_calls_share_one_kernel(make: MakeExecutor) -> None:
    executor = make()
    executor.execute_code_blocks([py("shared = 'across loops'")])  # on parley's background loop
    result = await executor.a_execute_code_blocks([py("print(shared)")])  # on this test's loop
    assert (result.exit_code, result.output) == (0, "across loops\n")


# --- errors: reaching the gateway -----------------------------------------------------------------


def test_an_unreachable_gateway_is_an_error_at_first_use_not_at_construction(tmp_path: Path) -> None:
    port = closed_port()
    executor = JupyterCodeExecutor(
        f"http://127.0.0.1:{port}/?token=s3cret-value", work_dir=tmp_path, startup_timeout=1.5
    )
    with pytest.raises(
        ExecutorUnavailableError, match=rf"Cannot reach the Jupyter Kernel Gateway at http://127.0.0.1:{port} "
    ) as caught:
        run(executor, py("1"))
    assert "POST /api/kernels tried " in str(caught.value)  # retried within startup_timeout, then said so
    assert "the last attempt got no connection" in str(caught.value)
    assert "jupyter kernelgateway" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    executor.close()


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_a_refused_token_is_a_config_error_naming_the_url_not_the_token(
    kernel_gateway: Gateway, tmp_path: Path, token: str | None
) -> None:
    server = JupyterConnectionInfo("127.0.0.1", port=kernel_gateway.connection_info.port, token=token)
    executor = JupyterCodeExecutor(server, work_dir=tmp_path)
    with pytest.raises(ConfigError, match=rf"at {kernel_gateway.url} refused the request \(HTTP 401") as caught:
        run(executor, py("1"))
    message = str(caught.value)
    assert "KernelGatewayApp.auth_token" in message
    assert ("was refused" if token else "no token was given") in message
    assert "wrong-token" not in message
    assert kernel_gateway.token not in message
    assert caught.value.key == "token"
    executor.close()


def test_unknown_kernel_name_says_did_you_mean_and_leaves_nothing(kernel_gateway: Gateway, tmp_path: Path) -> None:
    before = kernel_gateway.kernel_ids()
    executor = JupyterCodeExecutor(kernel_gateway.connection_info, kernel_name="pyhton3", work_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"has no kernel named 'pyhton3' \(it has: python3\)") as caught:
        run(executor, py("1"))
    assert "Did you mean 'python3'?" in str(caught.value)
    assert kernel_gateway.kernel_ids() == before
    executor.close()


# --- lifecycle ------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_running_gateway_is_accepted_as_is_and_stop_is_close(kernel_gateway: Gateway, tmp_path: Path) -> None:
    before = kernel_gateway.kernel_ids()
    executor = JupyterCodeExecutor(kernel_gateway, work_dir=tmp_path)  # a JupyterConnectable, as in AutoGen 0.2
    assert executor.jupyter_server == kernel_gateway.connection_info
    assert run(executor, py("print('on it')")).output == "on it\n"
    executor.stop()
    assert kernel_gateway.kernel_ids() == before
    with pytest.raises(ExecutorError, match="closed"):
        run(executor, py("1"))


@pytest.mark.timeout(60)
def test_close_deletes_the_kernel_on_the_gateway(kernel_gateway: Gateway, tmp_path: Path) -> None:
    before = kernel_gateway.kernel_ids()
    executor = JupyterCodeExecutor(kernel_gateway.connection_info, work_dir=tmp_path)
    assert kernel_gateway.kernel_ids() == before  # the constructor starts nothing
    run(executor, py("1"))
    assert len(kernel_gateway.kernel_ids() - before) == 1
    executor.close()
    assert kernel_gateway.kernel_ids() == before
    executor.close()  # idempotent
    with pytest.raises(ExecutorError, match="closed"):
        run(executor, py("1"))


async def test_async_context_manager_starts_and_deletes_the_kernel(kernel_gateway: Gateway, tmp_path: Path) -> None:
    before = kernel_gateway.kernel_ids()
    async with JupyterCodeExecutor(kernel_gateway.connection_info, work_dir=tmp_path) as executor:
        assert len(kernel_gateway.kernel_ids() - before) == 1  # entering started it
        result = await executor.a_execute_code_blocks([py("print('in')")])
        assert result.output == "in\n"
    assert kernel_gateway.kernel_ids() == before


@pytest.mark.timeout(90)
def test_no_kernel_is_left_at_interpreter_exit(kernel_gateway: Gateway, tmp_path: Path) -> None:
    before = kernel_gateway.kernel_ids()
    url = f"{kernel_gateway.url}/?token={kernel_gateway.token}"
    script = textwrap.dedent(
        f"""
        from parley.coding import CodeBlock
        from parley.coding.jupyter import JupyterCodeExecutor
        executor = JupyterCodeExecutor({url!r}, work_dir={str(tmp_path)!r})
        print(executor.execute_code_blocks([CodeBlock("print('ran')", "python")]).output, end="")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=80)
    assert (done.returncode, done.stdout) == (0, "ran\n"), done.stderr
    assert kernel_gateway.kernel_ids() == before


@pytest.mark.timeout(60)
def test_an_executor_dropped_without_close_deletes_its_kernel_when_collected(
    kernel_gateway: Gateway, tmp_path: Path
) -> None:
    before = kernel_gateway.kernel_ids()
    executor = JupyterCodeExecutor(kernel_gateway.connection_info, work_dir=tmp_path)
    run(executor, py("1"))
    del executor
    gc.collect()
    assert kernel_gateway.kernel_ids() == before


# --- where the gateway is, the factory, the capability --------------------------------------------


def test_connection_info_reads_urls_and_keeps_the_token_out_of_sight() -> None:
    info = JupyterConnectionInfo.from_url("https://gw.example.org:8443/proxy/gw/?token=t0ken")
    assert info == JupyterConnectionInfo("gw.example.org", True, 8443, "t0ken", "/proxy/gw")
    assert (info.url, info.websocket_url) == (
        "https://gw.example.org:8443/proxy/gw",
        "wss://gw.example.org:8443/proxy/gw",
    )
    assert info.headers() == {"Authorization": "token t0ken"}
    assert "t0ken" not in repr(info)
    assert JupyterConnectionInfo("127.0.0.1").url == "http://127.0.0.1"
    assert JupyterConnectionInfo("::1", port=8888).url == "http://[::1]:8888"
    assert JupyterConnectionInfo("h", port=1).headers() == {}


@pytest.mark.parametrize(
    ("server", "match"),
    [
        ("ftp://h:21", "must be an http:// or https:// URL"),
        ("127.0.0.1:8888", "must be an http:// or https:// URL"),
        ("http://h:99999/?token=secret", "not a valid URL"),
        ({"host": "h", "tls": True}, "takes the fields host, use_https, port, token and base_path"),
        (8888, "must be a JupyterConnectionInfo, a URL"),
    ],
)
def test_bad_servers_are_config_errors_before_any_io(server: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        JupyterCodeExecutor(server)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 0}, "port must be an int from 1 to 65535"),
        ({"port": True}, "port"),
        ({"use_https": "yes"}, "use_https must be a bool"),
        ({"token": 5}, "token must be a str"),
        ({"host": "http://127.0.0.1:8888"}, "host must be a host name or IP address.*pass it as a string"),
        ({"host": ""}, "host must be a host name"),
    ],
)
def test_bad_connection_fields_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        JupyterConnectionInfo(**{"host": "127.0.0.1", **kwargs})


def test_factory_builds_it_by_name_without_contacting_the_gateway(tmp_path: Path) -> None:
    config = {
        "executor": "jupyter",
        "jupyter": {"jupyter_server": f"http://127.0.0.1:{closed_port()}", "timeout": 5, "work_dir": tmp_path},
    }
    executor = CodeExecutorFactory.create(config)
    assert isinstance(executor, JupyterCodeExecutor)
    assert (executor.timeout, executor.work_dir, executor.kernel_name) == (5, tmp_path, "python3")
    executor.close()


def test_user_capability_says_the_kernel_and_its_files_are_on_the_gateways_machine(tmp_path: Path) -> None:
    assistant = AssistantAgent("assistant", llm_config=ScriptedModelClient([]))
    before = assistant.system_message
    executor = JupyterCodeExecutor("http://gw.example.org:8888/?token=t0ken", output_dir=tmp_path / "o", timeout=9)
    executor.user_capability.add_to_agent(assistant)
    executor.user_capability.add_to_agent(assistant)
    added = assistant.system_message[len(before) :]
    assert added.count("# How your code is run") == 1
    for expected in (
        "http://gw.example.org:8888",
        str(tmp_path / "o"),
        "9 seconds",
        "on that machine",
        "keeps its state",
    ):
        assert expected in added
    assert "t0ken" not in added
