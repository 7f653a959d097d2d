"""The demo conversation behind ``parley demo``: an assistant writes Python, a proxy runs it.

Without an API key the assistant is a scripted model. It is honest about it: it writes the
program, then reads the *executed* output from the conversation and reports what the code
printed; it knows no answer in advance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parley.llm.types import Message

__all__ = ["TASK", "demo_program", "run_demo", "scripted_demo_reply"]

TASK = (
    "Find the first 20 prime numbers, and the SHA-256 checksum of the file {path}. "
    "Compute both by running Python code, then state the results."
)


def demo_program(path: str) -> str:
    """The program the scripted assistant writes: primes by trial division, SHA-256 via hashlib."""
    return f"""```python
# filename: primes_and_checksum.py
import hashlib

def first_primes(n):
    primes = []
    candidate = 2
    while len(primes) < n:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes

digest = hashlib.sha256()
with open({path!r}, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 16), b""):
        digest.update(chunk)

print("PRIMES:", " ".join(map(str, first_primes(20))))
print("SHA256:", digest.hexdigest())
```"""


def scripted_demo_reply(messages: Sequence[Message], tools: Any = None, params: Mapping[str, Any] | None = None) -> str:
    """The scripted assistant's next message, computed from the conversation so far."""
    last = str(messages[-1].get("content") or "") if messages else ""
    if "exitcode:" not in last:
        match = re.search(r"the file (.+?)\. Compute", last)
        path = match.group(1) if match else "README.md"
        return "I'll compute both with one Python program.\n\n" + demo_program(path)
    if not last.startswith("exitcode: 0"):
        return f"The program failed, so I cannot give the results. Its output was:\n{last}\n\nTERMINATE"
    primes = re.search(r"PRIMES: (.*)", last)
    sha = re.search(r"SHA256: ([0-9a-f]{64})", last)
    if not (primes and sha):
        return f"The program ran but printed something unexpected:\n{last}\n\nTERMINATE"
    return (
        f"The first 20 primes are {primes.group(1).strip()}.\nThe SHA-256 of the file is {sha.group(1)}.\n\nTERMINATE"
    )


def run_demo(path: Path, *, llm_config: Any, work_dir: Path, silent: bool = False) -> tuple[int, str]:
    """Run the demo chat.

    Args:
        path: the file to checksum.
        llm_config: the assistant's model (a ModelClient or an llm_config dict).
        work_dir: where the proxy writes and runs the code.
        silent: do not print the conversation.

    Returns:
        ``(exit_code, answer)``: 0 when code ran successfully and the chat ended with an answer.
    """
    from parley.agentchat import AssistantAgent, UserProxyAgent

    assistant = AssistantAgent("assistant", llm_config=llm_config)
    proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=8,
        code_execution_config={"executor": "local", "local": {"work_dir": str(work_dir), "timeout": 60}},
    )
    result = proxy.initiate_chat(assistant, message=TASK.format(path=path.resolve()), silent=silent)
    ran = any(str(m.get("content") or "").startswith("exitcode: 0") for m in result.chat_history)
    return (0 if ran and result.summary else 1), result.summary
