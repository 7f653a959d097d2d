"""The peers' own virtual environments, created on demand and cached, plus their worker processes.

There are two peers (`PEERS`): pyautogen 0.2.35 (`AUTOGEN_02`) and AutoGen 0.7
(`AUTOGEN_07`: ``autogen-agentchat`` and ``autogen-ext`` with the Docker and Jupyter executors'
extras). A peer never shares an interpreter with parley or with the other peer: each lives in
``bench/.venvs/<name>/`` (gitignored), created with ``sys.executable -m venv`` so every side runs
on the same base Python. Their measurement scripts in ``bench/peer/`` (``ag07_*.py`` for 0.7) run
inside the venv as long-lived worker processes that speak JSON lines (see
``bench/peer/_protocol.py``), so the orchestrator can interleave the sides' samples round by round.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "AUTOGEN_02",
    "AUTOGEN_07",
    "PEERS",
    "PEER_REQUIREMENT",
    "PEER_SCRIPTS",
    "Peer",
    "PeerError",
    "PeerWorker",
    "ensure_peer_venv",
    "peer_python",
]

BENCH_DIR = Path(__file__).resolve().parent
PEER_REQUIREMENT = "pyautogen==0.2.35"
PEER_VENV = BENCH_DIR / ".venvs" / "autogen-0.2.35"
PEER_SCRIPTS = BENCH_DIR / "peer"


@dataclass(frozen=True)
class Peer:
    """A framework parley is measured against, installed in a venv of its own.

    Attributes:
        key: the short name ``--peers`` takes (``"0.2"``).
        title: how the report names it (``"pyautogen 0.2.35"``).
        requirements: what ``pip install`` gets in its venv.
        venv: where its venv lives.
    """

    key: str
    title: str
    requirements: tuple[str, ...]
    venv: Path

    @property
    def python(self) -> Path:
        """The venv's interpreter (it may not exist yet)."""
        return peer_python(self.venv)


AUTOGEN_02 = Peer("0.2", "pyautogen 0.2.35", (PEER_REQUIREMENT,), PEER_VENV)
"""AutoGen 0.2.35 (the ``pyautogen`` distribution), whose API parley keeps."""

AUTOGEN_07 = Peer(
    "0.7",
    "AutoGen 0.7.5",
    ("autogen-agentchat==0.7.5", "autogen-ext[docker,jupyter-executor]==0.7.5"),
    BENCH_DIR / ".venvs" / "autogen-0.7.5",
)
"""AutoGen 0.7.5: AgentChat, and the extension package with its local, Docker and Jupyter executors."""

PEERS = (AUTOGEN_02, AUTOGEN_07)
"""Every peer, in the report's column order."""
_READY_MARKER = ".parley-bench-ready"
_INSTALL_TIMEOUT_S = 900.0


class PeerError(RuntimeError):
    """The peer venv could not be built, or a peer worker failed or went silent."""


def peer_python(venv: Path = PEER_VENV) -> Path:
    """Return the path of the interpreter inside ``venv`` (it may not exist yet)."""
    return venv / "bin" / "python"


def ensure_peer_venv(peer: Peer = AUTOGEN_02, *, log: IO[str] = sys.stderr) -> Path:
    """Create ``peer``'s venv with its requirements unless a finished one is cached; return its python.

    A venv counts as finished only when its marker file names the same requirements, so an
    interrupted install is redone rather than trusted.

    Args:
        peer: which peer; default pyautogen 0.2.35 in ``bench/.venvs/autogen-0.2.35``.
        log: where progress lines go.

    Returns:
        The path of the venv's ``python``.

    Raises:
        PeerError: ``venv`` or ``pip install`` failed (pip's output is in the message), or took
            more than 900 seconds.
    """
    python, requirement = peer.python, " ".join(peer.requirements)
    marker = peer.venv / _READY_MARKER
    if python.exists() and marker.exists() and marker.read_text().strip() == requirement:
        return python
    print(f"bench: creating the peer venv {peer.venv} with {requirement} (one-off) ...", file=log)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(peer.venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *peer.requirements],
    ]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"{' '.join(cmd)} took more than {_INSTALL_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0:
            raise PeerError(
                f"{' '.join(cmd)} failed with exit code {done.returncode}:\n{done.stdout}{done.stderr}\n"
                "Check that PyPI is reachable through pip, or run with --no-peer."
            )
    marker.write_text(requirement + "\n")
    return python


class PeerWorker:
    """A sampler that runs one ``bench/peer/<script>`` inside the peer venv as a worker process.

    The worker sets up once (imports autogen, builds agents), answers ``{"ready": ...}``, then
    answers each ``sample`` request with one JSON line. Its stderr goes to a temporary log that is
    quoted when something fails.

    Args:
        python: the peer venv's interpreter.
        script: the file name under ``bench/peer/``, e.g. ``"turns.py"``.
        config: JSON-serialisable settings passed to the script's ``setup``.
        timeout: seconds to wait for any one answer (set-up or sample); default 300.

    Raises:
        PeerError: the worker died, reported an error, or did not answer within ``timeout``.
    """

    def __init__(self, python: Path, script: str, config: dict[str, Any], *, timeout: float = 300.0) -> None:
        self._timeout = timeout
        self._workdir = tempfile.TemporaryDirectory(prefix="parley-bench-peer-")
        self._log = open(Path(self._workdir.name) / "stderr.log", "w+")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [str(python), str(PEER_SCRIPTS / script), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=self._workdir.name,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        self.script = script
        try:
            ready = self._receive()
        except BaseException:
            self.close()
            raise
        self.info: dict[str, str] = {str(k): str(v) for k, v in ready.get("info", {}).items()}

    def sample(self) -> dict[str, float]:
        """Ask the worker for one sample and return its named measurements."""
        self._send("sample")
        return {str(k): float(v) for k, v in self._receive()["sample"].items()}

    def close(self) -> None:
        """Tell the worker to quit, kill it if it does not, and remove its temporary directory."""
        if self._proc.poll() is None:
            try:
                self._send("quit")
                self._proc.wait(timeout=30)
            except (OSError, PeerError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()
        self._log.close()
        self._workdir.cleanup()

    def __enter__(self) -> PeerWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, command: str) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise self._failure("the worker exited") from exc

    def _receive(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failure(f"no answer within {self._timeout:.0f} s")
            readable, _, _ = select.select([self._proc.stdout], [], [], left)
            if readable:
                break
        line = self._proc.stdout.readline()
        if not line:
            raise self._failure(f"the worker exited with code {self._proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise self._failure(f"the worker reported:\n{answer['error']}")
        return answer

    def _failure(self, what: str) -> PeerError:
        self._log.flush()
        self._log.seek(0)
        tail = self._log.read()[-4000:]
        return PeerError(f"peer script {self.script}: {what}\n--- its stderr (tail) ---\n{tail}")
