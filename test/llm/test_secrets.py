"""No API key in logs, reprs or exceptions, through every failure path of a chat.

Each chat runs with a fake key whose secret part must never be seen. The server is scripted to
repeat the key back in its error messages, as some real servers do, so the client must scrub it.
Everything a user could see is gathered: DEBUG logs of every logger (parley, openai, the HTTP
stack), stdout and stderr, the IOStream, the exception's str, repr and traceback, and the reprs
and configs of agents and clients.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.exceptions import ParleyError
from parley.llm import OpenAIClient
from parley.testing import ScriptedOpenAIServer

from .conftest import FAKE_KEY, SECRET

Entry = Callable[..., dict[str, Any]]
ECHO = f"key {FAKE_KEY} was used"

FAULTS: dict[str, dict[str, Any]] = {
    "401": {"error": {"status": 401, "message": f"Incorrect API key provided: {FAKE_KEY}"}},
    "429": {"error": {"status": 429, "message": ECHO}},
    "500": {"error": {"status": 500, "message": ECHO}},
    "timeout": {"delay": 30, "content": "late"},
    "truncated-json": {"raw": '{"choices": [{"message": {"content": "tr'},
    "missing-fields": {"raw_json": {"choices": [{"index": 0}]}},
    "stream-error-event": {"raw_events": [f'{{"error": {{"message": "{ECHO}"}}}}']},
    "stream-cut": {"content": "a stream that breaks", "stream_cut": 2},
    "stream-stall": {"content": "a stream that stalls", "stream_pause": {"after": 2, "seconds": 30}},
}


@pytest.fixture
def seen(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """Text a user could see; the fixture asserts at the end that the secret is in none of it."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    io = ScriptedIOStream()
    with IOStream.set_default(io):
        yield texts
    captured = capsys.readouterr()
    records = caplog.get_records("setup") + caplog.get_records("call")  # this teardown has its own
    assert records, "the logs were not captured"
    texts += [captured.out, captured.err, io.text]
    # The scripted server plays the remote API (which echoes a wrong key, as OpenAI's does); its own
    # request log is the server's, not what parley shows.
    texts += [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records if r.name != "parley.testing"]
    leaks = [t for t in texts if SECRET in t]
    assert not leaks, f"the API key leaked into: {leaks[0][:500]}"


def shown(err: BaseException, *objects: Any) -> list[str]:
    out = [str(err), repr(err), "".join(traceback.format_exception(err)), repr(getattr(err, "config", None))]
    return out + [repr(o) for o in objects] + [str(getattr(o, "config_list", "")) for o in objects]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_failure_path_shows_the_key(entry_for: Entry, seen: list[str], fault: str, stream: bool) -> None:
    with ScriptedOpenAIServer([FAULTS[fault]] * 2) as one, ScriptedOpenAIServer([FAULTS[fault]] * 2) as two:
        # Two entries, so the error that ends the chat also lists both; the SDK retries once.
        entries = [entry_for(one, max_retries=1, timeout=0.5), entry_for(two, timeout=0.5)]
        for entry in entries:
            entry["default_headers"] = {"Authorization": f"Bearer {FAKE_KEY}"}
        assistant = AssistantAgent("assistant", llm_config={"config_list": entries, "stream": stream})
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        with pytest.raises(ParleyError) as info:
            user.initiate_chat(assistant, message="hi")
    seen += shown(info.value, assistant, assistant.client, user)
    assert "sk-...6789" in str(info.value)  # the entry is named, its key redacted


async def test_a_key_from_the_environment_is_scrubbed_too(
    entry_for: Entry, seen: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with ScriptedOpenAIServer([FAULTS["401"]]) as server:
        entry = entry_for(server)
        del entry["api_key"]
        client = OpenAIClient(entry)
        with pytest.raises(ParleyError) as info:
            await client.create([{"role": "user", "content": "hi"}])
    seen += shown(info.value, client)
    assert "Incorrect API key provided: sk-...6789" in str(info.value)


def test_a_server_that_cannot_be_reached_and_an_unregistered_client(
    entry_for: Entry, seen: list[str], closed_port: int
) -> None:
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    down = AssistantAgent("down", llm_config={"config_list": [entry_for(f"http://127.0.0.1:{closed_port}/v1")]})
    with pytest.raises(ParleyError) as unreachable:
        user.initiate_chat(down, message="hi")
    custom = {"model": "m", "model_client_cls": "NotRegistered", "api_key": FAKE_KEY}
    waiting = AssistantAgent("waiting", llm_config={"config_list": [custom]})
    with pytest.raises(ParleyError) as unregistered:
        user.initiate_chat(waiting, message="hi")
    seen += shown(unreachable.value, down, down.client) + shown(unregistered.value, waiting, waiting.client)


def test_redaction_is_precise_and_covers_urls_and_lists() -> None:
    from parley.exceptions import redact_config, redact_url

    shown = redact_config(
        {
            "model": "m",
            "api_key": "sk-abcdefghijklmnop1234",
            "max_tokens": 100,
            "base_url": "https://user:hunter2@example.test/v1",
            "extra": [{"token": "abc"}],
            "azure_ad_token": "zzzzzzzzzzzzzzzzzz",
        }
    )
    assert shown == {
        "model": "m",
        "api_key": "sk-...1234",
        "max_tokens": 100,
        "base_url": "https://***@example.test/v1",
        "extra": [{"token": "***"}],
        "azure_ad_token": "zzz...zzzz",
    }
    assert redact_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"
