"""Two-agent chats, summaries, carryover, chats in sequence, tools, code replies and concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from parley import ConversableAgent, UserProxyAgent, initiate_chats
from parley.agentchat import ScriptedIOStream
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.llm.types import Message
from parley.testing import FunctionModelClient, ScriptedModelClient


def quiet(name: str, **kw: Any) -> ConversableAgent:
    kw.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(name, silent=True, **kw)


def runner(tmp_path: Path, **kw: Any) -> UserProxyAgent:
    return UserProxyAgent(
        "runner",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path), "timeout": 30}, **kw},
        silent=True,
    )


def test_initiate_chat_message_forms_and_max_turns() -> None:
    a = quiet("a", llm_config=FunctionModelClient(lambda m, t, p: "a says"))
    b = quiet("b", llm_config=FunctionModelClient(lambda m, t, p: "b says"))
    r = a.initiate_chat(b, message="hi", max_turns=2, silent=True)
    assert [m["content"] for m in r.chat_history] == ["hi", "b says", "a says", "b says"]
    r = a.initiate_chat(b, message={"content": "dict hi", "role": "user"}, max_turns=1, silent=True)
    assert [m["content"] for m in r.chat_history] == ["dict hi", "b says"]
    r = a.initiate_chat(
        b, message=lambda sender, recipient, ctx: f"{sender.name}->{recipient.name} {ctx['carryover']}",
        carryover="ctx", max_turns=1, silent=True,
    )  # fmt: skip
    assert r.chat_history[0]["content"] == "a->b ctx\nContext: \nctx"
    assert r.chat_id is not None
    with pytest.raises(ConfigError, match="max_turns"):
        a.initiate_chat(b, message="x", max_turns=-1)
    with pytest.raises(ConfigError, match="Did you mean 'last_msg'"):
        a.initiate_chat(b, message="x", summary_method="last_message")


def test_carryover_items_of_every_shape_reach_the_first_message() -> None:
    # 0.2's carryover takes strings and messages; a message from another provider (Gemini's
    # role "model") gives its content, and a dict that is not a message is shown as it is.
    a = quiet("a")
    b = quiet("b", llm_config=FunctionModelClient(lambda m, t, p: "ok"))
    carryover = ["plain", {"content": "How can I help you?", "role": "model"}, {"score": 3}]
    r = a.initiate_chat(b, message="go", carryover=carryover, max_turns=1, silent=True)
    assert r.chat_history[0]["content"] == "go\nContext: \nplain\nHow can I help you?\n{'score': 3}"


def test_summary_methods() -> None:
    llm = ScriptedModelClient(["The answer is 4. TERMINATE", "Summary: 2+2=4."])
    asker = quiet("asker")
    solver = quiet("solver", llm_config=llm)
    r = asker.initiate_chat(solver, message="2+2?", max_turns=1, summary_method="last_msg")
    assert r.summary == "The answer is 4."
    r2 = asker.initiate_chat(solver, message="2+2?", max_turns=0, summary_method="reflection_with_llm")
    assert r2.summary == "Summary: 2+2=4."
    assert str(llm.calls[-1][-1]["content"]).startswith("Summarize the conversation")
    r3 = asker.initiate_chat(
        solver, message="x", max_turns=0, summary_method=lambda s, rcp, args: f"{s.name}/{rcp.name}/{args['k']}",
        summary_args={"k": "v"},
    )  # fmt: skip
    assert r3.summary == "asker/solver/v"
    with pytest.raises(ConfigError, match="needs a model"):
        quiet("x").initiate_chat(quiet("y"), message="m", max_turns=0, summary_method="reflection_with_llm")


def test_initiate_chats_carries_summaries_over() -> None:
    seen: list[str] = []

    def model(messages: Any, tools: Any, params: Any) -> str:
        seen.append(messages[-1]["content"])
        return f"result {len(seen)}"

    boss, w1, w2 = (
        quiet("boss"),
        quiet("w1", llm_config=FunctionModelClient(model)),
        quiet("w2", llm_config=FunctionModelClient(model)),
    )
    results = initiate_chats(
        [
            {"sender": boss, "recipient": w1, "message": "first task", "max_turns": 1, "silent": True},
            {"sender": boss, "recipient": w2, "message": "second task", "max_turns": 1, "silent": True},
        ]
    )
    assert [r.summary for r in results] == ["result 1", "result 2"]
    assert seen[1] == "second task\nContext: \nresult 1"
    with pytest.raises(ConfigError, match="recipient"):
        initiate_chats([{"sender": boss, "message": "x"}])


def test_console_output_shows_who_speaks_to_whom() -> None:
    io = ScriptedIOStream()
    a = ConversableAgent(
        "alice", human_input_mode="NEVER", llm_config=ScriptedModelClient(["```python\nprint(1)\n```"])
    )
    b = ConversableAgent("bob", human_input_mode="NEVER")
    with IOStream.set_default(io):
        b.initiate_chat(a, message="write code", max_turns=1)
    assert "bob (to alice):\n\nwrite code\n" in io.text
    assert "alice (to bob):\n\n```python\nprint(1)\n```" in io.text
    io2 = ScriptedIOStream()
    with IOStream.set_default(io2):
        b.initiate_chat(a, message="again", max_turns=0, silent=True)
    assert io2.text == ""


def test_code_reply_format_last_n_messages_and_data_blocks(tmp_path: Path) -> None:
    proxy = runner(tmp_path, last_n_messages=2)
    other = quiet("other")
    code_msg: Message = {"role": "user", "content": "```python\nprint('from old message')\n```"}
    chatter: Message = {"role": "user", "content": "no code here"}
    assert proxy.generate_reply([code_msg, chatter], other) == (
        "exitcode: 0 (execution succeeded)\nCode output: from old message\n"
    )
    assert proxy.generate_reply([code_msg, chatter, chatter], other) == ""  # out of reach: default reply
    data: Message = {"role": "user", "content": '```json\n{"a": 1}\n```\n```yaml\nk: v\n```'}
    assert proxy.generate_reply([data], other) == ""  # data blocks are never executed
    failing: Message = {"role": "user", "content": "```python\nimport sys\nprint('bad')\nsys.exit(3)\n```"}
    assert proxy.generate_reply([failing], other) == "exitcode: 3 (execution failed)\nCode output: bad\n"
    unknown: Message = {"role": "user", "content": "```cobol\nDISPLAY 'HI'.\n```"}
    reply = proxy.generate_reply([unknown], other)
    assert isinstance(reply, str)
    assert reply.startswith("exitcode: 1 (execution failed)")
    assert "python" in reply


def test_auto_last_n_messages_stops_at_own_message(tmp_path: Path) -> None:
    proxy = runner(tmp_path)
    other = quiet("other")
    history: list[Message] = [
        {"role": "user", "content": "```python\nprint('old')\n```"},
        {"role": "assistant", "content": "exitcode: 0 ...", "name": "runner"},
        {"role": "user", "content": "thanks"},
    ]
    assert proxy.generate_reply(history, other) == ""
    history.append({"role": "user", "content": "```sh\necho new\n```"})
    assert proxy.generate_reply(history, other) == "exitcode: 0 (execution succeeded)\nCode output: new\n"


def test_allowed_languages_refuses_others(tmp_path: Path) -> None:
    proxy = runner(tmp_path, allowed_languages=["python"])
    reply = proxy.generate_reply([{"role": "user", "content": "```sh\necho hi\n```"}], quiet("o"))
    assert (
        reply == "exitcode: 1 (execution failed)\nCode output: Not executed: sh code is not allowed here. "
        "Write the code in one of: python."
    )
    with pytest.raises(ConfigError, match="last_n_messages"):
        runner(tmp_path, last_n_messages="all")


def test_parallel_tool_calls_one_raises_all_answered_in_order() -> None:
    order: list[str] = []

    released = threading.Event()

    async def slow(x: int) -> int:
        await asyncio.to_thread(released.wait, 30)  # finishes only after the sync tool ran
        order.append("slow")
        return x * 2

    def boom() -> str:
        raise ValueError("no luck")

    def fast(name: str) -> dict[str, str]:
        order.append("fast")
        released.set()
        return {"hello": name}

    calls = [
        {"id": "1", "name": "slow", "arguments": json.dumps({"x": 21})},
        {"id": "2", "name": "boom", "arguments": "{}"},
        {"id": "3", "name": "fast", "arguments": json.dumps({"name": "ann"})},
        {"id": "4", "name": "fast", "arguments": "{not json"},
        {"id": "5", "name": "nope", "arguments": "{}"},
    ]
    llm = ScriptedModelClient([{"content": None, "tool_calls": calls}, "all done TERMINATE"])
    caller = quiet("caller", llm_config=llm)
    executor = quiet("executor", function_map={"slow": slow, "boom": boom, "fast": fast})
    result = executor.initiate_chat(caller, message="go", silent=True)
    tool_msg = result.chat_history[2]
    responses = tool_msg["tool_responses"]
    assert [r["tool_call_id"] for r in responses] == ["1", "2", "3", "4", "5"]
    assert responses[0]["content"] == "42"
    assert responses[1]["content"] == "Error: no luck"
    assert responses[2]["content"] == '{"hello": "ann"}'
    assert str(responses[3]["content"]).endswith("\n The argument must be in JSON format.")  # 0.2's words
    assert responses[4]["content"] == "Error: Function nope not found."  # AutoGen 0.2's words
    assert order == ["fast", "slow"]  # ran concurrently: the fast one finished first
    sent = llm.calls[1]
    assert [m["role"] for m in sent[-5:]] == ["tool"] * 5  # expanded for the API
    assert result.chat_history[-1]["content"] == "all done TERMINATE"


async def test_many_concurrent_chats_and_code_does_not_block_others(tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    slow_code = (
        "```python\nimport pathlib, time\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(release)!r}).exists():\n    time.sleep(0.01)\n"
        "print('slow done')\n```"
    )

    def make_pair(i: int) -> tuple[ConversableAgent, ConversableAgent]:
        def model(messages: Any, tools: Any, params: Any) -> str:
            return "done TERMINATE" if len(messages) > 3 else f"turn from {i}"

        return quiet(f"a{i}", llm_config=FunctionModelClient(model)), quiet(
            f"b{i}", llm_config=FunctionModelClient(model)
        )

    pairs = [make_pair(i) for i in range(100)]
    slow_assistant = quiet("slow_assistant", llm_config=ScriptedModelClient([slow_code, "ok TERMINATE"]))
    slow = asyncio.create_task(runner(tmp_path).a_initiate_chat(slow_assistant, message="run slow code", silent=True))
    while not started.exists():  # noqa: ASYNC110 - another process makes the file; bounded by the test timeout
        await asyncio.sleep(0.01)
    fast = await asyncio.gather(*(a.a_initiate_chat(b, message="hi", silent=True) for a, b in pairs))
    # all 100 chats finished while the slow chat's code was still running: no turn waited for it
    assert not slow.done()
    assert all(r.chat_history[-1]["content"] == "done TERMINATE" for r in fast)
    release.touch()
    result = await slow
    assert "slow done" in str(result.chat_history[2]["content"])
