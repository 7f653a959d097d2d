"""Turn overhead of an AutoGen 0.2 script with a 0.2-style custom model client, ported by its import.

``bench/peer/script_02_turns.py`` is an AutoGen 0.2 script: two agents whose sync
``create(params)`` client (AutoGen 0.2's ModelClient protocol) is registered with
``register_model_client``, in a sync ``initiate_chat``. The peer runs the file as written; parley
runs the same source with ``from autogen import`` replaced by ``from parley import``, nothing
else. The figure is chat wall time / messages, in µs. DESIGN.md's target: at least 10× faster per
message than the same script on 0.2 (before issue 12 every sync ``create`` hopped to a worker
thread, about 100 µs, and parley was no faster than 0.2 here).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.registry import Benchmark, Metric, Sampler, peer_script, register
from bench.suites.turns import ratio_verdict

__all__ = ["Script02Sampler", "load_script_on_parley"]

SCRIPT = Path(__file__).resolve().parent.parent / "peer" / "script_02_turns.py"


def load_script_on_parley() -> types.ModuleType:
    """The 0.2 script as a module, with its only change: ``from autogen import`` → ``from parley import``."""
    source = SCRIPT.read_text()
    if source.count("from autogen import") != 1:
        raise RuntimeError(f"{SCRIPT} should import autogen exactly once")
    module = types.ModuleType("script_02_turns_on_parley")
    module.__file__ = str(SCRIPT)
    sys.modules[module.__name__] = module  # dataclasses and annotations look their module up
    exec(compile(source.replace("from autogen import", "from parley import"), str(SCRIPT), "exec"), module.__dict__)
    return module


class Script02Sampler:
    """Runs the ported 0.2 script's sync chat once per sample."""

    def __init__(self, max_turns: int) -> None:
        self._script: Any = load_script_on_parley()
        self._max_turns = max_turns
        self._alice = self._script.agent("alice", max_turns)
        self._bob = self._script.agent("bob", max_turns)
        self.info: Mapping[str, str] = {"python": sys.executable, "script": str(SCRIPT)}

    def sample(self) -> dict[str, float]:
        """Return ``sync_us_per_message``."""
        return {"sync_us_per_message": float(self._script.chat_us_per_message(self._alice, self._bob, self._max_turns))}

    def close(self) -> None:
        """Nothing to release."""


def _parley(params: Mapping[str, Any]) -> Sampler:
    return Script02Sampler(int(params["max_turns"]))


register(
    Benchmark(
        name="turns-02-script",
        summary=(
            "the same AutoGen 0.2 script (sync create(params) client via register_model_client, sync "
            "initiate_chat) on 0.2.35 and on parley with only the import changed; chat wall time / messages."
        ),
        params=lambda quick: {"max_turns": 100, "messages": 200},
        parley=_parley,
        peer=peer_script("turns_02_script.py"),
        metrics=(
            Metric(
                label="0.2 script, 0.2-style sync model client, {messages}-message chat (only the import changed)",
                unit="µs/message",
                parley_key="sync_us_per_message",
                peer_key="sync_us_per_message",
                target="≥ 10× less than 0.2",
                status=ratio_verdict("sync_us_per_message"),
            ),
        ),
        reps=40,
        quick_reps=8,
        warmup=5,
    )
)
