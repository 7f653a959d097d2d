"""Peer side of ``turns-02-script``: `script_02_turns` run as written, on AutoGen 0.2.35.

Config: ``{"max_turns": int}``. Run by the orchestrator inside the peer venv.
"""

from __future__ import annotations

from typing import Any

from _protocol import Close, Sample, serve


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    import script_02_turns as script

    max_turns = int(config["max_turns"])
    alice, bob = script.agent("alice", max_turns), script.agent("bob", max_turns)

    def sample() -> dict[str, float]:
        return {"sync_us_per_message": script.chat_us_per_message(alice, bob, max_turns)}

    return sample, {"autogen": autogen.__version__}, lambda: None


if __name__ == "__main__":
    serve(setup)
