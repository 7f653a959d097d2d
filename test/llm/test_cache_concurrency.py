"""Several processes write one cache at once, on disk and in a real Redis: nothing is lost or torn.

Each writer process stores every shared key (so writers overwrite each other's entries all the
time), reads it back, and stores keys of its own. The writers start together: each says it is
ready, and all begin when the test creates a "go" file. Afterwards every entry must be there,
whole, and the SQLite file must pass ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from parley import Cache

WRITERS = 4
KEYS = 150
PAD = 2_000  # characters per value, so a torn write would show

WRITER = """
import json, os, sys, time
from parley import Cache

args = json.loads(sys.argv[1])
w, n, pad = args["writer"], args["keys"], args["pad"]
cache = Cache(args["config"])
cache.get("warm-up")  # open the store before the start signal
open(os.path.join(args["dir"], f"ready-{w}"), "w").close()
while not os.path.exists(os.path.join(args["dir"], "go")):
    time.sleep(0.002)
with cache:
    for i in range(n):
        cache.set(f"shared-{i}", {"writer": w, "i": i, "pad": "x" * pad})
        got = cache.get(f"shared-{i}")
        assert got["i"] == i and len(got["pad"]) == pad, got
        cache.set(f"own-{w}-{i}", [w, i])
print("done", w)
"""


def run_writers(config: dict[str, Any], folder: Path) -> None:
    def start(w: int) -> subprocess.Popen[str]:
        args = {"writer": w, "keys": KEYS, "pad": PAD, "config": config, "dir": str(folder)}
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    procs = [start(w) for w in range(WRITERS)]
    try:
        while len([p for p in folder.iterdir() if p.name.startswith("ready-")]) < WRITERS:
            if any(p.poll() is not None for p in procs):
                break  # one died before the start: its output says why
            time.sleep(0.01)
        (folder / "go").touch()
        outputs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for w, (p, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert p.returncode == 0, f"writer {w} failed:\n{err}"
        assert out.strip() == f"done {w}"


def check_entries(cache: Cache) -> None:
    for i in range(KEYS):
        value = cache.get(f"shared-{i}")
        assert value["i"] == i
        assert value["writer"] in range(WRITERS)
        assert value["pad"] == "x" * PAD
    for w in range(WRITERS):
        assert [cache.get(f"own-{w}-{i}") for i in range(KEYS)] == [[w, i] for i in range(KEYS)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["disk", "redis"])
def test_several_writer_processes_on_one_cache(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sync_dir = tmp_path / "sync"
    sync_dir.mkdir()
    if backend == "disk":
        config: dict[str, Any] = {"cache_seed": 1, "cache_path_root": str(tmp_path / "cache")}
    else:
        seed, url = request.getfixturevalue("redis_seed"), request.getfixturevalue("redis_url")
        config = {"cache_seed": seed, "redis_url": url}
    run_writers(config, sync_dir)
    with Cache(config) as cache:
        check_entries(cache)
    if backend == "disk":
        with sqlite3.connect(tmp_path / "cache" / "1" / "cache.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("SELECT count(*) FROM entries").fetchone() == (KEYS * (1 + WRITERS),)
