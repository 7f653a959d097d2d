"""The console shows what models and their code print, and obeys none of it.

A chat runs through `IOConsole` writing to a file, as a terminal would receive it: streamed model
tokens, model messages, the output of model-written code run by the local executor, tool calls
and tool results all carry escape sequences and rich markup. None of their control characters
reaches the file; parley's own colours (syntax highlighting of fenced code) still do.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from parley import AssistantAgent, UserProxyAgent, register_function
from parley.agentchat.io import HIGHLIGHT_LIMIT, IOConsole, IOStream, ScriptedIOStream
from parley.testing import ScriptedOpenAIServer

TITLE = "\x1b]0;pwned\x07"  # sets the terminal's window title
WIPE = "\x1b[2J\x1b[3J"  # clears the screen and its scrollback
RED = "\x1b[31m"  # a colour the model chose
HYPERLINK = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b2J"  # one-character CSI
MARKUP = "[bold red]fake[/bold red] [link=https://evil.example]here[/link]"

# parley's own styling: rich's SGR colour sequences around highlighted code.
SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal() -> tuple[IOConsole, io.StringIO]:
    file = io.StringIO()
    return IOConsole(Console(file=file, force_terminal=True, color_system="standard")), file


def assert_obeys_nothing(shown: str) -> None:
    """Every control character in ``shown`` is part of parley's own colours."""
    assert SGR.search(shown), "parley's syntax colours are missing"
    assert CONTROL.findall(SGR.sub("", shown)) == []
    for raw in (TITLE, WIPE, RED, HYPERLINK, C1, "\r", "\x08"):
        assert raw not in shown


@pytest.mark.timeout(60)
def test_a_chat_through_the_console_shows_escape_sequences_without_obeying_them(tmp_path: Path) -> None:
    code = "print('\\x1b]0;owned\\x07' + '\\x1b[2J\\x1b[3J' + 'spoofed\\rreal' + '\\x1b[31mred')"
    message = f"Look {TITLE}{WIPE} {RED}red {HYPERLINK} {C1} {MARKUP}\n\n```python\n{code}\n```"
    console, file = terminal()
    with ScriptedOpenAIServer([message, "Done.\r\x08 TERMINATE"]) as server:
        entry = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test", "max_retries": 0}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry], "stream": True})
        user = UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path), "timeout": 30}},
        )
        with IOStream.set_default(console):
            result = user.initiate_chat(assistant, message="Clear my screen:\n```sh\nclear\n```")
    assert "\x1b]0;owned\x07" in str(result.chat_history[2]["content"])  # the model reads the output as it was
    shown = file.getvalue()
    assert_obeys_nothing(shown)
    # The operator reads exactly what was sent: the model's message, streamed once under its header ...
    assert shown.count("Look \\x1b]0;pwned\\x07\\x1b[2J\\x1b[3J \\x1b[31mred") == 1
    assert shown.count("assistant (to user):\n\nLook \\x1b]0;pwned") == 1
    assert shown.count("\\x1b]8;;https://evil.example\\x1b\\click\\x1b]8;;\\x1b\\ \\x9b2J") == 1
    assert shown.count(MARKUP) == 1  # rich markup shown as typed
    # ... and the code's output.
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b[3Jspoofed\\x0dreal\\x1b[31mred" in shown
    assert "Done.\\x0d\\x08 TERMINATE" in shown


@pytest.mark.timeout(60)
def test_tool_calls_and_results_are_shown_without_obeying_them() -> None:
    calls = [{"id": f"call{WIPE}", "name": "lookup", "arguments": {"key": f"k{TITLE}"}}]
    console, file = terminal()
    with ScriptedOpenAIServer([{"content": None, "tool_calls": calls}, f"```python\nx = 1\n```\n{RED} TERMINATE"]) as s:
        entry = {"model": "gpt-4o-mini", "base_url": s.base_url, "api_key": "sk-test", "max_retries": 0}
        assistant = AssistantAgent("assistant", llm_config={"config_list": [entry]})
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)

        def lookup(key: str) -> str:
            """Look a key up."""
            return f"value of {key}: {HYPERLINK}{C1}"

        register_function(lookup, caller=assistant, executor=user)
        with IOStream.set_default(console):
            user.initiate_chat(assistant, message="Look it up.")
    shown = file.getvalue()
    assert_obeys_nothing(shown)
    assert "***** Suggested tool call (call\\x1b[2J\\x1b[3J): lookup *****" in shown
    assert '"key": "k\\u001b]0;pwned\\u0007"' in shown  # pretty-printed JSON escapes them itself
    assert "value of k\\x1b]0;pwned\\x07: \\x1b]8;;https://evil.example" in shown


def test_text_that_is_not_a_terminal_is_made_safe_too() -> None:
    file = io.StringIO()
    console = IOConsole(Console(file=file, force_terminal=False))
    console.print(f"{TITLE}{WIPE}", f"{C1}\r\n{MARKUP}", "\u202eevil", end="!\n")
    console.print("```python\nprint(1)\n```")  # no colours without a terminal
    assert file.getvalue() == (
        "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[3J \\x9b2J\n" + MARKUP + " \\u202eevil!\n```python\nprint(1)\n```\n"
    )
    recorded = ScriptedIOStream()  # tests read what agents printed exactly as it was
    recorded.print(f"{TITLE}{WIPE}")
    assert recorded.output == [f"{TITLE}{WIPE}\n"]


def test_the_default_console_writes_to_stdout(capsys: Any) -> None:
    IOConsole().print(f"out {WIPE}")
    assert capsys.readouterr().out == "out \\x1b[2J\\x1b[3J\n"


@pytest.mark.timeout(30)
def test_a_long_message_is_printed_without_colours() -> None:
    """Colouring costs about 25 µs per character: a model's 200 KB block held the console for 5 s."""
    console, file = terminal()
    short = "```python\nx = [1, 2, 3]\n```"
    long = "```python\n" + "x = [1, 2, 3]\n" * (200_000 // 14) + f"print('{WIPE}')\n```"
    assert len(long) > HIGHLIGHT_LIMIT
    console.print(short)
    assert SGR.search(file.getvalue())
    file.truncate(0)
    file.seek(0)
    console.print(long)
    assert file.getvalue() == long.replace(WIPE, "\\x1b[2J\\x1b[3J") + "\n"


def test_code_is_coloured_with_the_terminals_own_palette() -> None:
    """Only the 16 ANSI colours (which each terminal theme defines), never fixed RGB or 256-colour
    values that vanish on a light or a dark background."""
    import io
    import re

    from rich.console import Console

    file = io.StringIO()
    console = IOConsole(Console(file=file, force_terminal=True, color_system="truecolor"))
    console.print("Here:\n```python\nimport os\nname = 'x'  # note\nprint(name, 42)\n```\n")
    codes = re.findall(r"\x1b\[([0-9;]*)m", file.getvalue())
    assert codes  # it is coloured
    for code in codes:
        assert ";2;" not in code
        assert not code.startswith(("38;5", "48;5", "38;2", "48;2"))
        assert all(
            part in {"", "0", "1", "2", "3", "4", "22", "23", "24", "39", "49"}
            or 30 <= int(part) <= 37
            or 90 <= int(part) <= 97
            for part in code.split(";")
        ), code


def test_plain_text_to_stdout_goes_through_the_builtin_print(monkeypatch: pytest.MonkeyPatch) -> None:
    """AutoGen 0.2's console calls ``print``; code that patches it (0.2's own tests, notebook tools) sees each line."""
    import builtins

    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(builtins, "print", lambda *args, **kwargs: calls.append((args, kwargs)))
    IOConsole().print("Hello, \x1b[2JWorld!", flush=True)
    assert calls == [(("Hello, \\x1b[2JWorld!",), {"end": "\n", "sep": " ", "flush": True})]
