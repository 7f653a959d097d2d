"""ScriptedOpenAIServer through the real openai SDK: replies, SSE streaming, faults, lifecycle, CLI."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from parley.exceptions import ConfigError
from parley.testing import ScriptedOpenAIServer

HI: Any = [{"role": "user", "content": "hi there"}]


def sdk(server: ScriptedOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, **kwargs)


def post_raw(server: ScriptedOpenAIServer, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_a_text_reply_is_a_chat_completion() -> None:
    with ScriptedOpenAIServer(["Hello!"]) as server:
        completion = sdk(server).chat.completions.create(model="gpt-4o", messages=HI)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o"
    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content, choice.message.tool_calls) == ("assistant", "Hello!", None)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    # len("hi there") // 4 + 1 == 3 prompt tokens; len("Hello!") // 4 + 1 == 2 completion tokens
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        3,
        2,
        5,
    )


def test_a_tool_call_reply() -> None:
    reply = {
        "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "f", "arguments": "{}", "id": "c9"}]
    }
    with ScriptedOpenAIServer([reply]) as server:
        completion = sdk(server).chat.completions.create(model="gpt-4o-mini", messages=HI)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []]  # type: ignore[union-attr]
    assert calls == [("call_1_1", "add", '{"a": 1, "b": 2}'), ("c9", "f", "{}")]


def test_streamed_text_arrives_in_several_chunks_then_usage() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    with ScriptedOpenAIServer([text]) as server:
        stream = sdk(server).chat.completions.create(
            model="gpt-4o-mini", messages=HI, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == text
    assert len(pieces) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(text) // 4 + 1


def test_streamed_tool_calls_reassemble_by_index() -> None:
    reply = {
        "content": None,
        "tool_calls": [{"name": "search", "arguments": {"query": "parley docs", "limit": 5}}, {"name": "noop"}],
    }
    with ScriptedOpenAIServer([reply]) as server:
        chunks = list(sdk(server).chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    calls: dict[int, dict[str, str]] = {}
    argument_fragments = 0
    for chunk in chunks:
        assert chunk.usage is None
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            if delta.function is not None:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
                argument_fragments += bool(delta.function.arguments)
    assert calls == {
        0: {"id": "call_1_1", "name": "search", "arguments": '{"query": "parley docs", "limit": 5}'},
        1: {"id": "call_1_2", "name": "noop", "arguments": "{}"},
    }
    assert argument_fragments > 2
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_async_sdk_and_async_context_manager() -> None:
    async with ScriptedOpenAIServer(["one", "two"]) as server:
        client = openai.AsyncOpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        first = await client.chat.completions.create(model="m", messages=HI)
        stream = await client.chat.completions.create(model="m", messages=HI, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        await client.close()
    assert (first.choices[0].message.content, text) == ("one", "two")


def test_models_are_listed() -> None:
    with ScriptedOpenAIServer([], model="local-model") as server:
        assert [m.id for m in sdk(server).models.list()] == ["local-model"]
        assert sdk(server).models.retrieve("local-model").id == "local-model"


def test_requests_and_headers_are_recorded() -> None:
    with ScriptedOpenAIServer(["a", "b"]) as server:
        client = sdk(server)
        client.chat.completions.create(model="m", messages=HI, temperature=0)
        client.chat.completions.create(model="m", messages=[*HI, {"role": "user", "content": "again"}])
        assert server.request_count == 2
        assert server.requests[0] == {"model": "m", "messages": HI, "temperature": 0}
        assert server.requests[1]["messages"][-1]["content"] == "again"
        assert server.request_headers[0]["authorization"] == "Bearer sk-test"


def test_a_callable_script_answers_from_the_request() -> None:
    def script(body: dict[str, Any]) -> Any:
        return f"echo: {body['messages'][-1]['content']}"

    with ScriptedOpenAIServer(script) as server:
        completion = sdk(server).chat.completions.create(model="m", messages=HI)
    assert completion.choices[0].message.content == "echo: hi there"


def test_an_exhausted_script_answers_500_saying_so() -> None:
    with ScriptedOpenAIServer(["only"]) as server:
        client = sdk(server)
        client.chat.completions.create(model="m", messages=HI)
        with pytest.raises(openai.InternalServerError, match="script exhausted after 1 replies"):
            client.chat.completions.create(model="m", messages=HI)


def test_error_faults_are_http_errors() -> None:
    script = [
        {"error": {"status": 429, "message": "slow down"}},
        {"error": {"status": 503, "message": "busy", "headers": {"x-scripted": "yes"}}},
    ]
    with ScriptedOpenAIServer(script) as server:
        client = sdk(server)
        with pytest.raises(openai.RateLimitError, match="slow down"):
            client.chat.completions.create(model="m", messages=HI)
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="m", messages=HI)
    assert info.value.status_code == 503
    assert info.value.response.headers["x-scripted"] == "yes"


def test_raw_faults_are_sent_verbatim() -> None:
    with ScriptedOpenAIServer([{"raw": '{"id": "chatcmpl-1", "choi'}, {"raw_json": {"choices": []}}]) as server:
        assert post_raw(server, {"model": "m", "messages": HI}) == (200, b'{"id": "chatcmpl-1", "choi')
        completion = sdk(server).chat.completions.create(model="m", messages=HI)
    assert completion.choices == []


def test_a_delayed_reply_outlasts_a_short_client_timeout() -> None:
    with ScriptedOpenAIServer([{"delay": 30, "content": "too late"}]) as server, pytest.raises(openai.APITimeoutError):
        sdk(server, timeout=0.2).chat.completions.create(model="m", messages=HI)


def test_unknown_models_get_404_when_models_are_listed() -> None:
    with ScriptedOpenAIServer(["fine"], models=["gpt-4o-mini"]) as server:
        client = sdk(server)
        with pytest.raises(openai.NotFoundError, match="The model 'gpt-5-turbo' does not exist") as info:
            client.chat.completions.create(model="gpt-5-turbo", messages=HI)
        assert info.value.code == "model_not_found"
        assert client.chat.completions.create(model="gpt-4o-mini", messages=HI).choices[0].message.content == "fine"
        assert server.request_count == 2


def test_a_required_api_key_is_checked() -> None:
    with ScriptedOpenAIServer(["welcome"], api_key="sk-right") as server:
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key provided: sk-test"):
            sdk(server).chat.completions.create(model="m", messages=HI)
        client = openai.OpenAI(api_key="sk-right", base_url=server.base_url, max_retries=0)
        assert client.chat.completions.create(model="m", messages=HI).choices[0].message.content == "welcome"


def test_connections_are_kept_alive() -> None:
    with ScriptedOpenAIServer(["a", "b"]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps({"model": "m", "messages": HI})
        for expected in ("a", "b"):
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert not response.will_close
            assert json.loads(response.read())["choices"][0]["message"]["content"] == expected
        conn.close()


def test_unknown_routes_and_bad_bodies_get_openai_style_errors() -> None:
    with ScriptedOpenAIServer([]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/v1/completions", "{}")
        response = conn.getresponse()
        assert response.status == 404
        assert "No route" in json.loads(response.read())["error"]["message"]
        conn.request("POST", "/v1/chat/completions", "not json")
        response = conn.getresponse()
        assert response.status == 400
        assert "not valid JSON" in json.loads(response.read())["error"]["message"]
        conn.close()


def test_lifecycle_start_close_idempotent() -> None:
    server = ScriptedOpenAIServer(["x"])
    server.close()  # before start: nothing to do
    assert server.start() is server.start()
    base_url = server.base_url
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/v1")
    server.close()
    server.close()
    with pytest.raises(openai.APIConnectionError):
        openai.OpenAI(api_key="k", base_url=base_url, max_retries=0).chat.completions.create(model="m", messages=HI)


def test_a_bad_script_fails_at_construction() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'tool_calls'"):
        ScriptedOpenAIServer([{"tool_cals": []}])


def test_script_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(["from json"]))
    (tmp_path / "s.yaml").write_text("replies: [from yaml]\nmodels: [only-this]\n")
    with ScriptedOpenAIServer(tmp_path / "s.json") as server:
        assert sdk(server).chat.completions.create(model="m", messages=HI).choices[0].message.content == "from json"
    with ScriptedOpenAIServer(str(tmp_path / "s.yaml")) as server:
        assert [m.id for m in sdk(server).models.list()] == ["only-this"]
        with pytest.raises(openai.NotFoundError):
            sdk(server).chat.completions.create(model="m", messages=HI)


def _start_cli(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley.testing.openai_server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


@pytest.mark.timeout(60)
def test_cli_serves_a_yaml_script_until_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "replies.yaml"
    script.write_text("- Hello from the CLI\n- tool_calls:\n    - name: add\n      arguments: {a: 1, b: 2}\n")
    proc, base_url = _start_cli(["--script", str(script), "--model", "cli-model"])
    try:
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")
        client = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0)
        assert [m.id for m in client.models.list()] == ["cli-model"]
        first = client.chat.completions.create(model="cli-model", messages=HI)
        second = client.chat.completions.create(model="cli-model", messages=HI)
        assert first.choices[0].message.content == "Hello from the CLI"
        assert second.choices[0].message.tool_calls[0].function.arguments == '{"a": 1, "b": 2}'  # type: ignore[index, union-attr]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.mark.timeout(60)
def test_cli_takes_a_script_function(tmp_path: Path) -> None:
    (tmp_path / "my_script.py").write_text("def reply(body):\n    return 'n=%d' % len(body['messages'])\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc, base_url = _start_cli(["--script", "my_script:reply"], env=env)
    try:
        client = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0)
        assert client.chat.completions.create(model="m", messages=HI).choices[0].message.content == "n=1"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


@pytest.mark.timeout(60)
def test_cli_reports_a_bad_script(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "parley.testing.openai_server", "--script", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def _cli_env() -> dict[str, str]:
    """The parley under test first on the path (``-m`` also puts the working directory first)."""
    import parley

    return {**os.environ, "PYTHONPATH": str(Path(parley.__file__).parent.parent)}


@pytest.mark.timeout(60)
def test_cli_prints_nothing_when_a_client_resets_its_connection(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text('["one"]')
    proc, base_url = _start_cli(["--script", str(script)], env=_cli_env(), cwd=tmp_path)
    try:
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        body = json.dumps({"model": "m", "messages": HI}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert sock.recv(12) == b"HTTP/1.1 200"
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # a next request, cut off
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        assert openai.OpenAI(api_key="k", base_url=base_url, max_retries=0).models.list().data  # still serving
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert stderr == ""


@pytest.mark.timeout(60)
def test_cli_verbose_logs_each_request_and_its_reply(tmp_path: Path) -> None:
    script = tmp_path / "replies.yaml"
    script.write_text("- Hello from the CLI\n- error: {status: 429, message: slow down}\n")
    proc, base_url = _start_cli(["--script", str(script), "--verbose"], env=_cli_env(), cwd=tmp_path)
    try:
        client = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "first question"}])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=HI, stream=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    lines = [line.split(" ", 1)[1] if line[:2].isdigit() else line for line in stderr.splitlines()]
    assert lines[0] == "request 1: model=m messages=1 tools=0; last (user): first question"
    assert lines[1].startswith('  -> 200: {"id": "chatcmpl-1"')
    assert "Hello from the CLI" in lines[1]
    assert lines[2] == f"request 2: model=m messages=1 tools=0 stream; last (user): {HI[0]['content']}"
    assert lines[3].startswith("  -> 429: ")
    assert "slow down" in lines[3]
    assert len(lines) == 4


def test_the_azure_route_needs_an_api_version_and_takes_an_api_key_header() -> None:
    def post(url: str, key: str) -> tuple[int, Any]:
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}).encode()
        request = urllib.request.Request(url, data=body, headers={"api-key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    with ScriptedOpenAIServer(["first", "second"], api_key="k") as server:
        url = f"{server.azure_endpoint}/openai/deployments/dep/chat/completions"
        missing = post(url, "k")
        ok = post(url + "?api-version=2024-02-01", "k")
        wrong_key = post(url + "?api-version=2024-02-01", "x")
        paths = server.request_paths
    assert missing[0] == 404
    assert "api-version" in missing[1]["error"]["message"]
    assert ok[0] == 200
    assert ok[1]["choices"][0]["message"]["content"] == "first"
    assert wrong_key[0] == 401
    assert paths == ["/openai/deployments/dep/chat/completions?api-version=2024-02-01"] * 2
