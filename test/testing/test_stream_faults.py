"""The scripted server's stream faults (stream_pause, stream_cut, raw_events, keep_alive) and trickle."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
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


def test_pace_faults_parse() -> None:
    assert parse_reply({"content": "x", "trickle": {"every": 0.5}}).trickle == ("byte", 0.5, False)
    assert parse_reply({"raw": "x", "trickle": {"every": 1, "headers": True}}).trickle == ("byte", 1.0, True)
    assert parse_reply({"content": "x", "trickle": {"every": 0.1, "by": "event"}}).trickle == ("event", 0.1, False)
    assert parse_reply({"error": {"status": 500}, "trickle": {"every": 2}}).trickle == ("byte", 2.0, False)
    assert parse_reply({"content": "x", "keep_alive": {"every": 0.5}}).keep_alive == (0, 0.5)
    assert parse_reply({"raw_events": ["{}"], "keep_alive": {"every": 1, "after": 1}}).keep_alive == (1, 1.0)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ({"content": "x", "trickle": 0.5}, '"trickle" must be {"every": s'),
        ({"content": "x", "trickle": {"every": 0}}, '"trickle.every" must be a number of seconds > 0'),
        ({"content": "x", "trickle": {"evry": 1}}, "Did you mean 'every'?"),
        ({"content": "x", "trickle": {"every": 1, "by": "line"}}, '"trickle.by" must be "byte" or "event"'),
        ({"content": "x", "trickle": {"every": 1, "by": "event", "headers": True}}, 'only with "by": "byte"'),
        ({"content": "x", "keep_alive": {"after": 2}}, '"keep_alive.every" must be a number of seconds > 0'),
        ({"content": "x", "keep_alive": {"every": 1, "after": -1}}, '"keep_alive.after" must be a number of events'),
        ({"content": "x", "keep_alive": True}, '"keep_alive" must be {"every": s'),
        ({"content": "x", "keepalive": {"every": 1}}, "Did you mean 'keep_alive'?"),
    ],
)
def test_bad_pace_faults_are_rejected_clearly(reply: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reply(reply)
    assert needle in str(info.value)


def _post(base_url: str, *, stream: bool) -> tuple[int, bytes]:
    body = json.dumps({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@pytest.mark.parametrize(
    ("reply", "stream", "expected"),
    [
        ({"raw": '{"slow": true}', "trickle": {"every": 0.005}}, False, b'{"slow": true}'),
        ({"raw": '{"slow": true}', "trickle": {"every": 0.002, "headers": True}}, False, b'{"slow": true}'),
        (
            {"raw_events": ['{"a": 1}', '{"b": 2}', "[DONE]"], "trickle": {"every": 0.01, "by": "event"}},
            True,
            b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n',
        ),
    ],
    ids=["body", "headers", "events"],
)
@pytest.mark.timeout(30)
def test_a_trickled_answer_arrives_whole(reply: dict[str, Any], stream: bool, expected: bytes) -> None:
    with ScriptedOpenAIServer([reply]) as server:
        assert _post(server.base_url, stream=stream) == (200, expected)


@pytest.mark.timeout(30)
def test_keep_alive_comments_follow_the_events_until_the_client_hangs_up(capfd: pytest.CaptureFixture[str]) -> None:
    reply = {"raw_events": ['{"a": 1}', "[DONE]"], "keep_alive": {"every": 0.01, "after": 1}}
    expected = b'data: {"a": 1}\n\n' + b": keep-alive\n\n" * 3
    with ScriptedOpenAIServer([reply, "next"]) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        body = json.dumps({"model": "m", "stream": True, "messages": []})
        connection.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.read(len(expected)) == expected  # and more would follow, forever
        connection.close()
        status, data = _post(server.base_url, stream=False)  # the server still answers
    assert (status, json.loads(data)["choices"][0]["message"]["content"]) == (200, "next")
    assert capfd.readouterr().err == ""  # the hang-up is no error on the server's side


@pytest.mark.timeout(30)
def test_keep_alive_needs_a_streamed_request() -> None:
    with ScriptedOpenAIServer([{"content": "x", "keep_alive": {"every": 1}}]) as server:
        status, data = _post(server.base_url, stream=False)
    assert status == 500
    assert '\\"keep_alive\\" needs a streamed request' in data.decode()
