"""Peer side of the cache benchmark: AutoGen 0.2.35's OpenAIWrapper, uncached and as a disk-cache hit.

It talks through the ``openai`` SDK to parley's scripted server, started here in its own process
with parley's interpreter (``server_python``) by ``bench/scripted_model.py``. Each sample makes
``calls`` calls of each kind and reports the mean per call:

- ``uncached_ms``: ``create(messages=..., cache_seed=None)``;
- ``seed_hit_us``: ``create(messages=..., cache_seed=42)``, 0.2's default path, which opens
  ``Cache.disk(42, ".cache")`` on every call (the working directory is a temporary folder);
- ``open_hit_us``: ``create(messages=..., cache=cache)`` with one ``Cache.disk(...)`` made up front.

Config: ``{"messages": int, "calls": int, "server_python": str}``. Run by the orchestrator inside
the peer venv.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _protocol import Close, Sample, serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench.scripted_model import REPLY, start_server, stop_server


def history(n: int) -> list[dict[str, Any]]:
    messages = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(1, n):
        role = "user" if i % 2 else "assistant"
        messages.append({"role": role, "content": f"Message {i}: what is {i} times {i}?"})
    return messages


def setup(config: dict[str, Any]) -> tuple[Sample, dict[str, str], Close]:
    import autogen
    from autogen import OpenAIWrapper
    from autogen.cache import Cache

    server, url = start_server(config["server_python"])
    folder = tempfile.mkdtemp(prefix="peer-bench-cache-")
    os.chdir(folder)  # cache_seed's cache goes to ./.cache
    client = OpenAIWrapper(config_list=[{"model": "gpt-4o-mini", "base_url": url, "api_key": "sk-bench"}])
    open_cache = Cache.disk(cache_seed=7, cache_path_root=os.path.join(folder, "open"))
    messages = history(int(config["messages"]))
    calls = int(config["calls"])

    def mean_s(**kwargs: Any) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            response = client.create(messages=messages, **kwargs)
            text = client.extract_text_or_completion_object(response)[0]
            if text != REPLY:
                raise RuntimeError(f"unexpected reply: {text!r}")
        return (time.perf_counter() - start) / calls

    mean_s(cache_seed=42)  # fill both caches
    mean_s(cache=open_cache)

    def sample() -> dict[str, float]:
        uncached = mean_s(cache_seed=None)
        seed_hit = mean_s(cache_seed=42)
        open_hit = mean_s(cache=open_cache)
        return {
            "uncached_ms": uncached * 1e3,
            "seed_hit_us": seed_hit * 1e6,
            "open_hit_us": open_hit * 1e6,
            "seed_hit_share_pct": seed_hit / uncached * 100,
        }

    def close() -> None:
        open_cache.close()
        stop_server(server)
        shutil.rmtree(folder, ignore_errors=True)

    return sample, {"autogen": autogen.__version__, "server": url}, close


if __name__ == "__main__":
    serve(setup)
