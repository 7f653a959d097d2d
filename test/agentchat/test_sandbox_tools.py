"""Sandbox tools (bash, python, read_file, write_file) in real chats: the openai SDK against the scripted
server, the calls run on a real local executor, a pool of local executors and a pool of real kernels.

What is asserted is what the model read back (the tool messages of the next request) and what is
on disk afterwards; escapes must come back as "Error: ..." and leave everything outside untouched.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from parley import ConversableAgent
from parley.agentchat import SandboxTools, register_sandbox_tools
from parley.coding import ExecutionDispatcher, ExecutorPool, LocalCommandLineCodeExecutor
from parley.exceptions import ArtifactError, ConfigError
from parley.testing import ScriptedOpenAIServer


def agent(name: str, llm_config: Any = False) -> ConversableAgent:
    return ConversableAgent(name, llm_config=llm_config, human_input_mode="NEVER", silent=True)


def config(server: ScriptedOpenAIServer) -> dict[str, Any]:
    return {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}]}


def turn(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One model reply calling ``calls`` (ids c<turn>_<n> are filled in by `script`)."""
    return {"content": None, "tool_calls": [{"name": name, "arguments": args} for name, args in calls]}


def script(*turns: dict[str, Any]) -> list[Any]:
    replies: list[Any] = []
    for t, reply in enumerate(turns):
        calls = [{"id": f"c{t}_{n}", **call} for n, call in enumerate(reply["tool_calls"])]
        replies.append({"content": None, "tool_calls": calls})
    return [*replies, "Done. TERMINATE"]


def tool_texts(requests: list[dict[str, Any]]) -> list[str]:
    """What the model read back: the tool messages of every request, in order."""
    seen: list[str] = []
    before = 0
    for request in requests:
        tool_messages = [m["content"] for m in request["messages"] if m["role"] == "tool"]
        if len(tool_messages) < before:  # a new chat
            before = 0
        seen.extend(tool_messages[before:])
        before = len(tool_messages)
    return seen


FOUR_TOOLS = script(
    turn(("write_file", {"path": "data/n.txt", "content": "41"})),
    turn(("python", {"code": "print(int(open('data/n.txt').read()) + 1)"}), ("bash", {"command": "ls data; exit 3"})),
    turn(("read_file", {"path": "data/n.txt"})),
)


def test_the_four_tools_in_a_real_chat_on_a_local_executor(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with ScriptedOpenAIServer(FOUR_TOOLS) as server, LocalCommandLineCodeExecutor(work_dir=work, timeout=30) as local:
        assistant, proxy = agent("assistant", config(server)), agent("proxy")
        tools = register_sandbox_tools(caller=assistant, executor=proxy, sandbox=local)
        proxy.initiate_chat(assistant, message="Add one to the number.")
        requests = server.requests

    assert isinstance(tools, SandboxTools)
    assert [t["function"]["name"] for t in requests[0]["tools"]] == ["bash", "python", "read_file", "write_file"]
    bash = next(t for t in requests[0]["tools"] if t["function"]["name"] == "bash")["function"]["parameters"]
    assert bash["required"] == ["command"]
    assert set(bash["properties"]) == {"command", "timeout"}
    assert tool_texts(requests) == [
        "Wrote 2 bytes to data/n.txt.",
        "exit code 0\n42\n",
        "exit code 3\nn.txt\n",
        "41",
    ]
    assert (work / "data" / "n.txt").read_text() == "41"


async def test_on_a_pool_each_chat_has_its_own_slot_shared_with_its_code_and_given_back_at_its_end(
    tmp_path: Path,
) -> None:
    replies = [
        *script(turn(("write_file", {"path": "data/n.txt", "content": "41"})))[:-1],
        "```python\nprint(int(open('data/n.txt').read()) + 1)\n```",  # the proxy runs it in the chat's slot
        *script(turn(("bash", {"command": "cat data/n.txt"}))),
        # the second chat, same agents: a fresh slot
        *script(turn(("read_file", {"path": "data/n.txt"}))),
    ]
    async with ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 30}) as pool:
        with ScriptedOpenAIServer(replies) as server:
            assistant = agent("assistant", config(server))
            proxy = ConversableAgent(
                "proxy",
                llm_config=False,
                human_input_mode="NEVER",
                code_execution_config={"executor": pool},
                silent=True,
            )
            tools = register_sandbox_tools(caller=assistant, executor=proxy, sandbox=pool)
            await proxy.a_initiate_chat(assistant, message="Add one to the number.")
            after_first = pool.stats()
            await proxy.a_initiate_chat(assistant, message="Is the number still there?")
            requests = server.requests
        after_second = pool.stats()

        texts = tool_texts(requests)
        assert texts[:2] == ["Wrote 2 bytes to data/n.txt.", "exit code 0\n41"]
        assert "42" in requests[2]["messages"][-1]["content"]  # the code block saw the tool's file
        assert texts[2].startswith("Error: 'data/n.txt' does not exist in the sandbox's slot")
        assert (after_first.leased, after_first.resets) == (0, 1)  # given back, reset, when the chat ended
        assert (after_second.leased, after_second.resets) == (0, 2)

        # outside a chat the tools use a key of their own, kept until a_release
        assert await tools.write_file("kept.txt", "k") == "Wrote 1 bytes to kept.txt."
        assert await pool.read_artifact(tools.key, "kept.txt") == b"k"
        assert pool.stats().leased == 1
        await tools.a_release()
        assert pool.stats().leased == 0
        with pytest.raises(ArtifactError, match="holds no slot"):
            await pool.read_artifact(tools.key, "kept.txt")


async def test_through_a_dispatcher_in_a_chat_timeouts_are_clamped_to_its_range(tmp_path: Path) -> None:
    replies = script(
        turn(("write_file", {"path": "w.txt", "content": "via the queue"})),
        turn(("bash", {"command": "cat w.txt"})),
        turn(("bash", {"command": "sleep 60", "timeout": 1000})),
    )
    pool = ExecutorPool("local", size=1, base_dir=tmp_path / "pool", options={"timeout": 30})
    async with pool, ExecutionDispatcher(pool, batch_window_ms=0, timeout_range=(0.5, 1)) as dispatcher:
        with ScriptedOpenAIServer(replies) as server:
            assistant, proxy = agent("assistant", config(server)), agent("proxy")
            register_sandbox_tools(caller=assistant, executor=proxy, sandbox=dispatcher)
            await proxy.a_initiate_chat(assistant, message="Use the queue.")
            requests = server.requests
        assert pool.stats().leased == 0  # the chat's session was released at its end
    texts = tool_texts(requests)
    assert texts[:2] == ["Wrote 13 bytes to w.txt.", "exit code 0\nvia the queue"]
    assert texts[2].startswith("exit code 124\nTimeout after 1 s (this request's deadline)")


@pytest.mark.kernel
@pytest.mark.timeout(120)
async def test_python_state_persists_in_a_kernel_slot_and_timeouts_are_clamped(tmp_path: Path) -> None:
    require(all(importlib.util.find_spec(m) for m in ("jupyter_client", "ipykernel")), "an ipykernel kernel")
    replies = script(
        turn(("python", {"code": "x = 41"})),
        turn(("python", {"code": "print(x + 1)", "timeout": 1000})),
        turn(("python", {"code": "import time\ntime.sleep(60)", "timeout": 0.5})),
        turn(("python", {"code": "print(x)"})),
    )
    async with ExecutorPool("ipython-embedded", size=1, base_dir=tmp_path / "pool", options={"timeout": 20}) as pool:
        with ScriptedOpenAIServer(replies) as server:
            assistant, proxy = agent("assistant", config(server)), agent("proxy")
            tools = register_sandbox_tools(caller=assistant, executor=proxy, sandbox=pool, key="chat-1")
            await proxy.a_initiate_chat(assistant, message="Keep a variable.")
            requests = server.requests
        await tools.a_release()
    texts = tool_texts(requests)
    assert texts[0] == "exit code 0\n"
    assert texts[1] == "Note: timeout 1000 s is over this sandbox's limit; 20 s applied.\nexit code 0\n42\n"
    assert texts[2].startswith("exit code 124\nTimeout after 0.5 s (the timeout you asked for)")
    assert texts[3] == "exit code 0\n41\n"  # interrupted, not restarted: the state is kept


def test_paths_outside_the_slot_are_errors_the_model_reads_and_nothing_outside_changes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("host secret")
    work = tmp_path / "work"
    replies = script(
        turn(("bash", {"command": f"ln -s {secret} link.txt && ln -s {outside} linkdir && echo planted"})),
        turn(
            ("read_file", {"path": "../outside/secret.txt"}),
            ("read_file", {"path": str(secret)}),
            ("read_file", {"path": "link.txt"}),
            ("read_file", {"path": "linkdir/secret.txt"}),
        ),
        turn(
            ("write_file", {"path": "../outside/new.txt", "content": "x"}),
            ("write_file", {"path": str(outside / "new.txt"), "content": "x"}),
            ("write_file", {"path": "link.txt", "content": "overwritten"}),
            ("write_file", {"path": "linkdir/new.txt", "content": "x"}),
        ),
    )
    with ScriptedOpenAIServer(replies) as server, LocalCommandLineCodeExecutor(work_dir=work, timeout=30) as local:
        assistant, proxy = agent("assistant", config(server)), agent("proxy")
        register_sandbox_tools(caller=assistant, executor=proxy, sandbox=local)
        proxy.initiate_chat(assistant, message="Try to escape.")
        requests = server.requests

    texts = tool_texts(requests)
    assert texts[0] == "exit code 0\nplanted\n"
    refusals = texts[1:]
    assert len(refusals) == 8
    for text in refusals:
        assert text.startswith("Error: "), text
        assert "host secret" not in text
    assert "outside the sandbox's slot" in refusals[0]
    assert "outside the sandbox's slot" in refusals[1]
    assert "symbolic link (link.txt), which is not followed" in refusals[2]
    assert "symbolic link (linkdir), which is not followed" in refusals[3]
    assert "outside the sandbox's slot" in refusals[4]
    assert "outside the sandbox's slot" in refusals[5]
    assert "symbolic link (link.txt)" in refusals[6]
    assert "symbolic link (linkdir)" in refusals[7]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert secret.read_text() == "host secret"
    assert (work / "link.txt").is_symlink()  # left as planted, not written through or replaced


async def test_read_file_is_bounded_and_refuses_binary(tmp_path: Path) -> None:
    with LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=30) as local:
        tools = SandboxTools(local, "k", max_read_bytes=1000, max_read_chars=100)
        (tmp_path / "long.txt").write_text("".join(f"{i:04d}\n" for i in range(150)))  # 750 bytes
        text = await tools.read_file("long.txt")
        assert text.startswith("0000\n0001\n")
        assert text.endswith("0148\n0149\n")
        assert "[... 650 characters of long.txt cut; read the rest with bash" in text
        (tmp_path / "big.txt").write_text("x" * 1001)
        assert (await tools.read_file("big.txt")).startswith("Error: 'big.txt' is over the limit of 1,000 bytes")
        (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
        assert (await tools.read_file("blob.bin")).startswith("Error: 'blob.bin' is a binary file (3 bytes)")
        assert (await tools.bash("echo hi", timeout=-1)).startswith("Error: timeout must be a positive number")


async def test_a_closed_pool_and_bad_arguments(tmp_path: Path) -> None:
    pool = ExecutorPool("local", size=1, base_dir=tmp_path / "pool")
    await pool.a_close()
    tools = SandboxTools(pool, "k", max_read_bytes=1000, max_read_chars=1000)
    assert (await tools.bash("echo hi")).startswith("Error: This ExecutorPool is closed")
    assert (await tools.write_file("a.txt", "x")).startswith("Error: This ExecutorPool is closed")
    assistant = agent("assistant", {"config_list": [{"model": "m", "api_key": "sk-test"}]})
    with pytest.raises(ConfigError, match="tools must name some of bash, python, read_file, write_file"):
        register_sandbox_tools(caller=assistant, executor=agent("proxy"), sandbox=pool, tools=("sh",))
    with pytest.raises(ConfigError, match="sandbox must be an ExecutorPool, an ExecutionDispatcher or a code executor"):
        register_sandbox_tools(caller=assistant, executor=agent("proxy"), sandbox=object())  # type: ignore[arg-type]


@pytest.mark.docker
@pytest.mark.timeout(180)
async def test_on_a_docker_executor_the_containers_own_paths_name_the_slot(tmp_path: Path) -> None:
    from coding._docker_env import SANDBOX_IMAGE, require_docker

    from parley.coding import DockerCommandLineCodeExecutor

    require_docker()
    async with DockerCommandLineCodeExecutor(image=SANDBOX_IMAGE, work_dir=tmp_path / "work", timeout=30) as docker:
        tools = SandboxTools(docker, "k", max_read_bytes=1000, max_read_chars=1000)
        assert (
            await tools.write_file("/workspace/in/b.txt", "from the host") == "Wrote 13 bytes to /workspace/in/b.txt."
        )
        assert await tools.bash("pwd; cat in/b.txt; echo made > /workspace/a.txt") == (
            "exit code 0\n/workspace\nfrom the host"
        )
        assert await tools.read_file("/workspace/a.txt") == "made\n"
        assert await tools.read_file("a.txt") == "made\n"
        assert (await tools.read_file("/etc/hostname")).startswith(
            "Error: '/etc/hostname' is outside the sandbox's slot"
        )
