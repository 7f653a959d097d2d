"""The approval step: the local executor's default guard, callables, a human through the IOStream, the log."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.coding import CodeBlock, LocalCommandLineCodeExecutor
from parley.coding.approval import ApprovalDecision, DangerousCommandGuard, HumanApproval, dangerous_command
from parley.exceptions import ConfigError
from parley.testing import ScriptedModelClient

from .conftest import MakeExecutor


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("rm -rf /", "Use of 'rm -rf' command is not allowed."),
        ("mv myFile /dev/null", "Moving files to /dev/null is not allowed."),
        ("dd if=/dev/zero of=/dev/sda", "Use of 'dd' command is not allowed."),
        ("echo Hello > /dev/sda", "Overwriting disk blocks directly is not allowed."),
        (":(){ :|:& };:", "Fork bombs are not allowed."),
    ],
)
def test_sanitize_command_raises_autogen_02s_messages(code: str, message: str) -> None:
    with pytest.raises(ValueError, match="Potentially dangerous command detected") as info:
        LocalCommandLineCodeExecutor.sanitize_command("bash", code)
    assert message in str(info.value)


@pytest.mark.parametrize("code", ["ls -l", "git add .", "rm -r build", "mv a b", "echo ddd", "f() { echo hi; }; f"])
def test_ordinary_shell_commands_pass(code: str) -> None:
    LocalCommandLineCodeExecutor.sanitize_command("bash", code)
    assert dangerous_command("bash", code) is None


def test_python_blocks_are_not_matched_as_shell() -> None:
    assert dangerous_command("python", "rm -rf /") is None


@pytest.mark.timeout(30)
def test_hostile_input_keeps_the_guard_linear() -> None:
    for hostile in ("a" * 1_000_000, "mv " * 300_000, "()" * 500_000, "x(){" * 250_000, "rm -" + "r" * 1_000_000):
        assert dangerous_command("bash", hostile) is None


def test_the_local_executor_refuses_a_dangerous_block_with_a_result_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("still here")
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work")
    with caplog.at_level(logging.INFO, logger="parley.coding.approval"):
        result = executor.execute_code_blocks([CodeBlock("echo first", "bash"), CodeBlock(f"rm -rf {victim}", "bash")])
    assert result.exit_code == 1
    assert result.output.startswith("Not run: the approval step refused these blocks")
    assert "Use of 'rm -rf' command is not allowed." in result.output
    assert "first" not in result.output  # nothing of the call ran
    assert (victim / "keep.txt").read_text() == "still here"
    assert any("LocalCommandLineCodeExecutor refused 2 code block(s)" in r.getMessage() for r in caplog.records)


def test_approve_none_runs_what_the_guard_would_refuse(tmp_path: Path) -> None:
    target = tmp_path / "work" / "junk"
    target.mkdir(parents=True)
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", approve=None)
    assert executor.execute_code_blocks([CodeBlock(f"rm -rf {target}", "bash")]).exit_code == 0
    assert not target.exists()


async def test_an_async_callable_sees_the_blocks_and_its_reason_reaches_the_model(tmp_path: Path) -> None:
    seen: list[Sequence[CodeBlock]] = []

    async def only_prints(blocks: Sequence[CodeBlock]) -> ApprovalDecision:
        seen.append(blocks)
        if all(block.code.startswith("print(") for block in blocks):
            return ApprovalDecision(True)
        return ApprovalDecision(False, "only print() calls are allowed here")

    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path, approve=only_prints)
    ok = await executor.a_execute_code_blocks([CodeBlock("print(1)", "python")])
    refused = await executor.a_execute_code_blocks([CodeBlock("import os", "python")])
    assert (ok.exit_code, ok.output) == (0, "1\n")
    assert refused.exit_code == 1
    assert "only print() calls are allowed here" in refused.output
    assert [list(b) for b in seen] == [[CodeBlock("print(1)", "python")], [CodeBlock("import os", "python")]]


def test_a_failing_approval_step_refuses(tmp_path: Path) -> None:
    def broken(blocks: Sequence[CodeBlock]) -> bool:
        raise RuntimeError("policy server down")

    result = LocalCommandLineCodeExecutor(work_dir=tmp_path, approve=broken).execute_code_blocks(
        [CodeBlock("print(1)", "python")]
    )
    assert result.exit_code == 1
    assert "the approval step failed: RuntimeError: policy server down" in result.output


@pytest.mark.parametrize(
    ("answer", "runs", "said"), [("y", True, ""), ("", False, ""), ("no, use pathlib", False, "no, use pathlib")]
)
def test_human_approval_asks_through_the_iostream(tmp_path: Path, answer: str, runs: bool, said: str) -> None:
    stream = ScriptedIOStream([answer])
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path, approve="human")
    with IOStream.set_default(stream):
        result = executor.execute_code_blocks([CodeBlock("print('ran')", "python")])
    assert "print('ran')" in stream.text  # the human saw the code
    assert stream.prompts == ["Run this block? [y/N] (or type why not): "]
    assert (result.output == "ran\n") is runs
    assert said in result.output


def test_human_approval_in_a_chat_refuses_and_the_model_reads_why(tmp_path: Path) -> None:
    model = ScriptedModelClient(["```python\nprint('hi')\n```", "TERMINATE"])
    assistant = AssistantAgent("assistant", llm_config={"model_client": model})
    stream = ScriptedIOStream(["not now"])
    user = UserProxyAgent(
        "user",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": tmp_path, "approve": "human"}},
    )
    with IOStream.set_default(stream):
        result = user.initiate_chat(assistant, message="say hi", max_turns=2)
    code_reply = str(result.chat_history[2]["content"])
    assert "the human did not approve running it, and said: not now" in code_reply
    assert "hi\n" not in code_reply


def test_a_human_io_can_be_given(tmp_path: Path) -> None:
    stream = ScriptedIOStream(["yes"])
    result = LocalCommandLineCodeExecutor(work_dir=tmp_path, approve=HumanApproval(stream)).execute_code_blocks(
        [CodeBlock("print(2)", "python")]
    )
    assert result.output == "2\n"


def test_the_guard_is_a_plain_callable() -> None:
    assert DangerousCommandGuard()([CodeBlock("ls", "bash")]) == ApprovalDecision(True)


@pytest.mark.parametrize(("value", "suggestion"), [("Human", ["human"]), (42, [])])
def test_a_bad_approve_is_a_config_error(value: object, suggestion: list[str]) -> None:
    with pytest.raises(ConfigError, match="approve must be a callable") as info:
        LocalCommandLineCodeExecutor(approve=value)  # type: ignore[arg-type]
    assert list(info.value.suggestions) == suggestion


@pytest.mark.timeout(120)
def test_every_executor_runs_the_approval_step_before_any_block(executor_factory: MakeExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    seen: list[list[CodeBlock]] = []

    def refuse(blocks: Sequence[CodeBlock]) -> ApprovalDecision:
        seen.append(list(blocks))
        return ApprovalDecision(False, "not in this test")

    blocks = [CodeBlock(f"open({str(marker)!r}, 'w').write('x')", "python"), CodeBlock("print(2)", "python")]
    result = executor_factory(approve=refuse).execute_code_blocks(blocks)
    assert result.exit_code == 1
    assert "Not run: the approval step refused these blocks (not in this test)" in result.output
    assert seen == [blocks]
    assert not marker.exists()
    allowed = executor_factory(approve=lambda blocks: True).execute_code_blocks([CodeBlock("print(3)", "python")])
    assert (allowed.exit_code, allowed.output.strip()) == (0, "3")
