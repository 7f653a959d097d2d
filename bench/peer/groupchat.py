"""Peer side of the group-chat benchmark: a 4-agent AutoGen 0.2.35 round-robin group chat, instant model.

Four agents answer through the custom model client of ``script_02_turns.py`` (``InstantClient``, AutoGen
0.2's ModelClient protocol, registered with ``register_model_client``), with the cache off
(``cache_seed=None``), ``human_input_mode="NEVER"`` and code execution off. They sit in
``GroupChat(agents, messages=[], speaker_selection_method="round_robin", max_round=N)`` run by
``GroupChatManager(groupchat, silent=True)`` (0.2's manager does not inherit the initiator's
``silent``; without it every round prints "Next speaker"). One sample is one
``initiate_chat(manager, message="hi", silent=True)`` by the first agent, then the same chat
through ``a_initiate_chat`` on an event loop; each must leave exactly N messages in
``groupchat.messages``. It reports wall time / messages, in microseconds, for each.

Config: ``{"max_round": int}``. Run by the orchestrator inside the peer venv.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _protocol import Close, Sample, serve
from turns import instant_agent

MEMBERS = ("alice", "bob", "carol", "dave")


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    from autogen import GroupChat, GroupChatManager

    max_round = int(config["max_round"])
    members = [instant_agent(name, max_round) for name in MEMBERS]
    groupchat = GroupChat(agents=members, messages=[], speaker_selection_method="round_robin", max_round=max_round)
    manager = GroupChatManager(groupchat, silent=True)
    starter = members[0]
    loop = asyncio.new_event_loop()

    def per_message(start: float) -> float:
        elapsed = time.perf_counter() - start
        n = len(groupchat.messages)
        if n != max_round:
            raise RuntimeError(f"expected {max_round} messages in groupchat.messages, got {n}")
        return elapsed / n * 1e6

    def sample() -> dict[str, float]:
        start = time.perf_counter()
        starter.initiate_chat(manager, message="hi", silent=True)
        sync_us = per_message(start)
        start = time.perf_counter()
        loop.run_until_complete(starter.a_initiate_chat(manager, message="hi", silent=True))
        return {"sync_us_per_message": sync_us, "async_us_per_message": per_message(start)}

    return sample, {"autogen": autogen.__version__}, loop.close


if __name__ == "__main__":
    serve(setup)
