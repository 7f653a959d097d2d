"""Model servers that are slow but never silent: trickled bytes and headers, keep-alive comments forever.

Each chat runs through the real openai SDK over HTTP against the scripted server. ``timeout``
bounds each attempt from connecting to the last byte, and ``stream_chunk_timeout`` the wait for
each chunk of a stream, so every chat here ends, with one clear error or with the whole reply.
pytest-timeout bounds each test; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from parley import AssistantAgent, UserProxyAgent
from parley.agentchat.io import IOStream, ScriptedIOStream
from parley.exceptions import ModelConnectionError
from parley.testing import ScriptedOpenAIServer

from .conftest import SECRET

Entry = Callable[..., dict[str, Any]]
DONE = "Done. TERMINATE"
STEADY = "one two three four five six seven eight nine ten eleven twelve. TERMINATE"


def agents(entries: list[dict[str, Any]], **llm: Any) -> tuple[AssistantAgent, UserProxyAgent]:
    assistant = AssistantAgent("assistant", llm_config={"config_list": entries, **llm})
    user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
    return assistant, user


def failed_chat(entries: list[dict[str, Any]], **llm: Any) -> str:
    """Run a chat that must end with a ModelConnectionError; return its text, checked for the key."""
    assistant, user = agents(entries, **llm)
    with pytest.raises(ModelConnectionError) as info:
        user.initiate_chat(assistant, message="Do the task.", silent=True)
    text = str(info.value)
    assert SECRET not in text + repr(info.value)
    return text


@pytest.mark.parametrize(
    "trickle",
    [{"every": 0.2}, {"every": 0.2, "headers": True}],
    ids=["body", "headers"],
)
@pytest.mark.timeout(30)
def test_a_reply_that_trickles_ends_the_chat_when_the_attempt_runs_out(
    entry_for: Entry, trickle: dict[str, Any]
) -> None:
    with ScriptedOpenAIServer([{"content": "x" * 400, "trickle": trickle}]) as server:
        text = failed_chat([entry_for(server, timeout=1)])
        assert server.request_count == 1
    assert f"The model server at {server.base_url} sent no complete reply within 1 s" in text
    assert '"timeout"' in text


@pytest.mark.parametrize("after", [0, 3], ids=["before-any-chunk", "after-3-chunks"])
@pytest.mark.timeout(30)
def test_keep_alive_comments_forever_end_the_chat_when_the_attempt_runs_out(entry_for: Entry, after: int) -> None:
    with ScriptedOpenAIServer([{"content": "never ends", "keep_alive": {"every": 0.1, "after": after}}]) as server:
        text = failed_chat([entry_for(server, timeout=1)], stream=True)
    assert f"The model server at {server.base_url} sent no complete reply within 1 s" in text
    assert ("The stream broke after 3 chunk(s)." in text) == (after == 3)


@pytest.mark.parametrize(
    "fault",
    [
        {"stream_pause": {"after": 3, "until": threading.Event()}},  # never set: silent until the server closes
        {"keep_alive": {"every": 0.1, "after": 3}},  # comments do not count as chunks
    ],
    ids=["silent", "keep-alive"],
)
@pytest.mark.timeout(30)
def test_a_stream_that_stalls_mid_reply_ends_by_stream_chunk_timeout(entry_for: Entry, fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([{"content": "some words and then nothing", **fault}]) as server:
        text = failed_chat([entry_for(server, timeout=120, stream_chunk_timeout=0.5)], stream=True)
    assert f"The model server at {server.base_url} sent no chunk for 0.5 s" in text
    assert '"stream_chunk_timeout"' in text
    assert "after 3 chunk(s)" in text


@pytest.mark.timeout(60)
def test_a_slow_but_steady_stream_is_not_cut(entry_for: Entry) -> None:
    # One event every 0.25 s: each gap is well inside stream_chunk_timeout, the whole stream is not.
    with ScriptedOpenAIServer([{"content": STEADY, "trickle": {"every": 0.25, "by": "event"}}]) as server:
        assistant, user = agents([entry_for(server, timeout=120, stream_chunk_timeout=1.5)], stream=True)
        io = ScriptedIOStream()
        with IOStream.set_default(io):
            result = user.initiate_chat(assistant, message="Count.")
        assert "stream_chunk_timeout" not in server.requests[0]  # a client setting, never sent to the server
    assert result.chat_history[-1]["content"] == STEADY
    tokens = io.output[io.output.index("assistant (to user):\n\n") + 1 :]
    assert tokens[:3] == ["one ", "two ", "three "]  # streamed token by token, under the speaker's header


@pytest.mark.parametrize(
    ("fault", "stream"),
    [
        ({"content": "x" * 400, "trickle": {"every": 0.2}}, False),
        ({"content": "late", "trickle": {"every": 0.2, "headers": True}}, True),
    ],
    ids=["trickled-body", "trickled-stream-headers"],
)
@pytest.mark.timeout(30)
def test_the_sdk_retries_an_attempt_that_ran_out(entry_for: Entry, fault: dict[str, Any], stream: bool) -> None:
    with ScriptedOpenAIServer([fault, DONE]) as server:
        assistant, user = agents([entry_for(server, timeout=1, max_retries=1)], stream=stream)
        result = user.initiate_chat(assistant, message="Do the task.", silent=True)
        assert server.request_count == 2
    assert result.chat_history[-1]["content"] == DONE


@pytest.mark.timeout(30)
def test_a_stream_with_keep_alives_forever_falls_back_to_the_next_entry(entry_for: Entry) -> None:
    with (
        ScriptedOpenAIServer([{"content": "never", "keep_alive": {"every": 0.1, "after": 2}}]) as endless,
        ScriptedOpenAIServer([DONE]) as backup,
    ):
        assistant, user = agents([entry_for(endless, timeout=1), entry_for(backup)], stream=True)
        result = user.initiate_chat(assistant, message="Do the task.", silent=True)
        assert (endless.request_count, backup.request_count) == (1, 1)
    assert result.chat_history[-1]["content"] == DONE


@pytest.mark.timeout(60)
async def test_a_trickled_chat_does_not_hold_up_another_chat_on_the_same_loop(entry_for: Entry) -> None:
    turns = iter(["First.", "Second.", DONE])
    asked = threading.Event()

    def trickle(body: dict[str, Any]) -> dict[str, Any]:
        asked.set()
        return {"content": "x" * 400, "trickle": {"every": 0.2}}

    with (
        ScriptedOpenAIServer(trickle) as trickling,
        ScriptedOpenAIServer(lambda body: next(turns)) as quick,
    ):
        slow_assistant, slow_user = agents([entry_for(trickling, timeout=5)])
        slow = asyncio.create_task(slow_user.a_initiate_chat(slow_assistant, message="Slowly.", silent=True))
        assert await asyncio.to_thread(asked.wait, 30)  # the slow chat's request is being trickled
        assistant, user = agents([entry_for(quick)])
        result = await user.a_initiate_chat(assistant, message="Quickly.", silent=True)
        assert not slow.done()  # the quick chat finished while the slow one was still being trickled
        with pytest.raises(ModelConnectionError, match="sent no complete reply within 5 s"):
            await slow
    assert result.chat_history[-1]["content"] == DONE
    assert quick.request_count == 3


def test_each_timeout_is_named_for_what_ran_out() -> None:
    import httpx2

    from parley.llm._http import AttemptTimeout, sdk_timeout, timed_out
    from parley.llm.config import DEFAULT_TIMEOUT

    default = sdk_timeout(None)  # no "timeout" in the entry
    assert (default.read, default.connect, DEFAULT_TIMEOUT) == (600, 5, 600)
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat", extensions={"timeout": default.as_dict()})
    assert timed_out(httpx2.ConnectTimeout("slow", request=request), request) == "accepted no connection within 5 s"
    assert timed_out(AttemptTimeout(2, request=request), request).startswith("sent no complete reply within 2 s (")
    assert timed_out(httpx2.ReadTimeout("quiet", request=request), request).startswith(
        "sent no complete reply within 600 s ("
    )
