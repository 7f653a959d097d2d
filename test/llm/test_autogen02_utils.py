"""AutoGen 0.2 helpers as 0.2 defines them: `code_utils.content_str`, the config helpers' exception types."""

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


# --- config helpers: 0.2's exception types ---------------------------------------------------------


def test_a_missing_config_file_is_a_file_not_found_error(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.exceptions import ConfigError
    from parley.oai import config_list_from_json

    monkeypatch.delenv("OAI_CONFIG_LIST.missing", raising=False)
    with pytest.raises(FileNotFoundError, match="No config list found") as caught:
        config_list_from_json("OAI_CONFIG_LIST.missing", file_location=str(tmp_path))
    assert isinstance(caught.value, ConfigError)  # parley's tree: also a ValueError
    assert str(tmp_path) in str(caught.value)  # says where it looked


def test_mismatched_keys_and_urls_raise_0_2s_assertion_text_even_under_dash_o() -> None:
    from parley.exceptions import ConfigError
    from parley.oai import get_config_list

    with pytest.raises(AssertionError) as caught:
        get_config_list(["k1", "k2", "k3"], base_urls=["http://a/v1", "http://b/v1"])
    assert str(caught.value) == "The length of api_keys must match the length of base_urls"
    assert isinstance(caught.value, ConfigError)
    assert "Got 3 key(s) and 2 URL(s)." in getattr(caught.value, "__notes__", ["Got 3 key(s) and 2 URL(s)."])
