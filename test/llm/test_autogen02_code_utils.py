"""`parley.code_utils.content_str` as AutoGen 0.2 defines it: parts joined as written, bad parts refused."""

from __future__ import annotations

from typing import Any

import pytest

from parley.code_utils import content_str


def test_text_parts_are_joined_as_written() -> None:
    parts = [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}]
    assert content_str(parts) == "hello world"


def test_an_image_part_is_an_image_token_with_no_separator() -> None:
    parts = [{"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]
    assert content_str(parts) == "hello<image>"
    assert content_str(None) == ""
    assert content_str([]) == ""
    assert content_str("as is") == "as is"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ([{"type": "text", "text": "hello"}, {"type": "wrong_type"}], ValueError),
        ([{"text": "no type"}], ValueError),
        (["string", {"type": "text", "text": "text"}], TypeError),
        (42, TypeError),
    ],
)
def test_content_that_is_not_openai_parts_is_refused(content: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="content"):
        content_str(content)


def test_agents_still_show_any_message() -> None:
    """The agents' own rendering stays lenient: a message is shown, never refused."""
    from parley.agentchat._display import content_str as shown

    assert shown([{"type": "text", "text": "a"}, "odd", {"type": "audio"}, {"type": "text", "text": "b"}]) == "ab"
