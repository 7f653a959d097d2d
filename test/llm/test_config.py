"""Config lists: loading from the environment or a file, filtering, and entry checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from parley.exceptions import ConfigError
from parley.llm import config_list_from_json, filter_config, validate_config_entry
from parley.llm.config import split_entry

CONFIGS: list[dict[str, Any]] = [
    {"model": "gpt-4o", "api_key": "k1", "tags": ["gpt4", "smart"]},
    {"model": "gpt-4o-mini", "api_key": "k2", "tags": ["cheap"]},
    {"model": "llama3", "base_url": "http://localhost:11434/v1", "api_key": "ollama", "api_type": "openai"},
]


def models(entries: list[dict[str, Any]]) -> list[str]:
    return [e["model"] for e in entries]


def test_from_json_in_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps(CONFIGS))
    assert config_list_from_json() == CONFIGS
    assert models(config_list_from_json(filter_dict={"tags": ["cheap"]})) == ["gpt-4o-mini"]


def test_from_a_file_named_by_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "configs.json"
    path.write_text(json.dumps(CONFIGS))
    monkeypatch.setenv("MY_CONFIGS", str(path))
    assert config_list_from_json("MY_CONFIGS") == CONFIGS
    monkeypatch.setenv("MY_CONFIGS", "configs.json")  # relative: found under file_location
    assert config_list_from_json("MY_CONFIGS", file_location=tmp_path) == CONFIGS


def test_from_a_file_when_no_variable_is_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OAI_CONFIG_LIST", raising=False)
    (tmp_path / "OAI_CONFIG_LIST").write_text(json.dumps(CONFIGS))
    assert config_list_from_json(file_location=str(tmp_path)) == CONFIGS
    monkeypatch.chdir(tmp_path)
    assert models(config_list_from_json(filter_dict={"model": "llama3"})) == ["llama3"]


def test_not_found_says_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOPE_CONFIGS", raising=False)
    with pytest.raises(ConfigError) as info:
        config_list_from_json("NOPE_CONFIGS", file_location=tmp_path)
    message = str(info.value)
    assert "environment variable NOPE_CONFIGS (not set)" in message
    assert str(tmp_path / "NOPE_CONFIGS") in message


def test_bad_json_gives_its_position(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OAI_CONFIG_LIST", '[{"model": "gpt-4o",}]')
    with pytest.raises(ConfigError, match=r"environment variable OAI_CONFIG_LIST: .* line 1, column 21"):
        config_list_from_json()
    path = tmp_path / "list.json"
    path.write_text('[\n  {"model": "gpt-4o"}\n  {"model": "x"}\n]')
    monkeypatch.setenv("OAI_CONFIG_LIST", str(path))
    with pytest.raises(ConfigError, match="line 3, column 3"):
        config_list_from_json()


def test_the_json_must_be_a_list_of_valid_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAI_CONFIG_LIST", '{"model": "gpt-4o"}')
    with pytest.raises(ConfigError, match="must be a JSON list of objects"):
        config_list_from_json()
    monkeypatch.setenv("OAI_CONFIG_LIST", '[{"modle": "gpt-4o"}]')
    with pytest.raises(ConfigError, match="Did you mean 'model'"):
        config_list_from_json()


def test_filter_by_one_value_or_any_of_a_list() -> None:
    assert models(filter_config(CONFIGS, {"model": "gpt-4o"})) == ["gpt-4o"]
    assert models(filter_config(CONFIGS, {"model": ["gpt-4o", "llama3"]})) == ["gpt-4o", "llama3"]


def test_list_valued_fields_match_on_intersection() -> None:
    assert models(filter_config(CONFIGS, {"tags": ["smart", "cheap"]})) == ["gpt-4o", "gpt-4o-mini"]
    assert models(filter_config(CONFIGS, {"tags": "cheap"})) == ["gpt-4o-mini"]
    assert filter_config(CONFIGS, {"tags": ["none-such"]}) == []


def test_every_criterion_must_hold_and_none_matches_a_missing_key() -> None:
    assert models(filter_config(CONFIGS, {"model": ["gpt-4o", "gpt-4o-mini"], "tags": ["cheap"]})) == ["gpt-4o-mini"]
    assert models(filter_config(CONFIGS, {"api_type": ["openai", None]})) == ["gpt-4o", "gpt-4o-mini", "llama3"]
    assert models(filter_config(CONFIGS, {"api_type": ["openai"]})) == ["llama3"]


def test_exclude_keeps_entries_meeting_no_criterion() -> None:
    assert models(filter_config(CONFIGS, {"tags": ["cheap"]}, exclude=True)) == ["gpt-4o", "llama3"]
    assert models(filter_config(CONFIGS, {"model": "llama3", "tags": ["smart"]}, exclude=True)) == ["gpt-4o-mini"]


def test_no_filter_keeps_copies_of_everything() -> None:
    kept = filter_config(CONFIGS, None)
    assert kept == CONFIGS
    assert kept[0] is not CONFIGS[0]
    assert filter_config(CONFIGS, {}) == CONFIGS


def test_valid_entries_pass_and_come_back_as_copies() -> None:
    entry = {"model": "m", "base_url": "http://localhost:8000/v1", "timeout": 30, "price": [0.1, 0.2], "top_k": 4}
    checked = validate_config_entry(entry)
    assert checked == entry
    assert checked is not entry
    client = object()
    assert validate_config_entry({"model_client": client}) == {"model_client": client}


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("gpt-4o", "must be a dict"),
        ({"model": "", "api_key": "k"}, '"model" must name a model'),
        ({"modle": "gpt-4o"}, "Unknown config key 'modle'. Did you mean 'model'?"),
        ({"model": "m", "base_ulr": "http://x"}, "Did you mean 'base_url'?"),
        ({"model": "m", "api_base": "http://x"}, "Did you mean 'base_url'?"),
        ({"model": "m", "temprature": 0}, "Did you mean 'temperature'?"),
        ({"model": "m", "max_token": 10}, "Did you mean 'max_tokens'?"),
        ({"model": "m", "api_type": "cohere"}, "api_type 'cohere' is not supported"),
        ({"model": "m", "api_type": "opnai"}, "Did you mean 'openai'?"),
        ({"model": "m", "base_url": 8000}, "base_url must be a URL string"),
        ({"model": "m", "timeout": 0}, "timeout is in seconds"),
        ({"model": "m", "timeout": float("inf")}, "timeout is in seconds and must be a finite number > 0"),
        ({"model": "m", "stream_chunk_timeout": 0}, "stream_chunk_timeout is in seconds"),
        ({"model": "m", "stream_chunk_timeout": "5"}, "stream_chunk_timeout is in seconds"),
        ({"model": "m", "stream_chunk_timout": 5}, "Did you mean 'stream_chunk_timeout'?"),
        ({"model": "m", "max_retries": -1}, "max_retries must be an integer"),
        ({"model": "m", "price": [1]}, "Bad price"),
        ({"model": "m", "default_headers": {"X": 1}}, "default_headers"),
        ({"model": "m", "tags": "cheap"}, "tags must be a list"),
        ({"model": "m", "api_key": 123}, "api_key must be a string"),
    ],
)
def test_bad_entries_are_explained(entry: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config_entry(entry)
    assert needle in str(info.value)


def test_split_entry_separates_client_settings_from_the_body() -> None:
    settings, body = split_entry(
        {
            "model": "m",
            "api_key": "k",
            "timeout": 5,
            "stream_chunk_timeout": 2,
            "temperature": 0,
            "cache_seed": 1,
            "tools": [],
            "extra_body": {"min_p": 0.1},
            "my_server_param": True,
        }
    )
    assert settings == {"model": "m", "api_key": "k", "timeout": 5, "stream_chunk_timeout": 2}
    assert body == {"temperature": 0, "min_p": 0.1, "my_server_param": True}
