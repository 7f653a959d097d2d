"""Structured output: a pydantic model as response_format, sent as a strict JSON schema and parsed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from parley import AssistantAgent, UserProxyAgent
from parley.exceptions import ModelResponseError
from parley.llm import Cache, OpenAIClient, OpenAIWrapper
from parley.llm.structured import response_format_param, strict_schema
from parley.llm.types import Message
from parley.testing import ScriptedOpenAIServer

from .conftest import SECRET

HI: list[Message] = [{"role": "user", "content": "Where is the meeting?"}]
Entry = Callable[..., dict[str, Any]]


class Address(BaseModel):
    city: str
    street: str | None = None


class Meeting(BaseModel):
    title: str
    attendees: list[str]
    where: Address = Field(description="the meeting place")


GOOD = json.dumps({"title": "Plan", "attendees": ["Ada", "Lin"], "where": {"city": "Oslo", "street": None}})


def test_the_schema_is_made_strict() -> None:
    param = response_format_param(Meeting)
    assert param["type"] == "json_schema"
    assert (param["json_schema"]["name"], param["json_schema"]["strict"]) == ("Meeting", True)
    schema = param["json_schema"]["schema"]
    assert schema["required"] == ["title", "attendees", "where"]
    assert schema["additionalProperties"] is False
    address = schema["$defs"]["Address"]
    assert (address["required"], address["additionalProperties"]) == (["city", "street"], False)
    assert "default" not in address["properties"]["street"]
    where = schema["properties"]["where"]  # a $ref with a description is inlined, since strict forbids siblings
    assert "$ref" not in where
    assert (where["description"], where["required"]) == ("the meeting place", ["city", "street"])


def test_strict_schema_leaves_plain_refs_and_non_objects_alone() -> None:
    schema = {"type": "array", "items": {"$ref": "#/$defs/X"}, "$defs": {"X": {"type": "string"}}}
    assert strict_schema(schema) == schema


async def test_the_reply_is_parsed_into_the_model(entry_for: Entry) -> None:
    with ScriptedOpenAIServer([GOOD, GOOD]) as server:
        response = await OpenAIClient(entry_for(server, response_format=Meeting)).create(HI)
        streamed = await OpenAIClient(entry_for(server)).create(HI, params={"response_format": Meeting, "stream": True})
        sent = server.requests[0]
    assert response.parsed == Meeting(title="Plan", attendees=["Ada", "Lin"], where=Address(city="Oslo"))
    assert streamed.parsed == response.parsed
    assert response.message["content"] == GOOD  # the text stays as the model wrote it
    assert sent["response_format"] == response_format_param(Meeting)


async def test_a_dict_response_format_is_sent_as_given_and_not_parsed(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(['{"a": 1}']) as server:
        client = OpenAIClient(entry_for(server, response_format=Meeting))
        response = await client.create(HI, params={"response_format": {"type": "json_object"}})
        assert server.requests[0]["response_format"] == {"type": "json_object"}
    assert response.parsed is None


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ('{"title": "Plan"}', "does not validate as Meeting: 2 error(s): attendees: Field required; where: Field"),
        ('{"title": "Plan", "attendees": "Ada"', "does not validate as Meeting: 1 error(s): (root): Invalid JSON"),
    ],
)
async def test_a_reply_that_does_not_validate_is_a_response_error(entry_for: Entry, reply: str, needle: str) -> None:
    with ScriptedOpenAIServer([reply]) as server, pytest.raises(ModelResponseError) as info:
        await OpenAIClient(entry_for(server, response_format=Meeting)).create(HI)
    assert needle in str(info.value)
    assert server.base_url in str(info.value)
    assert SECRET not in str(info.value)


async def test_an_invalid_reply_falls_back_to_the_next_entry(entry_for: Entry) -> None:
    with ScriptedOpenAIServer(['{"title": 3}']) as sloppy, ScriptedOpenAIServer([GOOD]) as careful:
        wrapper = OpenAIWrapper(config_list=[entry_for(sloppy), entry_for(careful)], response_format=Meeting)
        response = await wrapper.create(HI)
    assert response.parsed is not None
    assert response.parsed.where.city == "Oslo"


async def test_a_cached_reply_is_parsed_again(entry_for: Entry, tmp_path: Path) -> None:
    with ScriptedOpenAIServer([GOOD]) as server, Cache.disk(cache_seed=1, cache_path_root=tmp_path) as cache:
        wrapper = OpenAIWrapper(config_list=[entry_for(server)], response_format=Meeting)
        fresh = await wrapper.create(HI, params={"cache": cache})
        again = await wrapper.create(HI, params={"cache": cache})
        assert server.request_count == 1
    assert again.cached
    assert again.parsed == fresh.parsed
    assert isinstance(again.parsed, Meeting)


def test_an_agent_returns_the_parsed_object_and_the_history_keeps_the_json(entry_for: Entry) -> None:
    with ScriptedOpenAIServer([GOOD, GOOD]) as server:
        llm_config = {"config_list": [entry_for(server)], "response_format": Meeting}
        assistant = AssistantAgent("assistant", llm_config=llm_config)
        reply = assistant.generate_reply(messages=[{"role": "user", "content": "Plan a meeting."}])
        user = UserProxyAgent("user", human_input_mode="NEVER", code_execution_config=False)
        result = user.initiate_chat(assistant, message="Plan a meeting.", max_turns=1, silent=True)
    assert isinstance(reply, dict)
    assert reply["content"] == GOOD
    assert reply["parsed"] == Meeting.model_validate_json(GOOD)  # type: ignore[typeddict-item]
    assert result.chat_history[-1] == {"content": GOOD, "role": "user", "name": "assistant"}  # no "parsed"
    assert Meeting.model_validate_json(result.summary).attendees == ["Ada", "Lin"]
