"""Kernel messages as data: scripted IOPub message lists, no kernel.

The message shapes are those of the Jupyter messaging spec as jupyter_client delivers them.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from parley.coding._output import OutputBudget
from parley.coding.jupyter._collect import OutputCollector
from parley.coding.jupyter._html_text import HTML_TEXT_LIMIT, html_to_text
from parley.coding.jupyter._messages import (
    KernelDisplay,
    KernelError,
    KernelIdle,
    KernelOutput,
    KernelText,
    parse_iopub,
    render_bundle,
    strip_ansi,
)
from parley.coding.jupyter._shell import (
    EXIT_ERROR_NAME,
    HELPER_NAME,
    SHELL_HELPER_SOURCE,
    is_missing_helper,
    shell_call,
    shell_cell,
)

MSG_ID = "exec-1"
PNG = b"\x89PNG\r\n\x1a\n fake png body"


def msg(msg_type: str, content: dict[str, Any], parent: str = MSG_ID) -> dict[str, Any]:
    return {
        "header": {"msg_type": msg_type, "msg_id": f"{msg_type}-x"},
        "msg_type": msg_type,
        "parent_header": {"msg_id": parent},
        "content": content,
    }


def parse_all(messages: list[dict[str, Any]]) -> list[KernelOutput]:
    """Collect one execution's outputs up to and including idle, as an executor does."""
    out: list[KernelOutput] = []
    for m in messages:
        item = parse_iopub(m, MSG_ID)
        if item is not None:
            out.append(item)
        if isinstance(item, KernelIdle):
            break
    return out


# --- parse_iopub ----------------------------------------------------------------------------------


def test_a_whole_execution_in_order() -> None:
    messages = [
        msg("status", {"execution_state": "busy"}),
        msg("execute_input", {"code": "print(1); 1 + 1", "execution_count": 1}),
        msg("stream", {"name": "stdout", "text": "1\n"}),
        msg("stream", {"name": "stderr", "text": "warning\n"}),
        msg("execute_result", {"data": {"text/plain": "2"}, "metadata": {}, "execution_count": 1}),
        msg("status", {"execution_state": "idle"}),
        msg("stream", {"name": "stdout", "text": "after idle\n"}),
    ]
    assert parse_all(messages) == [
        KernelText("1\n", "stdout"),
        KernelText("warning\n", "stderr"),
        KernelDisplay({"text/plain": "2"}),
        KernelIdle(),
    ]


def test_messages_of_other_executions_are_ignored() -> None:
    messages = [
        msg("stream", {"name": "stdout", "text": "someone else's\n"}, parent="other"),
        msg("status", {"execution_state": "idle"}, parent="other"),
        msg("stream", {"name": "stdout", "text": "mine\n"}),
        msg("status", {"execution_state": "idle"}),
    ]
    assert parse_all(messages) == [KernelText("mine\n"), KernelIdle()]


@pytest.mark.parametrize(
    "message",
    [
        msg("status", {"execution_state": "busy"}),
        msg("execute_input", {"code": "x", "execution_count": 3}),
        msg("clear_output", {"wait": False}),
        msg("display_data", {"data": {}, "metadata": {}}),
        msg("comm_open", {"comm_id": "c", "target_name": "t", "data": {}}),
    ],
)
def test_bookkeeping_messages_carry_nothing(message: dict[str, Any]) -> None:
    assert parse_iopub(message, MSG_ID) is None


def test_error_traceback_loses_its_colours() -> None:
    traceback = [
        "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
        "\x1b[31mValueError\x1b[39m                                Traceback (most recent call last)",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 1\x1b[39m\n"
        "\x1b[32m----> \x1b[39m\x1b[32m1\x1b[39m \x1b[38;5;28;01mraise\x1b[39;00m ValueError(\x1b[33m'x'\x1b[39m)\n",
        "\x1b[31mValueError\x1b[39m: x",
    ]
    item = parse_iopub(msg("error", {"ename": "ValueError", "evalue": "x", "traceback": traceback}), MSG_ID)
    assert isinstance(item, KernelError)
    assert (item.ename, item.evalue) == ("ValueError", "x")
    assert "\x1b" not in item.traceback
    assert item.traceback.endswith("----> 1 raise ValueError('x')\n\nValueError: x")


def test_error_without_traceback_still_says_what_happened() -> None:
    item = parse_iopub(msg("error", {"ename": "KeyError", "evalue": "'k'", "traceback": []}), MSG_ID)
    assert item == KernelError("KeyError", "'k'", "KeyError: 'k'")


def test_display_and_update_display_are_displays() -> None:
    data = {"text/plain": "<Figure>", "image/png": "aGk="}
    for kind in ("display_data", "update_display_data", "execute_result"):
        assert parse_iopub(msg(kind, {"data": data, "metadata": {}}), MSG_ID) == KernelDisplay(data)


def test_strip_ansi_removes_colours_cursor_moves_and_terminal_titles() -> None:
    assert strip_ansi("\x1b[1;31mred\x1b[0m \x1b[2K\x1b[1Gline \x1b]0;title\x07done \x1b]8;;http://x\x1b\\link") == (
        "red line done link"
    )


# --- render_bundle --------------------------------------------------------------------------------


def test_an_image_is_a_file_and_its_useless_repr_is_dropped() -> None:
    rendered = render_bundle({"text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": b64(PNG)})
    assert rendered.text == ""
    assert [(f.mime, f.extension, f.content) for f in rendered.files] == [("image/png", "png", PNG)]


def test_html_is_saved_and_its_plain_text_kept() -> None:
    rendered = render_bundle({"text/plain": "   a\n0  1", "text/html": "<table><tr><td>1</td></tr></table>"})
    assert rendered.text == "   a\n0  1"
    assert [(f.mime, f.extension) for f in rendered.files] == [("text/html", "html")]
    assert rendered.files[0].content == b"<table><tr><td>1</td></tr></table>"


def test_html_whose_plain_text_is_a_default_repr_is_read_as_its_text_and_saved() -> None:
    rendered = render_bundle(
        {"text/plain": "<IPython.core.display.HTML object>", "text/html": "<p>x &lt; <b>y</b></p>"}
    )
    assert rendered.text == "x < y"
    assert [f.content for f in rendered.files] == [b"<p>x &lt; <b>y</b></p>"]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (
            {"text/plain": "<IPython.core.display.Markdown object>", "text/markdown": "# Title\n*note*"},
            "# Title\n*note*",
        ),
        ({"text/plain": "<IPython.core.display.Latex object>", "text/latex": "$x^2$"}, "$x^2$"),
        ({"text/plain": "<mymod.Thing object at 0x7f00deadbeef>", "text/markdown": ["a\n", "b"]}, "a\nb"),
        ({"text/plain": "<IPython.core.display.JSON object>", "application/json": {"k": 1}}, '{"k": 1}'),
        ({"text/plain": "<object object at 0x7f00deadbeef>"}, "<object object at 0x7f00deadbeef>"),  # all there is
        ({"text/plain": "Thing(3)", "text/markdown": "**3**"}, "Thing(3)"),  # a real repr is kept
    ],
)
def test_a_default_repr_gives_way_to_the_displays_own_text(data: dict[str, Any], text: str) -> None:
    assert render_bundle(data).text == text


def test_html_text_is_bounded_and_says_where_the_rest_is() -> None:
    rows = "".join(f"<tr><td>row {i}</td><td>{i * i}</td></tr>" for i in range(5_000))
    rendered = render_bundle({"text/html": f"<style>td {{}}</style><table>{rows}</table>"})
    lines = rendered.text.split("\n")
    assert lines[:3] == ["row 0 | 0", "row 1 | 1", "row 2 | 4"]
    assert lines[-1] == "[HTML display cut to 2,000 characters of text here; the saved file has all of it]"
    assert len(rendered.text) <= HTML_TEXT_LIMIT + len(lines[-1]) + 1
    assert rendered.files[0].content.endswith(b"<td>24990001</td></tr></table>")  # the file keeps it all


def test_html_to_text_keeps_what_a_browser_shows() -> None:
    html = (
        "<html><head><title>t</title><style>p { color: red }</style></head><body>"
        "<h1>Report</h1><p>Sales &amp; costs,\n   <i>per</i>   quarter.</p><!-- hidden -->"
        "<ul><li>Q1</li><li>Q2</li></ul><script>alert('x')</script>"
        "<table><tr><th>q</th><th>sum</th></tr><tr><td>1</td><td>10</td></tr></table>"
        '<img src="a.png" alt="a chart"><pre>  x = 1\n  y = 2</pre>end<br>line</body></html>'
    )
    assert html_to_text(html) == (
        "Report\nSales & costs, per quarter.\n- Q1\n- Q2\nq | sum\n1 | 10\n"
        "[image: a chart]\n  x = 1\n  y = 2\nend\nline"
    )
    assert html_to_text("<div></div>" * 200) == ""
    assert html_to_text("<p>" + "word " * 100 + "</p>", limit=20) == (
        "word word word word\n[HTML display cut to 20 characters of text here; the saved file has all of it]"
    )


def test_svg_and_jpeg_and_html_together_images_first() -> None:
    rendered = render_bundle(
        {"text/html": "<p>h</p>", "image/svg+xml": ["<svg>", "</svg>"], "image/jpeg": b64(b"\xff\xd8jpeg")}
    )
    assert [(f.mime, f.extension) for f in rendered.files] == [
        ("image/jpeg", "jpg"),
        ("image/svg+xml", "svg"),
        ("text/html", "html"),
    ]
    assert rendered.files[1].content == b"<svg></svg>"


def test_undecodable_image_data_is_skipped() -> None:
    rendered = render_bundle({"text/plain": "an image", "image/png": "@@not base64@@"})
    assert rendered.files == ()
    assert rendered.text == "an image"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"text/plain": "42"}, "42"),
        ({"text/plain": ["line 1\n", "line 2"]}, "line 1\nline 2"),
        ({"text/markdown": "**bold**"}, "**bold**"),
        ({"text/latex": "$x^2$"}, "$x^2$"),
        ({"application/json": {"a": [1, 2]}}, '{"a": [1, 2]}'),
        ({"application/vnd.custom": "?"}, ""),
    ],
)
def test_text_for_other_bundles(data: dict[str, Any], text: str) -> None:
    assert render_bundle(data) == render_bundle(data)  # pure
    assert render_bundle(data).text == text
    assert render_bundle(data).files == ()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- OutputCollector ------------------------------------------------------------------------------


def test_collector_saves_displays_where_they_appeared_and_fixes_pty_line_ends(tmp_path: Path) -> None:
    budget = OutputBudget(10_000, tmp_path / "spill.txt")
    collector = OutputCollector(budget, tmp_path / "out")
    collector.add(KernelText("bang\r\n10%\r20%\r\n"))
    collector.add(KernelText("before, no newline"))
    collector.add(KernelDisplay({"text/plain": "<Figure>", "image/png": b64(PNG)}))
    collector.add(KernelDisplay({"text/plain": "2"}))
    collector.add(KernelError("ZeroDivisionError", "division by zero", "ZeroDivisionError: division by zero"))
    text = budget.finish().text
    [image] = collector.files
    assert Path(image).read_bytes() == PNG
    assert Path(image).parent == (tmp_path / "out").absolute()
    assert (
        text == f"bang\n10%\r20%\nbefore, no newline\nImage data saved to {image}\n2\n"
        "ZeroDivisionError: division by zero\n"
    )
    assert collector.error == KernelError(
        "ZeroDivisionError", "division by zero", "ZeroDivisionError: division by zero"
    )


def test_collector_reports_a_display_it_cannot_save(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the output folder should be")
    budget = OutputBudget(10_000, tmp_path / "spill.txt")
    collector = OutputCollector(budget, blocker)
    collector.add(KernelDisplay({"text/html": "<b>x</b>"}))
    assert collector.files == []
    assert "HTML (text/html) could not be saved" in budget.finish().text


# --- the shell helper -----------------------------------------------------------------------------


def helper() -> Any:
    namespace: dict[str, Any] = {}
    exec(SHELL_HELPER_SOURCE, namespace)
    return namespace[HELPER_NAME], namespace[EXIT_ERROR_NAME]


def test_shell_helper_streams_merged_output_and_returns_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = helper()
    assert run("echo out; echo err >&2; exit 3", "bash") == 3
    assert capsys.readouterr().out == "out\nerr\n"
    assert run("kill -TERM $$", "sh") == 128 + 15


def test_shell_helper_raises_on_failure_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    run, exit_error = helper()
    assert run("true", "bash", True) is None
    with pytest.raises(exit_error) as info:
        run("exit 7", "bash", True)
    assert info.value.args == (7,)


def test_shell_cell_defines_the_helper_once_and_shows_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    cell = shell_cell("echo 'quoted \"text\"'", "bash")
    exec(cell, namespace)
    exec(cell, namespace)
    assert capsys.readouterr().out == 'quoted "text"\n' * 2
    assert HELPER_NAME in namespace


def test_shell_call_runs_the_defined_helper_and_says_when_it_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    with pytest.raises(NameError) as missing:
        exec(shell_call("echo never", "bash"), namespace)
    assert is_missing_helper(type(missing.value).__name__, str(missing.value))
    assert not is_missing_helper("NameError", "name 'other' is not defined")
    exec(shell_cell("echo defined", "bash"), namespace)
    exec(shell_call("echo called", "sh"), namespace)
    assert capsys.readouterr().out == "defined\ncalled\n"
    assert len(shell_call("echo called", "sh")) < len(shell_cell("echo called", "sh")) // 10
