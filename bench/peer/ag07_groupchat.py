"""AutoGen 0.7 peer of the group-chat benchmark: a 4-agent ``RoundRobinGroupChat``, instant model.

Four ``AssistantAgent``s answer through the instant client of ``ag07_turns.py``; the team stops
after ``max_round`` messages (``MaxMessageTermination``, the task included). One sample is one
``await team.run(task="hi")`` after ``await team.reset()``; it reports wall time / messages in
microseconds as ``async_us_per_message`` (0.7 is async only).

Config: ``{"max_round": int}``. Run by the orchestrator inside the AutoGen 0.7 venv.
"""

from __future__ import annotations

from typing import Any

from _protocol import Close, Sample, serve
from ag07_turns import team_sampler

MEMBERS = ("alice", "bob", "carol", "dave")


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    return team_sampler(MEMBERS, int(config["max_round"]))


if __name__ == "__main__":
    serve(setup)
