"""Reply parsing, script loading and the token-usage approximation shared by every test double."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from parley.exceptions import ConfigError
from parley.testing._script import (
    Reply,
    Script,
    ScriptExhaustedError,
    approx_tokens,
    load_script,
    message_text,
    parse_reply,
    usage_for,
)


def test_a_string_is_assistant_text() -> None:
    assert parse_reply("hello") == Reply(content="hello")


def test_tool_calls_get_json_arguments_and_default_ids() -> None:
    reply = parse_reply(
        {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 1}}, {"name": "f", "arguments": "{}"}]},
        index=2,
    )
    assert reply.content is None
    assert list(reply.tool_calls) == [
        {"id": "call_3_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
        {"id": "call_3_2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    ]


def test_an_explicit_tool_call_id_is_kept() -> None:
    reply = parse_reply({"tool_calls": [{"name": "f", "id": "call_abc"}]})
    assert reply.tool_calls[0]["id"] == "call_abc"
    assert reply.tool_calls[0]["function"]["arguments"] == "{}"


def test_faults_parse() -> None:
    assert parse_reply({"error": {"status": 429, "message": "slow"}}).error == (429, "slow", {})
    assert parse_reply({"error": {"status": 500}, "delay": 0.5}).delay == 0.5
    assert parse_reply({"raw": '{"id": '}).raw == '{"id": '
    assert parse_reply({"raw_json": {"choices": []}}).raw_json == '{"choices": []}'
    assert parse_reply({"raw_json": None}).raw_json == "null"
    assert parse_reply({"delay": 1, "content": "late"}) == Reply(content="late", delay=1.0)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (42, "expected a str or a dict"),
        ({"contnet": "x"}, "Did you mean 'content'?"),
        ({"tool_calls": [{"nme": "f"}]}, '"name" string'),
        ({"tool_calls": [{"name": "f", "argumnets": {}}]}, "Did you mean 'arguments'?"),
        ({"error": {"message": "no status"}}, '"status": int'),
        ({"delay": -1, "content": "x"}, "delay"),
        ({"content": 3}, '"content" must be a str or None'),
        ({"tool_calls": "f"}, '"tool_calls" must be a list'),
    ],
)
def test_bad_replies_are_rejected_clearly(reply: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match="reply #4") as info:
        parse_reply(reply, index=3)
    assert needle in str(info.value)


def test_token_approximation_is_len_over_four_plus_one() -> None:
    assert approx_tokens("") == 1
    assert approx_tokens("abc") == 1
    assert approx_tokens("abcd") == 2
    assert approx_tokens("x" * 40) == 11


def test_message_text_counts_text_parts_and_tool_calls() -> None:
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": "ab"}, {"type": "image_url", "image_url": {"url": "data:"}}],
        "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert message_text(message) == "abf{}"


def test_usage_counts_every_request_message_and_the_reply() -> None:
    messages = [{"role": "system", "content": "x" * 8}, {"role": "user", "content": "hi"}]
    assert usage_for(messages, parse_reply("y" * 12)) == (3 + 1, 4)


def test_a_script_hands_out_replies_in_order_then_says_it_is_exhausted() -> None:
    script = Script(["one", "two"])
    assert [script.next({}).content, script.next({}).content] == ["one", "two"]
    with pytest.raises(ScriptExhaustedError, match="script exhausted after 2 replies"):
        script.next({})
    assert script.used == 2


def test_a_callable_script_sees_the_request() -> None:
    script = Script(lambda body: f"you said {body['messages'][-1]['content']}")
    assert script.next({"messages": [{"role": "user", "content": "hi"}]}).content == "you said hi"


def test_a_script_is_a_list_or_a_callable() -> None:
    with pytest.raises(ConfigError, match="wrap a single reply in a list"):
        Script("hello")


def test_load_a_json_and_a_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(["a", {"content": "b"}]))
    (tmp_path / "s.yaml").write_text("replies:\n  - a\n  - tool_calls: [{name: f}]\nmodels: [m1]\n")
    assert load_script(tmp_path / "s.json") == (["a", {"content": "b"}], {})
    replies, options = load_script(str(tmp_path / "s.yaml"))
    assert replies == ["a", {"tool_calls": [{"name": "f"}]}]
    assert options == {"models": ["m1"]}


def test_load_a_callable_by_name() -> None:
    dotted, _ = load_script("parley.testing._script:approx_tokens")  # a dotted module path
    assert dotted is cast(Any, approx_tokens)
    fn, options = load_script("json:dumps")
    assert fn is json.dumps
    assert options == {}


def test_load_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_script(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text('["a",\n  "b" "c"]')
    with pytest.raises(ConfigError, match="line 2 column 7"):
        load_script(tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"reply": []}')
    with pytest.raises(ConfigError, match="'replies'"):
        load_script(tmp_path / "obj.json")
    with pytest.raises(ConfigError, match=r"has no attribute 'lodas'\. Did you mean 'loads'"):
        load_script("json:lodas")
    with pytest.raises(ConfigError, match="Cannot import module"):
        load_script("no_such_module_xyz:fn")
