"""``parley.runtime_logging``: a real chat (real SDK, scripted server) recorded to SQLite and to a file."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, ConversableAgent, UserProxyAgent, runtime_logging
from parley.testing import ScriptedOpenAIServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _no_session_left() -> Iterator[None]:
    yield
    runtime_logging.stop()


def rows(db: Path, query: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in con.execute(query)]
    finally:
        con.close()


def test_a_chat_is_recorded_in_autogens_tables(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with ScriptedOpenAIServer(["The answer is 4. TERMINATE"]) as server:
        session = runtime_logging.start(config={"dbname": str(db)})
        assert runtime_logging.logging_enabled()
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-secret-key"}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry], "temperature": 0})
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        user.initiate_chat(assistant, message="2+2?", max_turns=1, silent=True)
        runtime_logging.stop()
    assert not runtime_logging.logging_enabled()
    agents = rows(db, "SELECT * FROM agents ORDER BY id")
    assert [(a["name"], a["class"], a["session_id"]) for a in agents] == [
        ("assistant", "AssistantAgent", session),
        ("user", "UserProxyAgent", session),
    ]
    assistant_args = json.loads(agents[0]["init_args"])
    assert assistant_args["llm_config"]["config_list"] == [{"model": "gpt-4o-mini"}]  # no key, no endpoint
    (wrapper,) = rows(db, "SELECT * FROM oai_wrappers")
    assert agents[0]["wrapper_id"] == wrapper["wrapper_id"]
    assert json.loads(wrapper["init_args"]) == {  # 0.2's shape: the constructor's arguments
        "config_list": [{"model": "gpt-4o-mini"}],
        "base_config": {"temperature": 0},
    }
    (client,) = rows(db, "SELECT * FROM oai_clients")
    assert (client["wrapper_id"], client["class"]) == (wrapper["wrapper_id"], "OpenAIClient")
    (call,) = rows(db, "SELECT * FROM chat_completions")
    assert (call["wrapper_id"], call["client_id"], call["is_cached"]) == (wrapper["wrapper_id"], client["client_id"], 0)
    assert json.loads(call["request"])["messages"][-1] == {"content": "2+2?", "role": "user", "name": "user"}
    assert json.loads(call["response"])["choices"][0]["message"]["content"] == "The answer is 4. TERMINATE"
    assert call["start_time"] <= call["end_time"]
    events = rows(db, "SELECT source_name, event_name, json_state FROM events ORDER BY id")
    assert [(e["source_name"], e["event_name"]) for e in events] == [
        ("assistant", "received_message"),
        ("user", "received_message"),
    ]
    assert json.loads(events[0]["json_state"])["message"]["content"] == "2+2?"
    assert "sk-secret-key" not in db.read_bytes().decode("utf-8", "replace")


def test_function_calls_are_recorded(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    runtime_logging.start(config={"dbname": str(db)})

    def add(a: int, b: int) -> int:
        return a + b

    agent = ConversableAgent("calc", llm_config=False, function_map={"add": add})
    assert agent.execute_function({"name": "add", "arguments": '{"a": 2, "b": 40}'}) == (
        True,
        {"name": "add", "role": "function", "content": "42"},
    )
    runtime_logging.stop()
    (call,) = rows(db, "SELECT * FROM function_calls")
    assert (call["source_name"], call["function_name"]) == ("calc", "add")
    assert (json.loads(call["args"]), json.loads(call["returns"])) == ({"a": 2, "b": 40}, 42)


def test_nothing_is_recorded_outside_a_session(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    runtime_logging.start(config={"dbname": str(db)})
    runtime_logging.stop()
    ConversableAgent("unseen", llm_config=False)
    runtime_logging.log_event("someone", "ignored")
    assert runtime_logging.get_connection() is None
    runtime_logging.start(config={"dbname": str(db)})
    ConversableAgent("seen", llm_config=False)
    runtime_logging.stop()
    assert [a["name"] for a in rows(db, "SELECT name FROM agents")] == ["seen"]
    assert rows(db, "SELECT * FROM events") == []


def test_a_failing_write_is_reported_and_the_chat_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    runtime_logging.start(config={"dbname": ":memory:"})
    with caplog.at_level(logging.ERROR, logger="parley.logger"):
        runtime_logging.log_chat_completion("id", 1, 2, "me", {"messages": []}, None, {"not": "a number"}, 0.0, "t")  # type: ignore[arg-type]
    assert caplog.records[0].getMessage().startswith("[sqlite logger]Error running query with query")
    con = runtime_logging.get_connection()
    assert con is not None
    assert con.execute("SELECT count(*) FROM chat_completions").fetchone() == (0,)


def test_a_file_session_writes_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "runtime.log"
    with ScriptedOpenAIServer(["Hi. TERMINATE"]) as server:
        session = runtime_logging.start(logger_type="file", config={"filename": str(log)})
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-secret-key"}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry]})
        UserProxyAgent("user", code_execution_config=False, human_input_mode="NEVER").initiate_chat(
            assistant, message="Hello", max_turns=1, silent=True
        )
        assert runtime_logging.get_connection() is None
        runtime_logging.stop()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["session_id"] for r in records} == {session}
    kinds = [r["type"] for r in records]
    assert kinds[0] == "session"
    assert {"new_agent", "new_wrapper", "new_client", "chat_completion", "event"} <= set(kinds)
    (call,) = [r for r in records if r["type"] == "chat_completion"]
    assert call["response"]["choices"][0]["message"]["content"] == "Hi. TERMINATE"
    assert "sk-secret-key" not in log.read_text()


def test_an_unknown_logger_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'sqlite' or 'file'"):
        runtime_logging.start(logger_type="kafka")
    assert not runtime_logging.logging_enabled()
