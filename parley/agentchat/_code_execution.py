"""How an agent finds code in the conversation, runs it, and words the result for the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from parley._sync import call_blocking
from parley._tracing import traced_code
from parley.agentchat._chat_slots import slot_executor
from parley.agentchat._images import ImageBudget, image_parts
from parley.coding.base import CodeBlock, CodeExecutor, CodeResult
from parley.exceptions import ConfigError, ExecutorError
from parley.llm.types import Message

__all__ = ["DATA_LANGUAGES", "CodeExecution", "find_code_blocks", "format_result"]

# Fenced blocks in these languages are data or prose, never programs: an agent does not hand
# them to its executor (DESIGN.md: "JSON, YAML and other non-code blocks are never executed").
DATA_LANGUAGES = frozenset(
    {"json", "jsonc", "json5", "yaml", "yml", "toml", "xml", "csv", "tsv", "text", "txt",
     "plaintext", "markdown", "md", "html", "css", "ini", "diff", "log", "output"}
)  # fmt: skip


@dataclass(frozen=True)
class CodeExecution:
    """An agent's code-execution settings, resolved once from ``code_execution_config``.

    Attributes:
        executor: the executor that runs the blocks.
        last_n_messages: how many recent messages to search for code, or ``"auto"``: the
            messages received since this agent last spoke.
        allowed_languages: languages this agent runs (lower-case), or None for all the executor
            supports.
        images: when set, images the code produced are attached to the reply for a vision
            model, within this budget (``send_images`` in the config; off by default).
    """

    executor: CodeExecutor
    last_n_messages: int | str = "auto"
    allowed_languages: frozenset[str] | None = None
    images: ImageBudget | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CodeExecution:
        """Build from a ``code_execution_config`` dict.

        Raises:
            ConfigError: a bad ``last_n_messages``/``allowed_languages``, or any executor error
                from `parley.coding.factory.CodeExecutorFactory.create`.
        """
        from parley.coding.factory import CodeExecutorFactory

        last_n = config.get("last_n_messages", "auto")
        if not (last_n == "auto" or (isinstance(last_n, int) and not isinstance(last_n, bool) and last_n >= 0)):
            raise ConfigError(
                f"last_n_messages must be a non-negative int or 'auto', got {last_n!r}.",
                key="last_n_messages",
            )
        allowed = config.get("allowed_languages")
        if allowed is not None:
            if isinstance(allowed, str) or not all(isinstance(x, str) for x in allowed):
                raise ConfigError(
                    f"allowed_languages must be a list of language names, got {allowed!r}.",
                    key="allowed_languages",
                )
            allowed = frozenset(x.lower() for x in allowed)
        images = ImageBudget.from_config(config.get("send_images"))
        executor = slot_executor(config) or CodeExecutorFactory.create(dict(config))
        return cls(executor, last_n, allowed, images)

    @traced_code
    async def run(self, blocks: list[CodeBlock]) -> CodeResult:
        """Run ``blocks`` without blocking the event loop; an executor crash becomes a result."""
        ex: Any = self.executor
        try:
            if hasattr(ex, "a_execute_code_blocks"):
                return cast(CodeResult, await ex.a_execute_code_blocks(blocks))
            return cast(CodeResult, await call_blocking(ex.execute_code_blocks, blocks))
        except ExecutorError as e:
            return CodeResult(exit_code=1, output=f"The code executor failed: {e}")
        except Exception as e:  # a user's executor must not take the chat down
            return CodeResult(
                exit_code=1, output=f"The code executor {type(ex).__name__} raised {type(e).__name__}: {e}"
            )


def _count_auto(messages: Sequence[Message]) -> int:
    n = 0
    for m in reversed(messages):
        if m.get("role", "user") != "user":
            break
        n += 1
    return n


def find_code_blocks(messages: Sequence[Message], setup: CodeExecution) -> tuple[list[CodeBlock], list[CodeBlock]]:
    """Find the code to run: the newest recent message that has runnable blocks.

    Args:
        messages: the conversation, oldest first.
        setup: the agent's settings (extractor, ``last_n_messages``, ``allowed_languages``).

    Returns:
        ``(runnable, refused)``: the blocks to run, and blocks refused by ``allowed_languages``.
        Data blocks (JSON, YAML ... see `DATA_LANGUAGES`) are in neither. Both empty: no code.
    """
    last_n = _count_auto(messages) if setup.last_n_messages == "auto" else int(setup.last_n_messages)
    extractor = setup.executor.code_extractor
    for message in reversed(messages[len(messages) - min(last_n, len(messages)) :]):
        content = message.get("content")
        if not content:
            continue
        blocks = [b for b in extractor.extract_code_blocks(content) if b.language not in DATA_LANGUAGES]
        if not blocks:
            continue
        if setup.allowed_languages is None:
            return blocks, []
        ok = [b for b in blocks if b.language in setup.allowed_languages]
        return ok, [b for b in blocks if b.language not in setup.allowed_languages]
    return [], []


def format_result(result: CodeResult) -> str:
    r"""Word a result for the model: ``exitcode: N (execution succeeded|failed)\\nCode output: ...``."""
    status = "execution succeeded" if result.exit_code == 0 else "execution failed"
    text = f"exitcode: {result.exit_code} ({status})\nCode output: {result.output}"
    extra = [f for f in result.output_files if f != result.full_output_file]
    if extra:
        text += "\nOutput files: " + ", ".join(str(f) for f in extra)
    return text


def refused_result(refused: Sequence[CodeBlock], allowed: frozenset[str]) -> CodeResult:
    """The result for blocks in languages this agent is not allowed to run."""
    langs = sorted({b.language for b in refused})
    return CodeResult(
        exit_code=1,
        output=f"Not executed: {', '.join(langs)} code is not allowed here. "
        f"Write the code in one of: {', '.join(sorted(allowed))}.",
    )


def result_reply(result: CodeResult, images: ImageBudget | None, executor: object = None) -> str | Message:
    """The reply for a result: its text, plus image parts when ``images`` is set and there are any.

    Images are read only from inside the executor's ``output_dir`` (else its ``work_dir``) when
    it has one, and never through a symbolic link (see `image_parts`).
    """
    text = format_result(result)
    if images is None or not result.output_files:
        return text
    root = getattr(executor, "output_dir", None) or getattr(executor, "work_dir", None)
    parts, left_out = image_parts(result.output_files, images, root=Path(root) if root is not None else None)
    if left_out:
        text += f"\nNot attached (over the image budget or unreadable): {', '.join(left_out)}"
    if not parts:
        return text
    return {"content": [{"type": "text", "text": text}, *parts]}
