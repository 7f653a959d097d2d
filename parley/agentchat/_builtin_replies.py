"""The built-in reply functions of `ConversableAgent`, in pipeline order.

1. `a_check_termination_and_human_reply`: stop, or ask a human (see `_termination`).
2. `a_generate_tool_calls_reply`: run the tool calls of the last message.
3. `a_generate_code_execution_reply`: run the code found in recent messages.
4. `a_generate_oai_reply`: ask the model.

They are a mixin so the agent module stays about one job: conversation state and dispatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from parley._sync import run_sync
from parley.agentchat import _termination as term
from parley.agentchat import chat as _chat
from parley.agentchat._code_execution import (
    CodeExecution,
    find_code_blocks,
    format_result,
    refused_result,
    result_reply,
)
from parley.agentchat._function_calls import FunctionCallsMixin, any_needs_rewrite, as_function_call
from parley.agentchat._model_clients import create_reply
from parley.agentchat._replies import DECLINED
from parley.agentchat._tools import run_tool_calls
from parley.agentchat._watch import report_tool_calls, report_tool_results, report_usage, run_watched
from parley.agentchat.events import sink_now
from parley.agentchat.io import IOStream
from parley.agentchat.tools import ToolsMixin
from parley.exceptions import ModelResponseError
from parley.llm.types import Message, ToolSpec
from parley.llm.wrapper import OpenAIWrapper
from parley.prompts import (
    HUMAN_INPUT_ALWAYS,
    HUMAN_INPUT_AUTO_REPLY_NOTICE,
    HUMAN_INPUT_NO_INPUT,
    HUMAN_INPUT_TERMINATE,
)

if TYPE_CHECKING:
    from collections import defaultdict

    from parley.agentchat.agent import Agent

__all__ = ["ReplyFunctionsMixin", "quick_termination_reply", "quick_tool_calls_reply"]


def quick_tool_calls_reply(agent: Any, messages: list[Message] | None, sender: Any = None) -> tuple[bool, Any] | None:
    """`DECLINED` when `ReplyFunctionsMixin.a_generate_tool_calls_reply` answers ``(False, None)`` at once, else None.

    The reply pipeline asks this first (a plain call, no coroutine) on every message.
    """
    return DECLINED if not messages or not messages[-1].get("tool_calls") or not agent._function_map else None


def quick_termination_reply(agent: Any, messages: list[Message] | None, sender: Any = None) -> tuple[bool, Any] | None:
    """`ReplyFunctionsMixin.a_check_termination_and_human_reply`'s answer when it asks no human, else None.

    The reply pipeline asks this first (a plain call, no coroutine) on every message; the method
    itself starts with it. It counts the auto-reply, or resets the count when the chat ends.
    The decision is `_termination.decide`'s, spelled out without its keyword call and result
    object (this runs on every message).
    """
    mode = agent.human_input_mode
    if mode == "ALWAYS":  # `decide`: always ask
        return None
    last = messages[-1] if messages else None
    is_termination = agent._is_termination_msg(last) if last else False
    counter = agent._auto_reply_counter
    count = counter[sender]
    limit = agent._max_auto_reply_dict[sender]
    if not (is_termination or count >= limit):  # `decide`: AUTO_REPLY; then `_auto_reply`, spelled out
        if limit == 0:
            return _STOP
        counter[sender] = count + 1
        if mode != "NEVER" and not agent._quiet():
            IOStream.get_default().print(HUMAN_INPUT_AUTO_REPLY_NOTICE, flush=True)
        return DECLINED
    if mode == "NEVER":  # `decide`: TERMINATE
        counter[sender] = 0
        return _STOP
    return None  # `decide`: ask the human


_STOP: tuple[bool, Any] = (True, None)
_OWN_OFFERS: dict[type, bool] = {}
_NOT_MAPPINGS: dict[type, bool] = {}


def _not_mapping(kind: type) -> bool:
    """Whether ``kind`` is not a `Mapping` (cached per class: an ABC check costs more)."""
    plain = _NOT_MAPPINGS[kind] = not issubclass(kind, Mapping)
    return plain


def _own_offers(cls: type) -> bool:
    """Whether ``cls`` keeps parley's own ``tools`` and ``functions`` properties (cached per class)."""
    own = _OWN_OFFERS[cls] = (
        getattr(cls, "tools", None) is ToolsMixin.__dict__["tools"]
        and getattr(cls, "functions", None) is FunctionCallsMixin.__dict__["functions"]
    )
    return own


_UNSCANNED: tuple[int, bool] = (0, False)


class ReplyFunctionsMixin:
    """The default reply functions; `ConversableAgent` registers them at construction."""

    _name: str
    _system_message: str
    human_input_mode: str
    silent: bool | None
    llm_config: Any
    client: OpenAIWrapper | None
    _is_termination_msg: Callable[[Message], bool]
    _auto_reply_counter: defaultdict[Any, int]
    _max_auto_reply_dict: defaultdict[Any, int]
    _human_input: list[str]
    _function_map: dict[str, Callable[..., Any]]
    _code_execution: CodeExecution | None
    _oai_messages: defaultdict[Any, list[Message]]
    _tool_scan: dict[Any, tuple[int, bool]]
    _tool_specs: tuple[ToolSpec, ...]
    _function_specs: tuple[dict[str, Any], ...]

    if TYPE_CHECKING:

        @property
        def tools(self) -> list[ToolSpec]:
            """The tools sent to the model (provided by `parley.agentchat.tools.ToolsMixin`)."""
            ...

        @property
        def functions(self) -> list[dict[str, Any]]:
            """Legacy function specs (provided by `parley.agentchat._function_calls.FunctionCallsMixin`)."""
            ...

    async def a_check_termination_and_human_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | Message | None]:
        """Stop, ask the human, or let the next reply function answer (see `_termination.decide`)."""
        quick = quick_termination_reply(self, messages, sender)
        if quick is not None:  # no human to ask
            return quick
        last = messages[-1] if messages else {}
        decision = term.decide(
            self.human_input_mode,
            is_termination=bool(last) and self._is_termination_msg(last),
            auto_replies=self._auto_reply_counter[sender],
            max_auto_replies=self._max_auto_reply_dict[sender],
        )
        action = decision.action
        answer = ""
        if action is term.Action.ASK_HUMAN:
            template = HUMAN_INPUT_ALWAYS if decision.prompt_kind == "always" else HUMAN_INPUT_TERMINATE
            answer = await self.a_get_human_input(
                template.format(name=self._name, sender=getattr(sender, "name", "the sender"))
            )
            if not answer and not (self._quiet() or decision.terminate_if_empty):
                IOStream.get_default().print(HUMAN_INPUT_NO_INPUT, flush=True)
            action = term.after_human_input(decision, answer)
        if action is term.Action.TERMINATE:
            self._auto_reply_counter[sender] = 0
            return True, None
        if action is term.Action.HUMAN_REPLY:
            self._auto_reply_counter[sender] = 0
            tool_calls = last.get("tool_calls") if last else None
            if tool_calls:  # keep the history valid: every tool call gets one response
                responses: list[Message] = [
                    {"tool_call_id": c.get("id", ""), "role": "tool", "content": answer} for c in tool_calls
                ]
                return True, {"role": "tool", "tool_responses": responses, "content": answer}
            return True, answer
        return self._auto_reply(sender)

    def _auto_reply(self, sender: Agent | None) -> tuple[bool, None]:
        """Let the next reply function answer, counting one more auto-reply to ``sender``."""
        if self._max_auto_reply_dict[sender] == 0:
            return _STOP
        self._auto_reply_counter[sender] += 1
        if self.human_input_mode != "NEVER" and not self._quiet():
            IOStream.get_default().print(HUMAN_INPUT_AUTO_REPLY_NOTICE, flush=True)
        return DECLINED

    def _quiet(self) -> bool:
        return bool(self.silent) or _chat.SILENT.get()

    async def a_get_human_input(self, prompt: str) -> str:
        """Ask the human through the IOStream and record the answer in this chat's human input.

        The stream's blocking ``input`` runs in a worker thread, so other chats in the process go
        on while this one waits for the human.
        """
        answer = await asyncio.to_thread(IOStream.get_default().input, prompt)
        self._human_input.append(answer)
        for collected in _chat.HUMAN_INPUT.get():
            collected.append(answer)
        return answer

    def get_human_input(self, prompt: str) -> str:
        """Sync shell over `a_get_human_input`."""
        return run_sync(self.a_get_human_input(prompt))

    async def a_generate_tool_calls_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, Message | None]:
        """Execute the tool calls in the last message, if this agent has their functions."""
        if not messages or quick_tool_calls_reply(self, messages) is not None:  # one test, shared with the pipeline
            return False, None
        calls = messages[-1]["tool_calls"]
        report_tool_calls(self._name, calls)
        reply = await run_tool_calls(calls, self._function_map)
        report_tool_results(self._name, calls, reply)
        return True, reply

    async def a_generate_code_execution_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | Message | None]:
        r"""Run the code in the newest recent message that has some (see `find_code_blocks`).

        The reply is ``exitcode: N (execution succeeded|execution failed)\nCode output: ...``; with
        ``send_images`` on, a message whose content parts add the images the code produced.
        """
        setup = self._code_execution
        if setup is None or not messages:
            return False, None
        blocks, refused = find_code_blocks(messages, setup)
        if refused:
            assert setup.allowed_languages is not None
            return True, format_result(refused_result(refused, setup.allowed_languages))
        if not blocks:
            return False, None
        show = not self._quiet()
        if show:
            IOStream.get_default().print(f">>>>>>>> EXECUTING {len(blocks)} CODE BLOCK(S)...", flush=True)
        result = await run_watched(self._name, setup, blocks, show=show)  # output shown as it comes
        return True, result_reply(result, setup.images, setup.executor)

    async def a_generate_oai_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, config: Any = None
    ) -> tuple[bool, str | Message | None]:
        """Ask the model for the reply.

        With ``"stream": True`` in ``llm_config`` the tokens are printed as they arrive, under the
        header of the message they make (unless the agent or its receiver is silent); the
        message is not printed again when it is sent. With a pydantic model class as ``response_format`` the reply is a
        message whose content is the JSON text and whose ``"parsed"`` holds the instance;
        ``"parsed"`` is not stored in the chat history, which keeps the JSON text.

        Raises:
            parley.exceptions.ModelError: the model call failed, or its reply had neither content
                nor tool calls.
        """
        client = self.client if config is None else config
        if client is None:
            return False, None
        request = _chat.api_messages(
            self._system_message, messages or [], has_tool_responses=self._has_tool_responses(messages, sender)
        )
        settings = self.llm_config
        functions: list[dict[str, Any]] | None
        tools: list[ToolSpec] | None
        if type(settings) is dict:
            nothing = not (settings.get("tools") or settings.get("functions"))
        else:  # a ModelClient: the specs are kept on the agent (a Mapping's own keys count otherwise)
            nothing = not (self._tool_specs or self._function_specs) and (
                _NOT_MAPPINGS.get(kind := type(settings)) or _not_mapping(kind)
            )
        if nothing and (_OWN_OFFERS.get(cls := type(self)) or _own_offers(cls)):
            # what `tools` and `functions` give then (empty lists), without building them
            tools = functions = offered = None
        else:
            tools = self.tools
            functions = self.functions
            offered = (tools + [{"type": "function", "function": f} for f in functions] if functions else tools) or None
        if type(client) is OpenAIWrapper and not client.streams:  # what its create(...) calls, one call less
            response = await client.respond(request, tools=offered)
        elif getattr(client, "streams", False):
            # Tokens show where the message would be printed: not when its receiver is silent.
            show = not (self._quiet() or getattr(sender, "silent", False))
            response = await create_reply(
                client, request, offered, show_tokens=show, agent=self._name, speaker=self, recipient=sender
            )
        else:
            response = await client.create(request, tools=offered)
        if sink_now() is not None:  # `report_usage`'s own test, without its call
            report_usage(self._name, response)
        msg = response.message
        calls = msg.get("tool_calls")
        if calls:
            reply: Message = {"role": "assistant", "content": msg.get("content"), "tool_calls": calls}
            return True, as_function_call(reply, functions, tools or []) if functions else reply
        content = msg.get("content")
        if content is None:
            raise ModelResponseError(f"The model's reply to {self._name} had neither content nor tool calls.")
        if response.parsed is not None:
            return True, cast(Message, {"role": "assistant", "content": content, "parsed": response.parsed})
        return True, content if isinstance(content, str) else {"role": "assistant", "content": content}

    def _has_tool_responses(self, messages: list[Message] | None, sender: Agent | None) -> bool | None:
        """Whether a stored conversation holds tool responses, scanning only what is new since last time.

        Returns None (scan it all) for lists that are not one of this agent's stored conversations.
        """
        if not messages or sender is None or messages is not self._oai_messages.get(sender):
            return None
        scan = self._tool_scan
        scanned, found = scan.get(sender, _UNSCANNED)
        n = len(messages)
        if scanned == n:  # nothing new since the last reply
            return found
        if scanned > n:
            scanned, found = 0, False
        if not found:
            found = any_needs_rewrite(messages, scanned)
        scan[sender] = (n, found)
        return found
