"""JupyterCodeExecutor through faults made on purpose, against real gateways; each ends within a stated bound.

A `FaultProxy` between the executor and the gateway answers 503 or 429 for the first seconds of a
start and cuts the websocket; the gateway itself is restarted, and kernels are deleted or
restarted through its REST API in the middle of a block. Bounds are generous (the faults resolve
in seconds); each test also checks that no kernel is left on the gateway.
"""

from __future__ import annotations

import logging
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require

from parley.coding.jupyter import JupyterCodeExecutor, JupyterConnectionInfo
from parley.exceptions import ExecutorUnavailableError
from parley.testing.kernel_gateway import LocalKernelGateway

from ._fault_proxy import FaultProxy
from ._gateway_env import gateway_problem, running_enterprise_gateway
from ._kernel_env import py, run

pytestmark = pytest.mark.kernel


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[LocalKernelGateway]:
    """A gateway of this test's own (it may be restarted), checked to hold no kernel at the end."""
    problem = gateway_problem()
    require(problem is None, f"a Jupyter Kernel Gateway ({problem})")
    with LocalKernelGateway(tmp_path / "kernels") as started:
        yield started
        assert started.kernel_ids() == set(), "a kernel was left on the gateway"


@pytest.fixture
def proxy(gateway: LocalKernelGateway) -> Iterator[FaultProxy]:
    with FaultProxy(gateway.connection_info.port or 80) as made:
        yield made


def through(proxy: FaultProxy, gateway: LocalKernelGateway) -> JupyterConnectionInfo:
    return JupyterConnectionInfo("127.0.0.1", port=proxy.port, token=gateway.token)


def rest(gateway: LocalKernelGateway, method: str, path: str) -> None:
    request = urllib.request.Request(
        gateway.url + path, method=method, headers={"Authorization": f"token {gateway.token}"}, data=b"{}"
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30):
        pass


def later(seconds: float, action: object) -> threading.Thread:
    def go() -> None:
        time.sleep(seconds)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


# --- start ----------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, "1")])
def test_a_gateway_answering_errors_for_the_first_seconds_is_waited_for(
    gateway: LocalKernelGateway, proxy: FaultProxy, tmp_path: Path, status: int, retry_after: str | None
) -> None:
    proxy.fail_for(1.5, status, retry_after)
    began = time.monotonic()
    with JupyterCodeExecutor(through(proxy, gateway), work_dir=tmp_path, startup_timeout=30) as executor:
        result = run(executor, py("print('up')"))
    assert (result.exit_code, result.output) == (0, "up\n")
    assert proxy.failed >= 1  # it did meet the errors, and retried past them
    assert time.monotonic() - began < 20  # bound: the errors last 1.5 s


@pytest.mark.timeout(60)
def test_a_start_that_never_succeeds_ends_at_startup_timeout_saying_what_answered(
    gateway: LocalKernelGateway, proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.fail_for(300, 503)
    executor = JupyterCodeExecutor(through(proxy, gateway), work_dir=tmp_path, startup_timeout=3)
    began = time.monotonic()
    with pytest.raises(Exception, match=r"POST /api/kernels tried \d+ times; the last attempt got HTTP 503") as caught:
        run(executor, py("1"))
    assert 2.5 < time.monotonic() - began < 10  # one deadline for the whole start
    assert "injected by the test proxy" in str(caught.value)  # the server's own message
    assert gateway.token not in str(caught.value)
    executor.close()


# --- the websocket drops --------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_websocket_cut_between_blocks_reconnects_and_keeps_the_state(
    gateway: LocalKernelGateway, proxy: FaultProxy, tmp_path: Path
) -> None:
    with JupyterCodeExecutor(through(proxy, gateway), work_dir=tmp_path) as executor:
        run(executor, py("kept = 41"))
        assert proxy.cut() >= 1
        result = run(executor, py("print(kept + 1)"))
    assert (result.exit_code, result.output) == (0, "42\n")


@pytest.mark.timeout(60)
def test_a_websocket_cut_mid_block_reports_the_block_interrupted_not_rerun_and_keeps_the_state(
    gateway: LocalKernelGateway, proxy: FaultProxy, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    with JupyterCodeExecutor(through(proxy, gateway), work_dir=tmp_path, timeout=120) as executor:
        run(executor, py("kept = 'yes'"))
        later(1.5, proxy.cut)
        began = time.monotonic()
        code = f"open({str(ran)!r}, 'a').write('ran\\n')\nprint('before', flush=True)\nimport time\ntime.sleep(60)"
        result = run(executor, py(code))
        took = time.monotonic() - began
        after = run(executor, py("print(kept)"))
    assert result.exit_code == 1
    assert result.output.startswith("before\n")
    assert "Interrupted by a lost connection" in result.output
    assert "It was not run again" in result.output
    assert took < 30  # bound: not the block's 120 s timeout
    assert ran.read_text() == "ran\n"  # sent once
    assert (after.exit_code, after.output) == (0, "yes\n")


# --- the kernel or the gateway lost on the server -------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["delete", "restart"])
def test_a_kernel_deleted_or_restarted_on_the_server_mid_block_is_noticed_at_once(
    gateway: LocalKernelGateway, tmp_path: Path, how: str
) -> None:
    with JupyterCodeExecutor(gateway, work_dir=tmp_path, timeout=120) as executor:
        run(executor, py("kept = 1"))
        [kernel_id] = gateway.kernel_ids()
        if how == "delete":
            later(1.5, lambda: rest(gateway, "DELETE", f"/api/kernels/{kernel_id}"))
        else:
            later(1.5, lambda: rest(gateway, "POST", f"/api/kernels/{kernel_id}/restart"))
        began = time.monotonic()
        result = run(executor, py("print('running', flush=True)\nimport time\ntime.sleep(60)"))
        took = time.monotonic() - began
        after = run(executor, py("print('kept' in globals())"))
        assert kernel_id not in gateway.kernel_ids()
    assert result.exit_code != 0
    word = "shut down" if how == "delete" else "restarted"
    assert f"The kernel died (it was {word} on the gateway) while running this block." in result.output
    assert "All state was lost" in result.output
    assert took < 30  # bound: not the block's 120 s timeout
    assert (after.exit_code, after.output) == (0, "False\n")


@pytest.mark.timeout(120)
def test_a_gateway_restarted_mid_block_ends_the_block_and_the_next_runs_on_a_fresh_kernel(
    gateway: LocalKernelGateway, tmp_path: Path
) -> None:
    with JupyterCodeExecutor(gateway, work_dir=tmp_path, timeout=120) as executor:
        run(executor, py("kept = 1"))
        later(1.5, lambda: gateway.restart(down_for=1.0))
        began = time.monotonic()
        result = run(executor, py("print('running', flush=True)\nimport time\ntime.sleep(60)"))
        took = time.monotonic() - began
        after = run(executor, py("print('kept' in globals())"))
    assert result.exit_code != 0
    assert "The kernel died (the gateway no longer has it" in result.output
    assert "A fresh kernel was started" in result.output
    assert took < 60  # bound: the gateway is back within seconds
    assert (after.exit_code, after.output) == (0, "False\n")


@pytest.mark.timeout(120)
def test_a_gateway_restarted_between_blocks_is_said_before_the_next_block(
    gateway: LocalKernelGateway, tmp_path: Path
) -> None:
    with JupyterCodeExecutor(gateway, work_dir=tmp_path) as executor:
        run(executor, py("kept = 1"))
        gateway.restart()
        result = run(executor, py("print('kept' in globals())"))
    assert result.exit_code == 0
    assert result.output.startswith("The kernel had died since the last run (the gateway no longer has it")
    assert result.output.endswith("\nFalse\n")


@pytest.mark.timeout(60)
def test_close_with_the_gateway_gone_is_a_warning_not_a_hang(
    gateway: LocalKernelGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalKernelGateway(tmp_path / "doomed") as doomed:
        executor = JupyterCodeExecutor(doomed, work_dir=tmp_path)
        run(executor, py("1"))
        doomed.stop()  # its kernels end with it
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="parley.coding.jupyter"):
            executor.close()
        took = time.monotonic() - began
    assert took < 20  # bound: the delete's retries stop at their deadline (10 s)
    assert any("could not delete kernel" in record.getMessage() for record in caplog.records)
    assert all(doomed.token not in record.getMessage() for record in caplog.records)


# --- what goes on the wire ------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_token_travels_in_a_header_never_in_a_url_and_custom_headers_reach_every_request(
    gateway: LocalKernelGateway, proxy: FaultProxy, tmp_path: Path
) -> None:
    headers = {"X-Proxy-Auth": "let-me-in"}
    with JupyterCodeExecutor(through(proxy, gateway), work_dir=tmp_path, headers=headers) as executor:
        run(executor, py("print(1)"))
    request_lines = [head.splitlines()[0] for head in proxy.heads]
    assert any(line.startswith("POST /api/kernels ") for line in request_lines)
    assert any("/channels?session_id=" in line for line in request_lines)  # the websocket upgrade
    assert all(gateway.token not in line for line in request_lines)
    assert all(f"Authorization: token {gateway.token}" in head for head in proxy.heads)
    assert all("X-Proxy-Auth: let-me-in" in head for head in proxy.heads)


def test_headers_and_validate_cert_are_checked_before_any_io(tmp_path: Path) -> None:
    from parley.exceptions import ConfigError

    with pytest.raises(ConfigError, match="headers must be a dict of str to str"):
        JupyterCodeExecutor("http://127.0.0.1:1", headers={"X": 1})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="validate_cert must be True or False"):
        JupyterCodeExecutor("http://127.0.0.1:1", validate_cert="no")  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_kernel_env_reaches_the_kernel_on_enterprise_gateway(tmp_path: Path) -> None:
    enterprise = running_enterprise_gateway()  # it passes KERNEL_* variables to the kernel
    env = {"KERNEL_PARLEY_TEAM": "team-a"}
    with JupyterCodeExecutor(enterprise, work_dir=tmp_path, kernel_env=env) as executor:
        result = run(executor, py("import os\nprint(os.environ.get('KERNEL_PARLEY_TEAM'))"))
    assert (result.exit_code, result.output) == (0, "team-a\n")


# --- TLS ------------------------------------------------------------------------------------------


@pytest.fixture
def tls_proxy(gateway: LocalKernelGateway, tmp_path: Path) -> Iterator[FaultProxy]:
    """A TLS-terminating proxy in front of the gateway, with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FaultProxy(gateway.connection_info.port or 80, tls=context) as made:
        yield made


@pytest.mark.timeout(60)
def test_a_self_signed_gateway_is_refused_at_once_unless_validate_cert_is_false(
    gateway: LocalKernelGateway, tls_proxy: FaultProxy, tmp_path: Path
) -> None:
    server = JupyterConnectionInfo("127.0.0.1", use_https=True, port=tls_proxy.port, token=gateway.token)
    strict = JupyterCodeExecutor(server, work_dir=tmp_path, startup_timeout=30)
    began = time.monotonic()
    with pytest.raises(ExecutorUnavailableError, match="did not verify") as caught:
        run(strict, py("1"))
    assert time.monotonic() - began < 10  # not retried until startup_timeout: it is not transient
    assert "validate_cert=False" in str(caught.value)
    strict.close()
    with JupyterCodeExecutor(server, work_dir=tmp_path, validate_cert=False) as trusting:
        result = run(trusting, py("print('over tls')"))
    assert (result.exit_code, result.output) == (0, "over tls\n")
    assert any("/channels?session_id=" in head for head in tls_proxy.heads)  # the websocket went over wss too


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from parley.coding.jupyter._gateway_rest import retry_after

    assert retry_after("3") == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0  # 07:28:00 + 10 s
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412500.0) == 0.0  # already past
    assert retry_after("soon") is None
    assert retry_after(None) is None
