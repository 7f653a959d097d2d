"""Group-chat overhead: a 4-agent round-robin group chat where every member answers at once.

Both sides run the same chat: four agents that answer ``"ok"`` through an instant custom model
client (`bench.suites.turns.InstantModelClient` here; its AutoGen 0.2 twin, registered with
``register_model_client`` and ``cache_seed=None``, in ``bench/peer/groupchat.py``), in
``GroupChat(agents=[4 agents], speaker_selection_method="round_robin", max_round=N)`` run by a
``GroupChatManager(groupchat, silent=True)``; the first agent starts it with
``initiate_chat(manager, message="hi", silent=True)``. The chat ends at ``max_round``, so
``groupchat.messages`` must hold exactly N messages; any other count fails the sample.

The figure is chat wall time divided by the number of messages in ``groupchat.messages``, in
microseconds: the framework's cost per group-chat round (store the message, broadcast it to the
three other members, pick the next speaker, generate and send its reply). Each sample runs the
chat once through the sync API and once through ``a_initiate_chat`` on an event loop.

The manager is built with ``silent=True`` on both sides. AutoGen 0.2's manager does not inherit
the initiator's ``silent`` and would otherwise print "Next speaker: ..." every round, which would
time the terminal, not the framework.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bench.registry import Benchmark, Metric, Sampler, peer_script, register
from bench.suites.turns import SyncAsyncSampler, instant_agent, ratio_verdict

if TYPE_CHECKING:
    from parley import GroupChat

__all__ = ["MEMBERS", "GroupChatSampler"]

TARGET_RATIO = 10.0
MEMBERS = ("alice", "bob", "carol", "dave")
"""The four members' names, in round-robin order; the first one starts the chat."""


class GroupChatSampler(SyncAsyncSampler):
    """Times one round-robin group chat of ``max_round`` messages among four instant agents, sync then async.

    Args:
        max_round: the chat's ``max_round``: the number of messages in every measured chat.
    """

    def __init__(self, max_round: int) -> None:
        from parley import GroupChat, GroupChatManager

        self._max_round = max_round
        members = [instant_agent(name, max_round) for name in MEMBERS]
        self._groupchat = GroupChat(agents=members, speaker_selection_method="round_robin", max_round=max_round)
        self._manager = GroupChatManager(self._groupchat, silent=True)
        self._members = members
        self._starter = members[0]
        self._loop = asyncio.new_event_loop()
        self.info: Mapping[str, str] = {"python": sys.executable}

    def _per_message(self, start: float, groupchat: GroupChat) -> float:
        elapsed = time.perf_counter() - start
        n = len(groupchat.messages)
        if n != self._max_round:
            raise RuntimeError(f"expected {self._max_round} messages in groupchat.messages, got {n}")
        return elapsed / n * 1e6

    def _sync(self) -> float:
        start = time.perf_counter()
        self._starter.initiate_chat(self._manager, message="hi", silent=True)
        return self._per_message(start, self._groupchat)

    def _async(self) -> float:
        start = time.perf_counter()
        self._loop.run_until_complete(self._starter.a_initiate_chat(self._manager, message="hi", silent=True))
        return self._per_message(start, self._groupchat)


def _parley(params: Mapping[str, Any]) -> Sampler:
    return GroupChatSampler(int(params["max_round"]))


register(
    Benchmark(
        name="groupchat",
        summary=(
            "4-agent round-robin group chat, every member answering instantly through a custom model "
            "client, manager and initiator silent, cache off; chat wall time / messages in groupchat.messages."
        ),
        params=lambda quick: {"max_round": 40 if quick else 100},
        parley=_parley,
        peer=peer_script("groupchat.py"),
        peer07=peer_script("ag07_groupchat.py"),
        metrics=(
            Metric(
                label="Group chat, 4 agents round robin, instant model, {max_round} messages (sync `initiate_chat`)",
                unit="µs/message",
                parley_key="sync_us_per_message",
                peer_key="sync_us_per_message",
                target="≥ 10× less than 0.2",
                status=ratio_verdict("sync_us_per_message"),
            ),
            Metric(
                label="Group chat, same chat through async `a_initiate_chat`",
                unit="µs/message",
                parley_key="async_us_per_message",
                peer_key="async_us_per_message",
                peer07_key="async_us_per_message",
                target="≥ 10× less than 0.2",
                status=ratio_verdict("async_us_per_message"),
            ),
        ),
        reps=50,
        quick_reps=10,
        warmup=5,
    )
)
