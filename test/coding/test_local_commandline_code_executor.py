"""LocalCommandLineCodeExecutor: real subprocesses, files, policies, timeouts, lifecycle."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import time
import tracemalloc
import venv
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from parley.coding import (
    AsyncCodeExecutor,
    CodeBlock,
    CodeExecutor,
    CommandLineCodeResult,
    LocalCommandLineCodeExecutor,
    MarkdownCodeExtractor,
)
from parley.exceptions import ConfigError, ExecutorError

from ._procs import a_wait_for_pids, hang_with_grandchild, is_gone, read_pids, wait_for_pids


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path / "work"


def py(code: str) -> CodeBlock:
    return CodeBlock(code, "python")


def run(executor: LocalCommandLineCodeExecutor, *blocks: CodeBlock) -> CommandLineCodeResult:
    return executor.execute_code_blocks(list(blocks))


# --- construction ----------------------------------------------------------------------------


def test_constructor_does_no_io_and_exposes_its_settings(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(timeout=5, work_dir=work)
    assert not work.exists()
    assert executor.work_dir == work
    assert executor.timeout == 5
    assert isinstance(executor.code_extractor, MarkdownCodeExtractor)
    assert isinstance(executor, CodeExecutor)
    assert isinstance(executor, AsyncCodeExecutor)


def test_defaults_match_autogen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    executor = LocalCommandLineCodeExecutor()
    assert executor.timeout == 60
    assert executor.work_dir == Path(".")
    assert run(executor, py("print('here')")).output == "here\n"
    assert list(tmp_path.glob("tmp_code_*.py"))


def test_supported_languages() -> None:
    supported = set(LocalCommandLineCodeExecutor.SUPPORTED_LANGUAGES)
    assert {"python", "bash", "sh", "shell"} <= supported
    assert supported - {"python", "bash", "sh", "shell"} in (set(), {"pwsh", "powershell"})


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_output_chars": 1}, "max_output_chars"),
        ({"max_output_chars": 10.5}, "max_output_chars"),
        ({"work_dir": 5}, "work_dir"),
        ({"virtual_env_context": SimpleNamespace(path="/x")}, "virtual_env_context"),
        ({"execution_policies": {"python": "yes"}}, "execution_policies"),
        ({"execution_policies": {"javascript": True}}, "execution_policies"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        LocalCommandLineCodeExecutor(**kwargs)
    assert info.value.key == key
    assert key in str(info.value)


def test_enabling_a_misspelled_language_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match=r"Did you mean 'python'\?"):
        LocalCommandLineCodeExecutor(execution_policies={"pyhton": True})


# --- running -------------------------------------------------------------------------------------


def test_python_and_bash_blocks_run_in_work_dir(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    result = run(executor, py("import os\nprint(os.getcwd())"), CodeBlock("echo from bash: $PWD", "bash"))
    assert result == CommandLineCodeResult(
        exit_code=0,
        output=f"{work}\nfrom bash: {work}\n",
        code_file=result.code_file,
    )
    assert result.code_file is not None
    assert Path(result.code_file).parent == work
    assert result.code_file.endswith(".sh")


@pytest.mark.parametrize("language", ["sh", "shell", "bash", "Bash"])
def test_shell_languages(work: Path, language: str) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), CodeBlock("echo one; echo two", language))
    assert (result.exit_code, result.output) == (0, "one\ntwo\n")


@pytest.mark.parametrize("language", ["py", "python3", "Python"])
def test_python_aliases_on_hand_built_blocks(work: Path, language: str) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), CodeBlock("print(6 * 7)", language))
    assert (result.exit_code, result.output) == (0, "42\n")


def test_python_runs_with_this_interpreter_not_path(work: Path) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py("import sys\nprint(sys.executable)"))
    assert result.output == f"{sys.executable}\n"


def test_stdout_and_stderr_interleave_in_order(work: Path) -> None:
    code = "import sys\nprint('out 1')\nprint('err 1', file=sys.stderr)\nprint('out 2')\n"
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py(code))
    assert result.output == "out 1\nerr 1\nout 2\n"


def test_blocks_are_stateless(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    assert run(executor, py("x = 1")).exit_code == 0
    result = run(executor, py("print(x)"))
    assert result.exit_code == 1
    assert "NameError" in result.output
    with pytest.warns(UserWarning, match="No action is taken"):
        executor.restart()  # nothing to drop; still works
    assert run(executor, py("print('ok')")).output == "ok\n"


def test_files_persist_between_blocks(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    run(executor, py("open('data.txt', 'w').write('kept')"))
    assert run(executor, CodeBlock("cat data.txt", "sh")).output == "kept"


def test_stops_at_the_first_failing_block(work: Path) -> None:
    blocks = [py("print('one')"), py("import sys\nprint('two')\nsys.exit(3)"), py("print('three')")]
    result = LocalCommandLineCodeExecutor(work_dir=work).execute_code_blocks(blocks)
    assert result.exit_code == 3
    assert result.output == "one\ntwo\n"
    assert result.code_file is not None
    assert Path(result.code_file).read_text() == blocks[1].code + "\n"


def test_outputs_of_blocks_are_separated_by_a_newline(work: Path) -> None:
    blocks = [py("print('a', end='')"), CodeBlock("printf b", "sh")]
    assert LocalCommandLineCodeExecutor(work_dir=work).execute_code_blocks(blocks).output == "a\nb"


def test_no_blocks(work: Path) -> None:
    result = LocalCommandLineCodeExecutor(work_dir=work).execute_code_blocks([])
    assert (result.exit_code, result.output, result.code_file) == (0, "", None)


def test_invalid_utf8_output_is_replaced(work: Path) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py("import sys\nsys.stdout.buffer.write(b'a\\xffb')"))
    assert result.output == "a\ufffdb"


def test_signal_exit_is_reported_shell_style(work: Path) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py("import os, signal\nos.kill(os.getpid(), 9)"))
    assert result.exit_code == 128 + 9


def test_missing_interpreter_is_a_result(work: Path) -> None:
    context = SimpleNamespace(env_exe="/nonexistent/bin/python", bin_path="/nonexistent/bin")
    result = run(LocalCommandLineCodeExecutor(work_dir=work, virtual_env_context=context), py("print(1)"))
    assert result.exit_code == 127
    assert "could not start '/nonexistent/bin/python'" in result.output


# --- files -----------------------------------------------------------------------------------------


def test_unmarked_code_is_saved_under_a_random_name(work: Path) -> None:
    code = "print('random')"
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    first, second = run(executor, py(code)), run(executor, py(code))
    assert first.code_file is not None
    assert second.code_file is not None
    assert first.code_file != second.code_file  # not predictable from the code
    assert re.fullmatch(r"tmp_code_[0-9a-f]{32}\.py", Path(first.code_file).name)
    assert Path(first.code_file).parent == work
    assert Path(first.code_file).read_text() == code + "\n"


def test_filename_marker_names_the_file(work: Path) -> None:
    code = "# filename: pkg/hello.py\nprint('hello')"
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py(code))
    assert (result.exit_code, result.output) == (0, "hello\n")
    assert result.code_file == str(work / "pkg" / "hello.py")
    assert (work / "pkg" / "hello.py").read_text() == code + "\n"


def test_a_comment_naming_a_file_elsewhere_does_not_name_it(work: Path) -> None:
    run(LocalCommandLineCodeExecutor(work_dir=work), py("x = 1\n# filename: later.py\nprint(x)"))
    assert not (work / "later.py").exists()


@pytest.mark.parametrize("marker", ["../escape.py", "sub/../../escape.py"])
def test_marker_outside_work_dir_is_refused(work: Path, marker: str) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py(f"# filename: {marker}\nprint('ran')"))
    assert result.exit_code == 1
    assert "outside the working directory" in result.output
    assert "# filename: escape.py" in result.output
    assert "ran" not in result.output
    assert not (work.parent / "escape.py").exists()


def test_absolute_marker_outside_is_refused_and_inside_is_allowed(work: Path, tmp_path: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    outside = tmp_path / "elsewhere" / "abs.py"
    refused = run(executor, py(f"# filename: {outside}\nprint('ran')"))
    assert refused.exit_code == 1
    assert "outside the working directory" in refused.output
    assert not outside.exists()
    allowed = run(executor, py(f"# filename: {work / 'abs.py'}\nprint('ran')"))
    assert (allowed.exit_code, allowed.output) == (0, "ran\n")


def test_marker_through_a_symlink_out_of_work_dir_is_refused(work: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work.mkdir()
    (work / "link").symlink_to(outside, target_is_directory=True)
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py("# filename: link/x.py\nprint('ran')"))
    assert result.exit_code == 1
    assert not (outside / "x.py").exists()


def test_marker_naming_a_directory_is_a_result(work: Path) -> None:
    (work / "adir").mkdir(parents=True)
    result = run(LocalCommandLineCodeExecutor(work_dir=work), py("# filename: adir\nprint(1)"))
    assert result.exit_code == 1
    assert "could not write" in result.output


# --- languages and policies -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["json", "yaml", "text", "javascript", "console"])
def test_unsupported_languages_are_not_run(work: Path, language: str) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), CodeBlock('{"rm": "-rf"}', language))
    assert result.exit_code == 1
    assert f"'{language}'" in result.output
    assert "python" in result.output
    assert "bash" in result.output
    assert result.code_file is None
    assert not work.exists() or not list(work.iterdir())


@pytest.mark.parametrize("language", ["", "unknown"])  # "" is what the extractor gives an untagged block, as 0.2
def test_unknown_language_asks_for_a_tag(work: Path, language: str) -> None:
    result = run(LocalCommandLineCodeExecutor(work_dir=work), CodeBlock("Hello there", language))
    assert result.exit_code == 1
    assert "no language tag" in result.output


def test_refused_block_stops_the_run(work: Path) -> None:
    blocks = [py("print('one')"), CodeBlock("a: 1", "yaml"), py("print('three')")]
    result = LocalCommandLineCodeExecutor(work_dir=work).execute_code_blocks(blocks)
    assert result.exit_code == 1
    assert result.output.startswith("one\n")
    assert "three" not in result.output


def test_policy_false_saves_without_running(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work, execution_policies={"python": False})
    assert executor.execution_policies["python"] is False
    result = run(executor, py("# filename: saved.py\nopen('ran', 'w')"), CodeBlock("echo still runs", "bash"))
    assert result.exit_code == 0
    assert f"Saved to {work / 'saved.py'}; not run" in result.output
    assert result.output.endswith("still runs\n")
    assert (work / "saved.py").exists()
    assert not (work / "ran").exists()


def test_policy_false_can_save_data_blocks(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work, execution_policies={"json": False})
    result = run(executor, CodeBlock('{"a": 1}', "json"))
    assert result.exit_code == 0
    assert result.code_file is not None
    assert result.code_file.endswith(".json")
    assert Path(result.code_file).read_text() == '{"a": 1}\n'


def test_virtual_env_context(work: Path, tmp_path: Path) -> None:
    builder = venv.EnvBuilder(with_pip=False)
    builder.create(tmp_path / "venv")
    context = builder.ensure_directories(tmp_path / "venv")
    executor = LocalCommandLineCodeExecutor(work_dir=work, virtual_env_context=context)
    result = run(
        executor,
        py("import os, sys\nprint(sys.prefix)\nprint(os.environ['VIRTUAL_ENV'])"),
        CodeBlock("command -v python", "sh"),
    )
    assert result.exit_code == 0, result.output
    prefix, virtual_env, python_on_path = result.output.splitlines()
    assert Path(prefix).resolve() == Path(context.env_dir).resolve()
    assert virtual_env == os.fspath(context.env_dir)
    assert python_on_path == os.path.join(context.bin_path, "python")


def test_relative_virtual_env_context(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    builder = venv.EnvBuilder(with_pip=False)
    builder.create("rel-venv")
    context = builder.ensure_directories("rel-venv")
    executor = LocalCommandLineCodeExecutor(work_dir=work, virtual_env_context=context)
    result = run(executor, py("import sys\nprint(sys.prefix)"))
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()).resolve() == (tmp_path / "rel-venv").resolve()


# --- timeout, budget, cancellation, lifecycle ------------------------------------------------------


@pytest.mark.timeout(30)
def test_timeout_kills_the_process_tree_and_keeps_partial_output(work: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    executor = LocalCommandLineCodeExecutor(work_dir=work, timeout=2)
    started = time.monotonic()
    result = run(executor, py(hang_with_grandchild(pid_file)))
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 2  # the bound: within timeout + 2 s
    assert result.exit_code == 124
    assert result.timed_out
    assert result.output.startswith("started the grandchild\n")
    assert result.output.endswith("Timeout after 2 s; the process tree was killed.\n")
    assert all(is_gone(pid) for pid in wait_for_pids(pid_file, 2))


@pytest.mark.timeout(30)
def test_timeout_kills_a_descendant_that_left_the_process_group(work: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    result = run(
        LocalCommandLineCodeExecutor(work_dir=work, timeout=1),
        py(hang_with_grandchild(pid_file, new_session=True)),
    )
    assert result.timed_out
    assert all(is_gone(pid) for pid in wait_for_pids(pid_file, 2))


@pytest.mark.timeout(30)
def test_timeout_escalates_past_a_program_that_ignores_sigint_and_sigterm(work: Path) -> None:
    code = "trap '' INT TERM\necho stubborn\nwhile true; do sleep 0.1; done"
    result = run(LocalCommandLineCodeExecutor(work_dir=work, timeout=1), CodeBlock(code, "bash"))
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.startswith("stubborn\n")


@pytest.mark.timeout(30)
def test_a_background_process_holding_the_output_ends_with_the_block(work: Path) -> None:
    code = f"echo hi\nsleep 1000 &\necho $! > {work / 'bg.pid'}"
    result = run(LocalCommandLineCodeExecutor(work_dir=work, timeout=60), CodeBlock(code, "bash"))
    assert (result.exit_code, result.timed_out, result.output) == (0, False, "hi\n")
    assert all(is_gone(pid) for pid in read_pids(work / "bg.pid"))


@pytest.mark.timeout(60)
def test_a_50_mb_flood_keeps_memory_and_output_bounded(work: Path) -> None:
    code = (
        "import sys\n"
        "chunk = ('y' * 99 + '\\n') * 10_000\n"
        "for _ in range(50):\n"
        "    sys.stdout.write(chunk)\n"
        "print('END')\n"
    )
    executor = LocalCommandLineCodeExecutor(work_dir=work, max_output_chars=10_000)
    tracemalloc.start()
    try:
        result = run(executor, py(code))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # far below the 50 MB that went through
    assert result.exit_code == 0
    assert len(result.output) < 10_000 + 500
    assert result.output.startswith("y" * 99 + "\n")
    assert result.output.endswith("y\nEND\n")
    assert "49,990,004 characters cut" in result.output
    assert result.full_output_file is not None
    assert result.full_output_file in result.output
    assert list(result.output_files) == [result.full_output_file]
    full = Path(result.full_output_file)
    assert full.parent == work
    assert full.stat().st_size == 50_000_004


def test_budget_applies_across_blocks(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work, max_output_chars=100)
    result = run(executor, py("print('a' * 80)"), py("print('b' * 80)"))
    assert result.output.startswith("a" * 50)
    assert result.output.endswith("b" * 49 + "\n")
    assert result.full_output_file is not None
    assert Path(result.full_output_file).read_text() == "a" * 80 + "\n" + "b" * 80 + "\n"


@pytest.mark.timeout(30)
async def test_cancelling_the_awaiting_task_kills_the_process_tree(work: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    executor = LocalCommandLineCodeExecutor(work_dir=work, timeout=60)
    task = asyncio.create_task(executor.a_execute_code_blocks([py(hang_with_grandchild(pid_file))]))
    pids = await a_wait_for_pids(pid_file, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(is_gone(pid) for pid in pids)


@pytest.mark.timeout(30)
def test_close_kills_a_running_block_and_is_idempotent(work: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    executor = LocalCommandLineCodeExecutor(work_dir=work, timeout=60)
    results: list[CommandLineCodeResult] = []
    thread = threading.Thread(target=lambda: results.append(run(executor, py(hang_with_grandchild(pid_file)))))
    thread.start()
    pids = wait_for_pids(pid_file, 2)
    executor.close()
    thread.join()
    assert results[0].exit_code == 128 + 9
    assert results[0].output.startswith("started the grandchild")
    assert all(is_gone(pid) for pid in pids)
    executor.close()
    with pytest.raises(ExecutorError, match="closed"):
        run(executor, py("print(1)"))


def test_sync_and_async_context_managers_close(work: Path) -> None:
    with LocalCommandLineCodeExecutor(work_dir=work) as executor:
        assert run(executor, py("print(1)")).output == "1\n"
    with pytest.raises(ExecutorError):
        run(executor, py("print(1)"))

    async def use_async() -> str:
        async with LocalCommandLineCodeExecutor(work_dir=work) as executor:
            return (await executor.a_execute_code_blocks([py("print(2)")])).output

    assert asyncio.run(use_async()) == "2\n"


async def test_sync_call_inside_a_running_event_loop(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    assert run(executor, py("print('from a loop')")).output == "from a loop\n"


async def test_concurrent_runs_do_not_block_each_other(work: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=work)
    slow = asyncio.create_task(executor.a_execute_code_blocks([py("import time\ntime.sleep(30)")]))
    fast = await executor.a_execute_code_blocks([py("print('fast')")])
    assert fast.output == "fast\n"
    assert not slow.done()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


def test_work_dir_that_cannot_be_created_is_an_executor_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "file" / "work")
    with pytest.raises(ExecutorError, match="Cannot create work_dir"):
        run(executor, py("print(1)"))


def test_restart_without_kept_processes_warns_that_no_action_is_taken(tmp_path: Path) -> None:
    """AutoGen 0.2 warned "No action is taken." on restart(); its tests and users look for it."""
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path)
    with pytest.warns(UserWarning, match=r"No action is taken\.$"):
        executor.restart()
    keeping = LocalCommandLineCodeExecutor(work_dir=tmp_path, keep_background=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keeping.restart()  # it has kept processes to end: no warning
    executor.close()
    keeping.close()
