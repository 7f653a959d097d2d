"""The approval step: what decides, before any block of a call runs, whether the call may run.

Every built-in executor takes ``approve=``:

- a callable ``(blocks) -> decision``, sync or async, where the decision is a bool or an
  `ApprovalDecision` (to give the model a reason);
- ``"human"``: ask through the IOStream (`HumanApproval`), showing the blocks; ``y`` or ``yes``
  runs them, anything else refuses (a reply other than ``n``/``no`` is passed to the model as the
  reason);
- None: no approval step.

The local executor's default is `DangerousCommandGuard`, which refuses AutoGen 0.2's list of
destructive shell commands (``rm -rf``, ``dd``, moving files to ``/dev/null``, writing to a
block device, a fork bomb); the others default to None, since their code runs in a sandbox or
in a kernel the user chose.

A refused call runs no block: its result has exit code 1 and says why, for the model to read,
and the refusal is logged on the ``parley.coding.approval`` logger (INFO).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from parley._logging import get_logger
from parley.coding.base import CodeBlock
from parley.coding.utils import normalize_lang
from parley.exceptions import ConfigError

__all__ = [
    "Approve",
    "ApprovalDecision",
    "DangerousCommandGuard",
    "HumanApproval",
    "HumanIO",
    "check_approve",
    "dangerous_command",
    "decide",
    "set_default_human_io",
]

_log = get_logger("parley.coding.approval")


@dataclass(frozen=True)
class ApprovalDecision:
    """What the approval step decided.

    Attributes:
        approved: True to run the blocks.
        reason: why they were refused (shown to the model), or a note; may be empty.
    """

    approved: bool
    reason: str = ""


Decision: TypeAlias = "bool | ApprovalDecision"
Approve: TypeAlias = Callable[[Sequence[CodeBlock]], "Decision | Awaitable[Decision]"]
"""An approval step: takes the blocks of one call, returns (or awaits to) a bool or an `ApprovalDecision`."""


class HumanIO(Protocol):
    """Where `HumanApproval` shows the blocks and reads the answer (an IOStream fits)."""

    def print(self, *objects: object, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        """Show ``objects`` like the builtin `print`."""
        ...

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        """Ask for one line and return it without the newline."""
        ...


_default_human_io: Callable[[], HumanIO] | None = None


def set_default_human_io(get: Callable[[], HumanIO]) -> None:
    """Set where ``approve="human"`` asks when no ``io`` is given: ``get()`` is called at each question.

    `parley.agentchat` sets it to the current IOStream (``IOStream.get_default``) when imported,
    so the question goes wherever the chat's prints and human input go.
    """
    global _default_human_io
    _default_human_io = get


class _BuiltinIO:
    """The terminal, through the builtins, for an executor used without parley.agentchat."""

    def print(self, *objects: object, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        print(*objects, sep=sep, end=end, flush=flush)

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        return input(prompt)


class HumanApproval:
    """Ask a human to approve each call: the blocks are shown, then ``y``/``yes`` runs them.

    The question is asked in a worker thread, so other conversations on the event loop go on
    while the human reads.

    Args:
        io: where to show the blocks and ask. Default: the current IOStream (see
            `set_default_human_io`), else the terminal.
    """

    def __init__(self, io: HumanIO | None = None) -> None:
        self._io = io

    async def __call__(self, blocks: Sequence[CodeBlock]) -> ApprovalDecision:
        """Show ``blocks`` and ask; return the human's decision."""
        io = self._io or (_default_human_io() if _default_human_io is not None else _BuiltinIO())
        shown = "\n".join(f"--- block {i} ({block.language}) ---\n{block.code}" for i, block in enumerate(blocks, 1))
        io.print(f"The code below is about to run.\n{shown}")
        prompt = f"Run {'this block' if len(blocks) == 1 else f'these {len(blocks)} blocks'}? [y/N] (or type why not): "
        answer = (await asyncio.to_thread(io.input, prompt)).strip()
        if answer.lower() in ("y", "yes"):
            return ApprovalDecision(True)
        if answer.lower() in ("", "n", "no"):
            return ApprovalDecision(False, "the human did not approve running it")
        return ApprovalDecision(False, f"the human did not approve running it, and said: {answer}")


_SHELLS = frozenset({"bash", "sh", "shell", "zsh"})

# AutoGen 0.2's list of destructive shell commands, with its messages (0.2 scripts test for them).
_RM_RF = "Use of 'rm -rf' command is not allowed."
_MV_NULL = "Moving files to /dev/null is not allowed."
_DD = "Use of 'dd' command is not allowed."
_DISK = "Overwriting disk blocks directly is not allowed."
_FORK_BOMB = "Fork bombs are not allowed."
_DISK_WRITE = re.compile(r">\s{0,16}/dev/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d)")
_SEPARATORS = re.compile(r"[\n;|&()`]")
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-"


class DangerousCommandGuard:
    """Refuse shell blocks that match AutoGen 0.2's destructive commands; run everything else.

    The patterns: ``rm -rf`` (and ``-fr``, ``-Rf`` ...), ``mv … /dev/null``, ``dd``, a
    redirection to a disk device (``> /dev/sda``, ``/dev/nvme0n1`` ...), and a fork bomb
    (``:(){ :|:& };:`` under any function name). Python blocks are not checked: a guard on text
    cannot stop Python code, only a sandbox can (see the security page of the docs).
    """

    def __call__(self, blocks: Sequence[CodeBlock]) -> ApprovalDecision:
        """Refuse the call when a shell block matches a pattern; the reason names it."""
        for block in blocks:
            message = dangerous_command(block.language, block.code)
            if message is not None:
                return ApprovalDecision(False, f"Potentially dangerous command detected: {message}")
        return ApprovalDecision(True)


def dangerous_command(language: str, code: str) -> str | None:
    """The message for the first destructive command in a shell block, or None (also for non-shell blocks).

    Linear in the length of ``code``: hostile input cannot make the check slow.
    """
    if normalize_lang(language) not in _SHELLS:
        return None
    if _DISK_WRITE.search(code):
        return _DISK
    if _has_fork_bomb(code):
        return _FORK_BOMB
    for command in _SEPARATORS.split(code):
        words = command.split()
        if "rm" in words and any(_recursive_force(word) for word in words[words.index("rm") + 1 :]):
            return _RM_RF
        if "mv" in words and "/dev/null" in words[words.index("mv") + 1 :]:
            return _MV_NULL
        if "dd" in words:
            return _DD
    return None


def _recursive_force(word: str) -> bool:
    """True for an ``rm`` flag word that asks for both recursion and force (``-rf``, ``-fR`` ...)."""
    if not word.startswith("-") or word.startswith("--"):
        return False
    return ("r" in word or "R" in word) and "f" in word


def _has_fork_bomb(code: str) -> bool:
    """True when a function calls itself piped into itself in the background (``f(){ f|f& };f``)."""
    start = code.find("()")
    while start != -1:
        body_start = code.find("{", start, start + 16)
        body_end = code.find("}", body_start, body_start + 256) if body_start != -1 else -1
        if body_end != -1:
            before = code[max(0, start - 80) : start].rstrip()
            name = before[len(before.rstrip(_NAME_CHARS)) :][-64:]
            body = "".join(code[body_start + 1 : body_end].split())
            if name and f"{name}|{name}&" in body:
                return True
        start = code.find("()", start + 2)
    return False


def check_approve(value: object) -> Approve | None:
    """Return ``approve=`` as a callable, or None.

    Args:
        value: a callable, ``"human"``, or None.

    Raises:
        ConfigError: anything else (a misspelt ``"human"`` gets a suggestion).
    """
    if value is None or callable(value):
        return value
    if value == "human":
        return HumanApproval()
    near_human = isinstance(value, str) and value.strip().lower() in ("human", "humans", "user", "ask")
    raise ConfigError(
        f"approve must be a callable (blocks) -> bool or ApprovalDecision, 'human', or None; got {value!r}.",
        key="approve",
        suggestions=["human"] if near_human else [],
    )


async def decide(approve: Approve | None, blocks: Sequence[CodeBlock], executor: str) -> ApprovalDecision:
    """Run the approval step on one call's ``blocks``; log a refusal.

    Args:
        approve: the step, or None (everything is approved).
        blocks: the blocks about to run.
        executor: the executor's class name, for the log.

    Returns:
        The decision. A step that raised is a refusal whose reason quotes the error.
    """
    if approve is None or not blocks:
        return ApprovalDecision(True)
    try:
        answer = approve(blocks)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as exc:
        answer = ApprovalDecision(False, f"the approval step failed: {type(exc).__name__}: {exc}")
    decision = answer if isinstance(answer, ApprovalDecision) else ApprovalDecision(bool(answer))
    if decision.approved:
        _log.debug("%s: %d code block(s) approved", executor, len(blocks))
    if not decision.approved:
        _log.info(
            "%s refused %d code block(s) (%s): %s",
            executor,
            len(blocks),
            ", ".join(block.language or "?" for block in blocks),
            decision.reason or "no reason given",
        )
    return decision
