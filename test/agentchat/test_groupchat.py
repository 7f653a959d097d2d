"""GroupChat and GroupChatManager: validation, each selection method, routing, resume, nesting."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from parley import ConversableAgent, GroupChat, GroupChatManager
from parley.agentchat import ScriptedIOStream
from parley.agentchat.io import IOStream
from parley.exceptions import ConfigError
from parley.testing import FunctionModelClient, ScriptedModelClient


def member(name: str, reply: str | None = None, **kw: Any) -> ConversableAgent:
    """An agent that always answers ``reply`` (default: 'from <name>')."""
    text = reply if reply is not None else f"from {name}"
    kw.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(
        name, llm_config=FunctionModelClient(lambda m, t, p: text), description=f"{name} does X", **kw
    )


def transcript(gc: GroupChat) -> list[tuple[str, str]]:
    return [(str(m.get("name")), str(m.get("content"))) for m in gc.messages]


def run(gc: GroupChat, starter: ConversableAgent, message: str = "task", **manager_kw: Any) -> GroupChatManager:
    manager = GroupChatManager(gc, silent=True, **manager_kw)
    starter.initiate_chat(manager, message=message, silent=True)
    return manager


# ---- validation ---------------------------------------------------------------------------------------


def test_validation_errors_say_what_is_wrong() -> None:
    a, b = member("a"), member("b")
    with pytest.raises(ConfigError, match="not an agent"):
        GroupChat(agents=[a, "b"])
    with pytest.raises(ConfigError, match="max_round"):
        GroupChat(agents=[a, b], max_round=0)
    with pytest.raises(ConfigError, match="needs speaker_transitions_type"):
        GroupChat(agents=[a, b], allowed_or_disallowed_speaker_transitions={a: [b]})
    with pytest.raises(ConfigError, match="not both"):
        GroupChat(agents=[a, b], allowed_or_disallowed_speaker_transitions={a: [b]},
                  speaker_transitions_type="allowed", allow_repeat_speaker=False)  # fmt: skip
    with pytest.raises(ConfigError, match="not in the group"):
        GroupChat(agents=[a, b], allowed_or_disallowed_speaker_transitions={a: [member("c")]},
                  speaker_transitions_type="allowed")  # fmt: skip
    with pytest.raises(ConfigError, match="placeholder"):
        GroupChat(agents=[a, b], select_speaker_prompt_template="Pick from {agents}")
    with pytest.raises(ConfigError, match="max_retries_for_selecting_speaker"):
        GroupChat(agents=[a, b], max_retries_for_selecting_speaker=-1)


def test_a_misspelt_method_or_a_missing_model_is_refused_at_the_first_selection_as_in_0_2() -> None:
    # 0.2 builds both and raises its ValueError once a speaker has to be chosen; so does parley,
    # before any model is asked or any member has spoken.
    a, b = member("a"), member("b")
    typo = GroupChat(agents=[a, b], speaker_selection_method="round-robin")
    with pytest.raises(ConfigError, match="Did you mean 'round_robin'"):
        a.initiate_chat(GroupChatManager(typo, llm_config=False), message="hi", silent=True)
    no_model = GroupChat(agents=[a, b])  # "auto", and the manager's llm_config left out
    manager = GroupChatManager(no_model)
    with pytest.raises(ConfigError, match="needs a model"):
        a.initiate_chat(manager, message="hi", silent=True)
    assert [m["content"] for m in no_model.messages] == ["hi"]  # nobody spoke


def test_auto_with_llm_config_false_takes_turns_in_order_as_in_autogen_02() -> None:
    # llm_config=False says "no model" on purpose: 0.2 then picks the next member in order.
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(agents=[a, b, c], max_round=5)
    run(gc, a, llm_config=False)
    assert [name for name, _ in transcript(gc)] == ["a", "b", "c", "a", "b"]


def test_validation_messages_are_autogen_02s() -> None:
    a, b = member("a"), member("b")
    with pytest.raises(ValueError, match="allow_repeat_speaker") as err:
        GroupChat(agents=[a, b], allow_repeat_speaker={})  # type: ignore[arg-type]
    assert str(err.value) == "GroupChat allow_repeat_speaker should be a bool or a list of Agents."
    with pytest.raises(ValueError, match=r"role_for_select_speaker_messages cannot be empty or None\."):
        GroupChat(agents=[a, b], role_for_select_speaker_messages="")
    for key in ("select_speaker_message_template", "select_speaker_prompt_template",
                "select_speaker_auto_multiple_template", "select_speaker_auto_none_template"):  # fmt: skip
        for value in ("", None):
            with pytest.raises(ValueError, match=rf"{key} cannot be empty or None\."):
                GroupChat(agents=[a, b], **{key: value})  # type: ignore[arg-type]


# ---- selection methods -----------------------------------------------------------------------------------


def test_round_robin_and_max_round() -> None:
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="round_robin", max_round=5)
    run(gc, a)
    assert transcript(gc) == [("a", "task"), ("b", "from b"), ("c", "from c"), ("a", "from a"), ("b", "from b")]


def test_termination_message_ends_the_chat() -> None:
    a, b, c = member("a"), member("b", "done TERMINATE"), member("c")
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="round_robin", max_round=10)
    run(gc, a)
    assert transcript(gc) == [("a", "task"), ("b", "done TERMINATE")]


def test_random_selection_respects_repeat_rule() -> None:
    a, b, c = member("a"), member("b"), member("c")
    random.seed(7)
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="random", max_round=12, allow_repeat_speaker=False)
    run(gc, a)
    speakers = [n for n, _ in transcript(gc)]
    assert len(speakers) == 12
    assert all(x != y for x, y in itertools.pairwise(speakers))
    assert set(speakers) == {"a", "b", "c"}


def test_transition_graph_limits_who_speaks_next() -> None:
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(
        agents=[a, b, c], speaker_selection_method="round_robin", max_round=6,
        allowed_or_disallowed_speaker_transitions={a: [c], c: [b], b: [a]}, speaker_transitions_type="allowed",
    )  # fmt: skip
    run(gc, a)
    assert [n for n, _ in transcript(gc)] == ["a", "c", "b", "a", "c", "b"]


def test_dead_end_in_graph_ends_the_chat() -> None:
    a, b = member("a"), member("b")
    gc = GroupChat(agents=[a, b], speaker_selection_method="round_robin",
                   allowed_or_disallowed_speaker_transitions={a: [b]}, speaker_transitions_type="allowed")  # fmt: skip
    run(gc, a)
    assert [n for n, _ in transcript(gc)] == ["a", "b"]


def test_manual_selection_through_the_iostream() -> None:
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="manual", max_round=4, allow_repeat_speaker=False)
    io = ScriptedIOStream(["2", "nine", "1", ""])
    with IOStream.set_default(io):
        run(gc, a, llm_config=ScriptedModelClient(["b"]))
    # a -> candidates [b, c]: "2" = c; c -> [a, b]: "nine" is refused, "1" = a; a -> "" = ask the model: "b"
    assert [n for n, _ in transcript(gc)] == ["a", "c", "a", "b"]
    assert "1: b\n2: c" in io.prompts[0]
    assert "'nine' is not a number from 1 to 2." in io.text


def test_manual_selection_refuses_answers_int_cannot_read() -> None:
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="manual", max_round=2, allow_repeat_speaker=False)
    io = ScriptedIOStream(["\u00b2", "1" * 5000, "2"])  # a superscript two is a digit to str.isdigit
    with IOStream.set_default(io):
        run(gc, a)
    assert [n for n, _ in transcript(gc)] == ["a", "c"]
    assert "'\u00b2' is not a number from 1 to 2." in io.text
    assert f"{'1' * 5000!r} is not a number from 1 to 2." in io.text


def test_callable_selection_returns_agent_name_method_or_none() -> None:
    a, b, c = member("a"), member("b"), member("c")
    calls: list[str] = []

    def pick(last: Any, gc: GroupChat) -> Any:
        calls.append(last.name)
        n = len(gc.messages)
        return {1: b, 2: "c", 3: "round_robin"}.get(n)

    gc = GroupChat(agents=[a, b, c], speaker_selection_method=pick, max_round=10)
    run(gc, a)
    assert [n for n, _ in transcript(gc)] == ["a", "b", "c", "a"]
    assert calls == ["a", "b", "c", "a"]


def test_callable_selection_naming_a_stranger_is_an_error() -> None:
    a, b = member("a"), member("b")
    gc = GroupChat(agents=[a, b], speaker_selection_method=lambda last, g: "bb")
    with pytest.raises(ConfigError, match="Did you mean 'b'"):
        run(gc, a)


def test_auto_selection_retries_with_feedback_then_falls_back() -> None:
    a, b, c = member("a"), member("b"), member("c")
    selector = ScriptedModelClient(["I'd say c.", "b and c", "nobody", "still nobody"])
    gc = GroupChat(agents=[a, b, c], max_round=3, max_retries_for_selecting_speaker=2)
    run(gc, a, llm_config=selector)
    # round 2: "I'd say c." names c. Round 3: two names, then no name twice: round robin after c is a.
    assert [n for n, _ in transcript(gc)] == ["a", "c", "a"]
    last_request = selector.calls[-1]
    assert str(last_request[0]["content"]).startswith("You coordinate a team")
    feedback = [
        str(m["content"]) for m in last_request if m["role"] == "user" and "Answer with exactly" in str(m["content"])
    ]
    assert feedback == [
        "Your answer named more than one team member (b, c). Answer with exactly one name from ['a', 'b', 'c'].",
        "Your answer named no team member. Answer with exactly one name from ['a', 'b', 'c'].",
    ]


@pytest.mark.timeout(30)
def test_auto_selection_reads_a_megabyte_answer() -> None:
    coder, senior, reviewer = member("Coder"), member("Senior_Coder"), member("reviewer")
    selector = ScriptedModelClient(["Senior Coder " * 80_000])  # 1 MB; each "Coder" lies inside a longer name
    gc = GroupChat(agents=[coder, senior, reviewer], max_round=2)
    run(gc, coder, llm_config=selector)
    assert [n for n, _ in transcript(gc)] == ["Coder", "Senior_Coder"]
    assert len(selector.calls) == 1  # one name found: no retry


def tool_caller() -> ConversableAgent:
    def model(messages: Any, tools: Any, params: Any) -> Any:
        if any(m.get("role") == "tool" for m in messages):
            return "sum is 5 TERMINATE"
        return {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}

    return ConversableAgent("caller", human_input_mode="NEVER", llm_config=FunctionModelClient(model))


def test_func_call_filter_routes_tool_calls_to_an_executor() -> None:
    caller = tool_caller()
    runner = member("runner", function_map={"add": lambda a, b: a + b})
    other, third = member("other"), member("third")
    gc = GroupChat(agents=[other, caller, third, runner], speaker_selection_method="round_robin", max_round=8)
    run(gc, other, message="add 2 and 3")
    names = [n for n, _ in transcript(gc)]
    assert names == ["other", "caller", "runner", "other", "caller"]  # round robin alone: 'third' after caller
    assert gc.messages[2]["tool_responses"][0]["content"] == "5"
    assert gc.messages[-1]["content"] == "sum is 5 TERMINATE"
    gc_bad = GroupChat(agents=[tool_caller(), other], speaker_selection_method="round_robin", max_round=4)
    with pytest.raises(ConfigError, match="No agent in the group chat can execute add"):
        run(gc_bad, other)


def test_selector_never_sees_dangling_tool_calls() -> None:
    caller = ConversableAgent(
        "caller", human_input_mode="NEVER",
        llm_config=ScriptedModelClient([{"content": "let me call", "tool_calls": [{"name": "f", "arguments": {}}]}]),
    )  # fmt: skip
    a = member("a")
    selector = ScriptedModelClient(["caller", "a"])
    gc = GroupChat(agents=[a, caller], max_round=3, func_call_filter=False)
    run(gc, a, llm_config=selector)
    sent = selector.calls[1]
    assert all("tool_calls" not in m for m in sent)
    assert any(m.get("content") == "let me call" for m in sent)


def test_send_introductions() -> None:
    a = member("a")
    seen: list[Any] = []

    def model(messages: Any, tools: Any, params: Any) -> str:
        seen.append(messages)
        return "ok"

    b = ConversableAgent("b", human_input_mode="NEVER", description="b reviews", llm_config=FunctionModelClient(model))
    gc = GroupChat(agents=[a, b], speaker_selection_method="round_robin", max_round=2, send_introductions=True)
    run(gc, a)
    intro = str(seen[0][1]["content"])
    assert "a: a does X" in intro
    assert "b: b reviews" in intro


# ---- resume and nesting --------------------------------------------------------------------------------


def test_resume_round_trip_from_json() -> None:
    a, b, c = member("a"), member("b"), member("c")
    gc = GroupChat(agents=[a, b, c], speaker_selection_method="round_robin", max_round=4)
    manager = run(gc, a)
    saved = json.dumps(gc.messages)
    assert [n for n, _ in transcript(gc)] == ["a", "b", "c", "a"]

    a2, b2, c2 = member("a"), member("b"), member("c")
    gc2 = GroupChat(agents=[a2, b2, c2], speaker_selection_method="round_robin", max_round=3)
    manager2 = GroupChatManager(gc2, silent=True)
    last_agent, last_message = manager2.resume(saved)
    assert last_agent is a2
    assert last_message["content"] == "from a"
    assert [n for n, _ in transcript(gc2)] == ["a", "b", "c"]
    assert [m["content"] for m in b2.chat_messages[manager2]] == ["task", "from b", "from c"]
    assert [m["role"] for m in b2.chat_messages[manager2]] == ["user", "assistant", "user"]
    last_agent.initiate_chat(manager2, message=last_message, clear_history=False, silent=True)
    assert [n for n, _ in transcript(gc2)] == ["a", "b", "c", "a", "b", "c"]
    with pytest.raises(ConfigError, match="not valid JSON"):
        manager2.resume("[{")
    with pytest.raises(ConfigError, match="No agent named 'zed'"):
        manager2.resume([{"name": "zed", "content": "hi"}])
    assert manager  # the first manager is not needed again


def test_manager_can_be_a_member_of_another_group_chat() -> None:
    x, y = member("x"), member("y", "inner answer")
    inner = GroupChatManager(GroupChat(agents=[x, y], speaker_selection_method="round_robin", max_round=3),
                             name="inner", silent=True)  # fmt: skip
    boss, critic = member("boss"), member("critic", "looks good TERMINATE")
    outer = GroupChat(agents=[boss, inner, critic], speaker_selection_method="round_robin", max_round=5)
    run(outer, boss, message="outer task")
    assert transcript(outer) == [("boss", "outer task"), ("inner", "inner answer"), ("critic", "looks good TERMINATE")]
    assert [c for _, c in transcript(inner.groupchat)] == ["outer task", "from x", "inner answer"]
