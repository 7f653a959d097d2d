"""The local executor's containment: the reaper, ``keep_background``, the saved-output cap, the environment rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from parley.coding import CodeBlock, LocalCommandLineCodeExecutor
from parley.coding._env import code_environment, looks_secret
from parley.exceptions import ConfigError

from ._procs import is_gone, read_pids, wait_for_pids


def bash(code: str) -> CodeBlock:
    return CodeBlock(textwrap.dedent(code), "bash")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "start",
    [
        "nohup sleep 1000 >/dev/null 2>&1 & echo $! >> {pids}",
        "setsid sleep 1000 & echo $! >> {pids}",
        "setsid env -i sleep 1000 & echo $! >> {pids}",
        "( ( sleep 1000 & echo $! >> {pids} ) & )",
        'python3 -c \'import os,time\nif os.fork()==0:\n os.setsid()\n if os.fork()==0:\n  open("{pids}","a").write(f"{{os.getpid()}}\\n")\n  time.sleep(1000)\'; while [ ! -s {pids} ]; do sleep 0.02; done',  # noqa: E501
    ],
    ids=["nohup", "setsid", "setsid-env-i", "double-fork", "python-daemon"],
)
def test_shell_background_processes_end_with_the_block(work: Path, start: str) -> None:
    pids_file = work / "pids.txt"
    code = start.format(pids=pids_file) + f"\nwhile [ ! -s {pids_file} ]; do sleep 0.02; done\necho started"
    with LocalCommandLineCodeExecutor(work_dir=work, timeout=60) as executor:
        result = executor.execute_code_blocks([bash(code)])
        assert (result.exit_code, result.timed_out) == (0, False), result.output
        assert result.output.endswith("started\n")
        pids = read_pids(pids_file)
        assert pids
        assert all(is_gone(pid) for pid in pids)


@pytest.mark.timeout(60)
def test_keep_background_keeps_a_server_until_restart_then_close(work: Path) -> None:
    server = f"""\
    python3 -m http.server 0 --bind 127.0.0.1 > {work}/server.log 2>&1 &
    echo $! > {work}/server.pid
    for i in $(seq 200); do grep -q 'Serving HTTP' {work}/server.log 2>/dev/null && break; sleep 0.05; done
    echo ready
    """
    query = """\
    import re, urllib.request
    port = re.search(r"port (\\d+)", open("server.log").read()).group(1)
    print(urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).status)
    """
    with LocalCommandLineCodeExecutor(work_dir=work, timeout=30, keep_background=True) as executor:
        first = executor.execute_code_blocks([bash(server)])
        assert (first.exit_code, first.output) == (0, "ready\n")
        (pid,) = read_pids(work / "server.pid")
        second = executor.execute_code_blocks([CodeBlock(textwrap.dedent(query), "python")])
        assert (second.exit_code, second.output) == (0, "200\n")
        executor.restart()
        assert is_gone(pid)
        executor.execute_code_blocks([bash(server)])
        (pid,) = read_pids(work / "server.pid")
        assert not is_gone(pid)
    assert is_gone(pid)  # close() ended it


@pytest.mark.timeout(60)
def test_keep_background_does_not_wait_for_a_background_process_that_holds_the_output(work: Path) -> None:
    code = f"(while true; do echo tick; sleep 0.05; done) &\necho $! > {work}/loop.pid\necho done"
    with LocalCommandLineCodeExecutor(work_dir=work, timeout=30, keep_background=True) as executor:
        result = executor.execute_code_blocks([bash(code)])
        assert (result.exit_code, result.timed_out) == (0, False)
        assert "done\n" in result.output  # a tick printed before the block ended may come too
        (pid,) = read_pids(work / "loop.pid")
        assert not is_gone(pid)
    assert is_gone(pid)


@pytest.mark.timeout(60)
def test_a_timeout_with_keep_background_ends_that_blocks_processes(work: Path) -> None:
    code = f"sleep 1000 &\necho $! > {work}/bg.pid\nsleep 1000"
    with LocalCommandLineCodeExecutor(work_dir=work, timeout=2, keep_background=True) as executor:
        result = executor.execute_code_blocks([bash(code)])
        assert result.timed_out
        assert all(is_gone(pid) for pid in read_pids(work / "bg.pid"))


@pytest.mark.timeout(60)
def test_nothing_outlives_a_host_killed_with_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    daemon_code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(1000)\n"
        "time.sleep(1000)\n"
    )
    host = (
        "from parley.coding import CodeBlock, LocalCommandLineCodeExecutor\n"
        f"executor = LocalCommandLineCodeExecutor(work_dir={str(tmp_path)!r}, timeout=600)\n"
        f"executor.execute_code_blocks([CodeBlock({daemon_code!r}, 'python')])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", host], start_new_session=True)
    try:
        (daemon,) = wait_for_pids(pid_file, 1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        while not is_gone(daemon):  # the reaper notices its parent died within about half a second
            psutil.Process(daemon).wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert is_gone(daemon)


@pytest.mark.timeout(60)
def test_the_saved_output_is_capped_and_the_result_says_so(work: Path) -> None:
    code = "import sys\nline = 'x' * 999 + '\\n'\nfor _ in range(5000):\n    sys.stdout.write(line)\nprint('END')"
    executor = LocalCommandLineCodeExecutor(work_dir=work, max_output_chars=1000, max_saved_bytes=1_000_000)
    result = executor.execute_code_blocks([CodeBlock(code, "python")])
    assert result.exit_code == 0
    assert result.output.endswith("END\n")  # the pipe was drained to the end
    assert result.full_output_file is not None
    assert Path(result.full_output_file).stat().st_size == 1_000_000
    assert "Only its first 1,000,000 bytes were saved" in result.output
    assert "max_saved_bytes (1,000,000 bytes)" in result.output


def test_max_saved_bytes_is_checked() -> None:
    with pytest.raises(ConfigError, match="max_saved_bytes must be an int of at least 0"):
        LocalCommandLineCodeExecutor(max_saved_bytes=-1)


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "STRIPE_SECRET",
        "DB_PASSWORD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "OAI_CONFIG_LIST",
        "my_lower_token",
        "SSH_AUTH_SOCK",
        "OPENAI_API_KEY_FOR_TEST",
        "GITHUB_TOKEN_2",
        "SIGNING_KEY",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "PWD", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TOKENIZERS_PARALLELISM", "KEYBOARD_LAYOUT"]
)
def test_ordinary_names(name: str) -> None:
    assert not looks_secret(name, "/usr/bin")


def test_a_url_with_a_password_is_a_secret() -> None:
    assert looks_secret("DATABASE_URL", "postgres://app:hunter2@db:5432/app")
    assert not looks_secret("SERVICE_URL", "https://example.com/path")


def test_env_and_allowlist_pass_what_the_user_chose() -> None:
    base = {"PATH": "/bin", "OPENAI_API_KEY": "sk-1", "AWS_SECRET_ACCESS_KEY": "a", "HF_TOKEN": "h"}
    env = code_environment(base, env={"MY_TOKEN": "chosen"}, allowlist=["aws_*"])
    assert env == {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "a", "MY_TOKEN": "chosen"}


def test_the_environment_filtered_from_os_environ_follows_each_change(monkeypatch: pytest.MonkeyPatch) -> None:
    # The filtered os.environ is reused while the environment is unchanged: every change shows.
    monkeypatch.setenv("PARLEY_PROBE", "one")
    first = code_environment()
    first["PARLEY_PROBE"] = "changed by the caller"  # a copy: the next call is not affected
    assert code_environment()["PARLEY_PROBE"] == "one"
    monkeypatch.setenv("PARLEY_PROBE", "two")
    monkeypatch.setenv("PARLEY_PROBE_TOKEN", "secret")
    again = code_environment()
    assert again["PARLEY_PROBE"] == "two"
    assert "PARLEY_PROBE_TOKEN" not in again
    assert code_environment(allowlist=["PARLEY_PROBE_*"])["PARLEY_PROBE_TOKEN"] == "secret"
    monkeypatch.delenv("PARLEY_PROBE")
    assert "PARLEY_PROBE" not in code_environment()
    assert code_environment() == {k: v for k, v in os.environ.items() if not looks_secret(k, v)}


@pytest.mark.timeout(60)
def test_the_executor_passes_env_and_allowlisted_variables(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "from-host")
    monkeypatch.setenv("OTHER_TOKEN", "hidden")
    executor = LocalCommandLineCodeExecutor(work_dir=work, env={"EXTRA_KEY": "given"}, env_allowlist=["SERVICE_*"])
    code = "import os\nfor k in ('SERVICE_TOKEN', 'OTHER_TOKEN', 'EXTRA_KEY'):\n    print(k, os.environ.get(k))"
    result = executor.execute_code_blocks([CodeBlock(code, "python")])
    assert result.output == "SERVICE_TOKEN from-host\nOTHER_TOKEN None\nEXTRA_KEY given\n"


@pytest.mark.parametrize(("kwargs", "match"), [({"env": {"A": 1}}, "env must map"), ({"env_allowlist": "A"}, "list")])
def test_bad_env_options_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LocalCommandLineCodeExecutor(**kwargs)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_a_killed_reaper_server_is_started_again(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    assert executor.execute_code_blocks([CodeBlock("print(1)", "python")]).output == "1\n"
    servers = [p for p in psutil.Process().children() if "--serve" in p.cmdline()]
    assert len(servers) == 1
    servers[0].kill()
    servers[0].wait(timeout=10)
    assert executor.execute_code_blocks([CodeBlock("print(2)", "python")]).output == "2\n"


@pytest.mark.timeout(60)
def test_code_that_kills_its_own_reaper_ends_with_everything_it_started(work: Path) -> None:
    code = f"sleep 1000 &\necho $! > {work}/bg.pid\nkill -9 $PPID\nsleep 1000"
    result = LocalCommandLineCodeExecutor(work_dir=work, timeout=30).execute_code_blocks([bash(code)])
    assert not result.timed_out  # the run ended when its reaper died, not at the timeout
    assert all(is_gone(pid) for pid in read_pids(work / "bg.pid"))
