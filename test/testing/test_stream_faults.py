"""The scripted server's stream faults: stream_pause, stream_cut and raw_events."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest

from parley.exceptions import ConfigError
from parley.testing import ScriptedModelClient, ScriptedOpenAIServer
from parley.testing._script import Reply, parse_reply


def test_stream_faults_parse() -> None:
    event = threading.Event()
    assert parse_reply({"content": "x", "stream_pause": {"after": 2, "until": event}}) == Reply(
        content="x", stream_pause=(2, event, 0.0)
    )
    assert parse_reply({"content": "x", "stream_pause": {"after": 1, "seconds": 3}}).stream_pause == (1, None, 3.0)
    assert parse_reply({"content": "x", "stream_cut": 4}).stream_cut == 4
    raw = parse_reply({"raw_events": ["{}", "[DONE]"], "stream_cut": 1})
    assert (raw.raw_events, raw.stream_cut) == (("{}", "[DONE]"), 1)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ({"content": "x", "stream_pause": {"after": 1}}, 'exactly one of "until"'),
        ({"content": "x", "stream_pause": {"after": 1, "seconds": 1, "until": threading.Event()}}, "exactly one"),
        ({"content": "x", "stream_pause": {"after": 1, "until": "soon"}}, "wait(timeout)"),
        ({"content": "x", "stream_pause": {"aftr": 1, "seconds": 1}}, "Did you mean 'after'?"),
        ({"content": "x", "stream_pause": {"after": -1, "seconds": 1}}, "number of events"),
        ({"content": "x", "stream_pause": 3}, '"stream_pause" must be'),
        ({"content": "x", "stream_cut": "3"}, '"stream_cut" must be'),
        ({"raw_events": "data"}, '"raw_events" must be a list of str'),
        ({"content": "x", "stream_cutt": 1}, "Did you mean 'stream_cut'?"),
    ],
)
def test_bad_stream_faults_are_rejected_clearly(reply: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reply(reply)
    assert needle in str(info.value)


def test_raw_events_only_mean_something_on_the_wire() -> None:
    with pytest.raises(ConfigError, match="raw HTTP body"):
        ScriptedModelClient([{"raw_events": ["{}"]}])


def _post_stream(base_url: str) -> bytes:
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: bytes = response.read()
    return data


@pytest.mark.timeout(30)
def test_raw_events_are_sent_verbatim() -> None:
    with ScriptedOpenAIServer([{"raw_events": ['{"a": 1}', "not json", "[DONE]"]}]) as server:
        data = _post_stream(server.base_url)
    assert data == b'data: {"a": 1}\n\ndata: not json\n\ndata: [DONE]\n\n'


@pytest.mark.timeout(30)
def test_closing_the_server_ends_a_paused_stream() -> None:
    never = threading.Event()
    server = ScriptedOpenAIServer([{"content": "held forever", "stream_pause": {"after": 1, "until": never}}])
    server.start()
    outcome: list[Any] = []

    def read() -> None:
        try:
            outcome.append(_post_stream(server.base_url))
        except Exception as exc:  # the connection is dropped mid-body
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    while server.request_count == 0:
        threading.Event().wait(0.01)
    server.close()
    reader.join(timeout=25)
    assert not reader.is_alive()
    assert outcome
