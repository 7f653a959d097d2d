"""AutoGen 0.7 peer of the turn-overhead benchmark: a two-agent team with an instant model client.

AutoGen 0.7 has no two-agent ``initiate_chat``; its idiom for two agents taking turns is a
``RoundRobinGroupChat`` of two ``AssistantAgent``s (``autogen-agentchat``), stopped by
``MaxMessageTermination``. Both agents answer through `InstantClient`, a ``ChatCompletionClient``
that returns ``"ok"`` at once and counts nothing. (0.7's ``ReplayChatCompletionClient`` splits
every message of the history into words on each call to count tokens, test-double work that
grows with the chat, so it is not used; parley's side uses a do-nothing client too.)

One sample is one ``await team.run(task="hi")`` of ``messages`` messages, the task included,
after ``await team.reset()``; it reports wall time / messages in microseconds as
``async_us_per_message``. 0.7 is async only: there is no sync figure.

Config: ``{"messages": int}``. Run by the orchestrator inside the AutoGen 0.7 venv.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from _protocol import Close, Sample, serve


def instant_client() -> Any:
    """A 0.7 ``ChatCompletionClient`` answering ``"ok"`` at once, with zero usage."""
    from autogen_core.models import ChatCompletionClient, CreateResult, ModelFamily, RequestUsage

    class InstantClient(ChatCompletionClient):
        _usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

        async def create(self, messages: Sequence[Any], **kwargs: Any) -> CreateResult:
            return CreateResult(finish_reason="stop", content="ok", usage=self._usage, cached=False)

        async def create_stream(self, messages: Sequence[Any], **kwargs: Any) -> Any:
            yield await self.create(messages)

        async def close(self) -> None:
            pass

        def actual_usage(self) -> RequestUsage:
            return self._usage

        def total_usage(self) -> RequestUsage:
            return self._usage

        def count_tokens(self, messages: Sequence[Any], **kwargs: Any) -> int:
            return 0

        def remaining_tokens(self, messages: Sequence[Any], **kwargs: Any) -> int:
            return 1_000_000

        @property
        def capabilities(self) -> Any:
            return self.model_info

        @property
        def model_info(self) -> Any:
            return {
                "vision": False,
                "function_calling": False,
                "json_output": False,
                "family": ModelFamily.UNKNOWN,
                "structured_output": False,
            }

    return InstantClient()


def round_robin_team(names: Sequence[str], messages: int) -> Any:
    """A ``RoundRobinGroupChat`` of instant ``AssistantAgent``s that stops after ``messages`` messages."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat

    agents = [
        AssistantAgent(name, model_client=instant_client(), system_message="You are a helpful assistant.")
        for name in names
    ]
    return RoundRobinGroupChat(agents, termination_condition=MaxMessageTermination(messages))


def team_sampler(names: Sequence[str], messages: int) -> tuple[Sample, dict[str, str], Close]:
    """Time ``team.run`` of ``messages`` messages on one event loop; report µs per message."""
    from importlib.metadata import version

    team = round_robin_team(names, messages)
    loop = asyncio.new_event_loop()

    async def once() -> float:
        await team.reset()
        start = time.perf_counter()
        result = await team.run(task="hi")
        elapsed = time.perf_counter() - start
        if len(result.messages) != messages:
            raise RuntimeError(f"expected {messages} messages, got {len(result.messages)}: {result.stop_reason}")
        return elapsed / messages * 1e6

    def sample() -> dict[str, float]:
        return {"async_us_per_message": loop.run_until_complete(once())}

    info = {"autogen-agentchat": version("autogen-agentchat"), "autogen-core": version("autogen-core")}
    return sample, info, loop.close


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    return team_sampler(("alice", "bob"), int(config["messages"]))


if __name__ == "__main__":
    serve(setup)
