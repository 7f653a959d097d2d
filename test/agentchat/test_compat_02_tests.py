"""Behaviours AutoGen 0.2's own agentchat tests rely on, checked on parley's public API."""

from __future__ import annotations

import inspect
from typing import Any, cast

import pytest

from parley import ConversableAgent

pytestmark = pytest.mark.timeout(60)


def quiet(name: str, **kw: Any) -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER", **kw)


def test_before_send_hooks_with_and_without_a_sender_parameter() -> None:
    # 0.2.35 passes sender=; hooks written for earlier 0.2 releases take message, recipient, silent only.
    calls: list[tuple[str, Any]] = []

    def old_style(message: Any, recipient: Any, silent: bool) -> Any:
        calls.append(("old", (message, recipient.name, silent)))
        return f"{message}!"

    def new_style(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
        calls.append(("new", (sender.name, message)))
        return message

    async def old_async(message: Any, recipient: Any, silent: bool) -> Any:
        calls.append(("old async", message))
        return message

    a, b = quiet("a"), quiet("b")
    a.register_hook("process_message_before_send", old_style)
    a.register_hook("process_message_before_send", new_style)
    a.register_hook("a_process_message_before_send", old_async)
    a.send("hello", b, request_reply=False, silent=True)
    assert calls == [("old", ("hello", "b", True)), ("new", ("a", "hello!")), ("old async", "hello!")]
    assert (b.last_message(a) or {}).get("content") == "hello!"
    with pytest.raises(ValueError, match="already registered"):
        a.register_hook("process_message_before_send", old_style)


def test_an_unknown_function_or_tool_gets_0_2s_not_found_result() -> None:
    agent = quiet("executor", function_map={"known": lambda: "ok"})
    call = {"role": "assistant", "content": None, "function_call": {"name": "missing", "arguments": "{}"}}
    assert agent.generate_function_call_reply([call]) == (
        True,
        {"name": "missing", "role": "function", "content": "Error: Function missing not found."},
    )
    tool_call = {"id": "1", "type": "function", "function": {"name": "missing", "arguments": "{}"}}
    ok, reply = agent.generate_tool_calls_reply([{"role": "assistant", "content": None, "tool_calls": [tool_call]}])
    assert ok
    assert reply is not None
    not_found = {"tool_call_id": "1", "role": "tool", "content": "Error: Function missing not found."}
    assert reply["tool_responses"] == [not_found]


def test_arguments_that_are_not_json_get_0_2s_exact_result() -> None:
    agent = quiet("executor", function_map={"add": lambda a, b: a + b})
    bad = '{"a": 1, "b": 2,}'
    expected = "Error: Expecting property name enclosed in double quotes: line 1 column 17 (char 16)\n"
    expected += " The argument must be in JSON format."
    ok, reply = agent.execute_function({"name": "add", "arguments": bad})
    assert (ok, reply) == (False, {"name": "add", "role": "function", "content": expected})
    tool_call = {"id": "7", "type": "function", "function": {"name": "add", "arguments": bad}}
    _, tool_reply = agent.generate_tool_calls_reply([{"role": "assistant", "content": None, "tool_calls": [tool_call]}])
    assert tool_reply is not None
    assert tool_reply["tool_responses"] == [{"tool_call_id": "7", "role": "tool", "content": expected}]
    deep = '{"a": ' + "[" * 200 + "]" * 200 + "}"  # parley's own bounds still explain themselves
    assert "levels deep" in str(agent.execute_function({"name": "add", "arguments": deep})[1]["content"])


def test_an_exception_in_a_tool_gets_0_2s_result_on_both_paths() -> None:
    def fails() -> str:
        raise RuntimeError("Error in tool function")

    def fails_quietly() -> str:
        raise LookupError

    agent = quiet("executor", function_map={"fails": fails, "quiet": fails_quietly})
    assert agent.execute_function({"name": "fails", "arguments": "{}"})[1]["content"] == "Error: Error in tool function"
    calls = [
        {"id": str(i), "type": "function", "function": {"name": name, "arguments": "{}"}}
        for i, name in enumerate(["fails", "quiet"])
    ]
    _, reply = agent.generate_tool_calls_reply([{"role": "assistant", "content": None, "tool_calls": calls}])
    assert reply is not None
    assert [r["content"] for r in reply["tool_responses"]] == ["Error: Error in tool function", "Error: LookupError"]


def test_override_role_stores_a_message_with_that_role() -> None:
    a, b = quiet("a"), quiet("b")
    prompt: Any = {"content": "Pick the next speaker.", "override_role": "system"}
    b.receive(prompt, a, request_reply=False, silent=True)
    call: Any = {"content": None, "override_role": "system", "tool_calls": [{"id": "1", "function": {"name": "f"}}]}
    b.receive(call, a, request_reply=False, silent=True)
    assert [m["role"] for m in b.chat_messages[a]] == ["system", "assistant"]  # a call stays the assistant's


def test_0_2_private_helpers_that_ported_subclasses_call() -> None:
    # These underscored names are 0.2's; ported agent subclasses call them, so they stay thin views of parley's state.
    a, b = quiet("a", max_consecutive_auto_reply=1), quiet("b", max_consecutive_auto_reply=0)
    hi: Any = {"content": "hi", "override_role": "user"}
    assert a._append_oai_message(hi, "assistant", b, is_sending=True)
    assert not a._append_oai_message(cast(Any, {"no": "content"}), "assistant", b)
    assert a.chat_messages[b] == [{"content": "hi", "role": "user", "name": "a"}]
    assert a._match_trigger("b", b)
    assert a._match_trigger([ConversableAgent, None], None)
    assert not a._match_trigger(lambda s: s.name == "c", b)
    with pytest.raises(ValueError, match="reply trigger"):
        a._match_trigger(1, b)
    b.initiate_chat(a, message="hello", silent=True)
    assert a._consecutive_auto_reply_counter[b] == 1
    assert a._max_consecutive_auto_reply_dict[b] == 1


async def test_0_2s_wrap_function_validates_arguments_and_returns_text() -> None:
    agent = quiet("a")

    def scale(factor: float, values: list[int]) -> dict[str, list[float]]:
        return {"scaled": [factor * v for v in values]}

    async def a_scale(factor: float) -> float:
        return factor * 2

    wrapped = agent._wrap_function(scale)
    assert wrapped(factor="2", values=[1, 2]) == '{"scaled": [2.0, 4.0]}'
    a_wrapped = agent._wrap_function(a_scale)
    assert inspect.iscoroutinefunction(a_wrapped)
    assert await a_wrapped(factor=1.5) == "3.0"


def test_line_breaks_inside_argument_strings_are_read_as_0_2_read_them() -> None:
    # Models often write code with raw line breaks inside a JSON string; 0.2 accepted them.
    agent = quiet("executor", function_map={"run": lambda code, lang: f"{lang}: {code!r}"})
    ok, reply = agent.execute_function({"name": "run", "arguments": '{\n"lang": "python",\n"code": "x=3\nprint(x)"}'})
    assert ok
    assert reply["content"] == "python: 'x=3\\nprint(x)'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Look: <img http://example.com/a=b.png>", [("img", {"src": "http://example.com/a=b.png"})]),
        ("<img url='http://example.com/=x.png'> ok", [("img", {"url": "http://example.com/=x.png"})]),
        (
            "Say <audio text='Hello I'm a robot' prompt=whisper> then <img http://e.com/i.png width=\"100\">",
            [
                ("audio", {"text": "Hello I'm a robot", "prompt": "whisper"}),
                ("img", {"src": "http://e.com/i.png", "width": "100"}),
            ],
        ),
        ("No tags, not even <imgs> or <img>", []),
    ],
)
def test_parse_tags_from_content_reads_0_2s_media_tags(text: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    from parley.agentchat.utils import parse_tags_from_content

    parts: list[dict[str, Any]] = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": "x"}}]
    for content in (text, parts):
        found = [t for tag in ("img", "audio") for t in parse_tags_from_content(tag, content)]
        found.sort(key=lambda t: t["match"].start())
        assert [(t["tag"], t["attr"]) for t in found] == expected
        assert all(t["match"].group(0).startswith(f"<{t['tag']} ") for t in found)
    assert parse_tags_from_content("img", None) == []
