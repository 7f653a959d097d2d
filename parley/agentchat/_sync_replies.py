"""AutoGen 0.2's public sync methods of `ConversableAgent`, each a thin shell over the async one.

0.2 keeps two hand-written copies of each reply function (``generate_oai_reply`` and
``a_generate_oai_reply`` ...). parley writes each once, as ``async def``; the sync names here run
it with `parley._sync.run_sync`, which also works inside a running event loop. Registering a sync
shell (``register_reply(..., ConversableAgent.generate_oai_reply)``) registers the async form:
`reply_shell` marks each shell with the name of the async method it stands for, and
`parley.agentchat._replies.ReplyEntry` awaits that method instead, so the pipeline never blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from parley._sync import run_sync
from parley.agentchat._code_execution import CodeExecution
from parley.agentchat._replies import REPLY_SHELL_ATTR
from parley.coding.base import CodeBlock

if TYPE_CHECKING:
    from parley.agentchat.chat import ChatResult
    from parley.llm.types import Message

__all__ = ["SyncRepliesMixin", "reply_shell"]


def reply_shell(async_name: str) -> Callable[..., Any]:
    """The sync reply function ``f(self, messages=None, sender=None, config=None)`` for ``async_name``."""

    def shell(self: Any, messages: list[Message] | None = None, sender: Any = None, config: Any = None) -> Any:
        return run_sync(getattr(self, async_name)(messages=messages, sender=sender, config=config))

    shell.__name__ = shell.__qualname__ = async_name[2:]
    shell.__doc__ = f"Sync shell over `{async_name}`: ``(final, reply)`` for ``messages`` from ``sender``."
    setattr(shell, REPLY_SHELL_ATTR, async_name)
    return shell


class SyncRepliesMixin:
    """0.2's sync reply methods and helpers (`run_code`, `execute_code_blocks`, `generate_init_message` ...)."""

    _code_execution: CodeExecution | None
    _hooks: dict[str, list[Callable[..., Any]]]
    _finished_chats: list[ChatResult]

    generate_oai_reply = reply_shell("a_generate_oai_reply")
    check_termination_and_human_reply = reply_shell("a_check_termination_and_human_reply")
    generate_code_execution_reply = reply_shell("a_generate_code_execution_reply")
    generate_tool_calls_reply = reply_shell("a_generate_tool_calls_reply")
    generate_function_call_reply = reply_shell("a_generate_function_call_reply")

    @property
    def hook_lists(self) -> dict[str, list[Callable[..., Any]]]:
        """The hooks registered on each hookable method (see `register_hook`), by method name."""
        return self._hooks

    async def a_generate_init_message(self, message: str | Message | None, **kwargs: Any) -> str | Message:
        """The first message of a chat: ``message`` (the human's answer when None) with ``carryover`` added.

        Args:
            message: a str or a message dict; None asks the human.
            **kwargs: ``carryover``, a str or a list of str/messages appended as context.

        Raises:
            parley.exceptions.ConfigError: ``message`` is not a str or a dict.
        """
        from parley.agentchat import chat as _chat

        return await _chat.initial_message(self, None, message, kwargs)

    def generate_init_message(self, message: str | Message | None, **kwargs: Any) -> str | Message:
        """Sync shell over `a_generate_init_message`."""
        return run_sync(self.a_generate_init_message(message, **kwargs))

    def get_chat_results(self, chat_index: int | None = None) -> list[ChatResult] | ChatResult:
        """The results of the chats this agent's last `initiate_chats` ran; one of them by index."""
        return self._finished_chats if chat_index is None else self._finished_chats[chat_index]

    async def a_execute_code_blocks(self, code_blocks: Sequence[tuple[str, str] | CodeBlock]) -> tuple[int, str]:
        """Run blocks with this agent's executor (a local one when code execution is off).

        Args:
            code_blocks: ``(language, code)`` pairs, as 0.2's ``extract_code`` returns, or `CodeBlock`.

        Returns:
            ``(exit_code, output)``: the executor's result for the blocks run in order, stopping
            at the first failure, as in 0.2.
        """
        blocks = [
            b if isinstance(b, CodeBlock) else CodeBlock(code=b[1], language=b[0] or "python") for b in code_blocks
        ]
        setup = self._code_execution or CodeExecution.from_config({"executor": "local"})
        result = await setup.run(blocks)
        return result.exit_code, result.output

    def execute_code_blocks(self, code_blocks: Sequence[tuple[str, str] | CodeBlock]) -> tuple[int, str]:
        """Sync shell over `a_execute_code_blocks`."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    def run_code(self, code: str, **kwargs: Any) -> tuple[int, str, None]:
        """Run one piece of code; 0.2's override point, kept for subclasses that call it.

        Args:
            code: the code.
            **kwargs: ``lang`` (default ``"python"``); 0.2's other keywords are accepted and ignored:
                this agent's executor decides where and how the code runs.

        Returns:
            ``(exit_code, output, None)``: 0.2's shape, whose third item (a Docker image) is unused.
        """
        exit_code, output = self.execute_code_blocks([(str(kwargs.get("lang") or "python"), code)])
        return exit_code, output, None
