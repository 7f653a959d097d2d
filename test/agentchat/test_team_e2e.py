"""A four-agent team solves a task through the openai SDK against the scripted server.

Planner, coder, an executor with a real code executor, and a critic. The manager's model picks
speakers ("auto") and its scripted answers are messy on purpose: a sentence, two names, no name,
and a Markdown-escaped underscore. Each is resolved as specified and the transcript is asserted
whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parley import AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent
from parley.prompts import SELECT_SPEAKER_MESSAGE
from parley.testing import ScriptedOpenAIServer

SELECTOR_ANSWERS = [
    "I think Planner should go next.",  # a sentence: planner
    "Planner, then Coder",  # two names: asked again
    "Coder.",  # -> coder
    "Let's keep going!",  # no name: asked again
    "Hmm.",  # no name again: asked again
    "Not sure.",  # retries used up: round robin after coder -> executor
    "code\\_critic",  # escaped underscore -> code_critic
]
SELECTOR_START = SELECT_SPEAKER_MESSAGE.split("{", 1)[0]

ROLE_REPLIES = {
    "You plan.": "Plan: Coder writes a program for the sum of squares of 1..10; executor runs it; critic checks.",
    "You write code.": "```python\nprint(sum(i * i for i in range(1, 11)))\n```",
    "You critique.": "385 is right: 10*11*21/6 = 385. TERMINATE",
}


class Script:
    def __init__(self) -> None:
        self.selector = list(SELECTOR_ANSWERS)
        self.selector_requests: list[list[dict[str, Any]]] = []

    def __call__(self, body: dict[str, Any]) -> str:
        system = str(body["messages"][0]["content"])
        if system.startswith(SELECTOR_START):
            self.selector_requests.append(body["messages"])
            return self.selector.pop(0)
        for role, reply in ROLE_REPLIES.items():
            if system.startswith(role):
                return reply
        raise AssertionError(f"unexpected request with system message {system[:60]!r}")


@pytest.mark.timeout(60)
def test_team_solves_a_task_with_messy_auto_selection(tmp_path: Path) -> None:
    script = Script()
    with ScriptedOpenAIServer(script, model="gpt-4o-mini") as server:
        llm = {"config_list": [{"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "sk-test"}]}
        planner = AssistantAgent("planner", system_message="You plan.", llm_config=llm, description="Plans the work.")
        coder = AssistantAgent("coder", system_message="You write code.", llm_config=llm, description="Writes Python.")
        executor = UserProxyAgent(
            "executor", human_input_mode="NEVER", description="Runs code and reports the output.",
            code_execution_config={"executor": "local", "local": {"work_dir": str(tmp_path)}},
        )  # fmt: skip
        critic = AssistantAgent("code_critic", system_message="You critique.", llm_config=llm, description="Checks.")
        groupchat = GroupChat(agents=[planner, coder, executor, critic], max_round=12)
        manager = GroupChatManager(groupchat, llm_config=llm, silent=True)
        result = executor.initiate_chat(manager, message="What is the sum of the squares of 1 to 10?", silent=True)
        requests = server.request_count

    assert [(m["name"], m["content"]) for m in groupchat.messages] == [
        ("executor", "What is the sum of the squares of 1 to 10?"),
        ("planner", ROLE_REPLIES["You plan."]),
        ("coder", ROLE_REPLIES["You write code."]),
        ("executor", "exitcode: 0 (execution succeeded)\nCode output: 385\n"),
        ("code_critic", ROLE_REPLIES["You critique."]),
    ]
    assert script.selector == []  # every scripted selector answer was used
    assert requests == len(SELECTOR_ANSWERS) + 3  # 7 selector calls, planner, coder, critic
    # the retry feedback was sent back to the selector model
    second_round = script.selector_requests[2]
    assert second_round[-2] == {"role": "assistant", "content": "Planner, then Coder"}
    assert "named more than one team member (planner, coder)" in second_round[-1]["content"]
    assert "named no team member" in script.selector_requests[5][-1]["content"]
    # the selector sees the roles and the conversation, named
    assert "coder: Writes Python." in script.selector_requests[0][0]["content"]
    assert result.summary == "385 is right: 10*11*21/6 = 385."
    assert result.chat_history[-1]["content"] == ROLE_REPLIES["You critique."]
    # the chat's cost covers the whole team: the selector's calls and every member's
    team_cost = sum((a.get_total_usage() or {}).get("total_cost", 0.0) for a in [manager, planner, coder, critic])
    assert team_cost > 0
    assert result.cost["usage_including_cached_inference"]["total_cost"] == pytest.approx(team_cost)
