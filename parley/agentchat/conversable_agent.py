"""`ConversableAgent`: an agent that replies through an ordered pipeline of reply functions.

The default pipeline, first to last: termination and human input, tool calls, code execution,
the LLM. Each step is written once as ``async def``; the sync API (`send`, `receive`,
`generate_reply`, `initiate_chat` ...) is a thin `run_sync` shell that also works inside a
running event loop such as a Jupyter cell.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Literal, cast

from parley._runlog import session as runtime_logging
from parley._sync import run_sync
from parley._tracing import end_turn_span, turn_span
from parley.agentchat import _hooks, _peers
from parley.agentchat import _termination as term
from parley.agentchat import chat as _chat
from parley.agentchat._builtin_replies import ReplyFunctionsMixin, quick_termination_reply, quick_tool_calls_reply
from parley.agentchat._code_execution import CodeExecution
from parley.agentchat._conversation_state import ConversationStateMixin
from parley.agentchat._display import content_str, format_message
from parley.agentchat._function_calls import FunctionCallsMixin, quick_function_call_reply
from parley.agentchat._model_clients import STREAMS_PENDING, ModelClientsMixin, streamed_already
from parley.agentchat._nested import NestedChatsMixin
from parley.agentchat._private_names import PrivateNamesMixin
from parley.agentchat._replies import DECLINED, REPLY_SHELL_ATTR, ReplyEntry, Trigger, reply_key
from parley.agentchat._sync_replies import SyncRepliesMixin
from parley.agentchat.agent import Agent
from parley.agentchat.chat import ChatResult
from parley.agentchat.io import IOStream
from parley.agentchat.tools import ToolsMixin, register_function
from parley.exceptions import ConfigError, InvalidMessageError, UsageError
from parley.llm.types import Message
from parley.llm.wrapper import OpenAIWrapper
from parley.prompts import (
    DEFAULT_SYSTEM_MESSAGE,
)

__all__ = ["ConversableAgent", "register_function"]

HumanInputMode = Literal["ALWAYS", "TERMINATE", "NEVER"]
HOOKABLE_METHODS = (
    "process_last_received_message",
    "a_process_last_received_message",
    "process_all_messages_before_reply",
    "a_process_all_messages_before_reply",
    "process_message_before_send",
    "a_process_message_before_send",
)
_MESSAGE_KEYS = (
    "content", "function_call", "tool_calls", "tool_call_id", "tool_responses", "name", "role", "context",
)  # fmt: skip
_API_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


_BUILTIN_REPLIES = (
    "a_generate_oai_reply",
    "a_generate_code_execution_reply",
    "a_generate_tool_calls_reply",
    "a_generate_function_call_reply",
    "a_check_termination_and_human_reply",
)


def _builtin_reply(cls: type, async_name: str) -> Callable[..., Any]:
    """The built-in reply function to register: the async method, or a 0.2-style subclass's sync override."""
    if _peers.implements_async(cls, async_name):
        return cast(Callable[..., Any], getattr(cls, async_name))
    return cast(Callable[..., Any], getattr(cls, async_name[2:]))


_QUICK_REPLIES: dict[str, Callable[[Any, list[Any], Any], tuple[bool, Any] | None]] = {
    "a_check_termination_and_human_reply": quick_termination_reply,
    "a_generate_tool_calls_reply": quick_tool_calls_reply,
    "a_generate_function_call_reply": quick_function_call_reply,
}
_QUICK_KEYS = {"a_generate_tool_calls_reply": "tool_calls", "a_generate_function_call_reply": "function_call"}
"""`ReplyEntry.quick_key` of the built-in replies whose quick answer is `DECLINED` without that key."""


def _quick_reply(cls: type, async_name: str) -> Callable[[Any, list[Any], Any], tuple[bool, Any] | None] | None:
    """The pipeline's plain-call answer for a built-in reply (see `ReplyEntry.quick`), or None.

    Only when ``cls`` keeps both the async method and its sync shell as `ConversableAgent` has them.
    """
    test = _QUICK_REPLIES.get(async_name)
    if test is None:
        return None
    base = ConversableAgent
    kept = getattr(cls, async_name) is getattr(base, async_name) and getattr(cls, async_name[2:]) is getattr(
        base, async_name[2:]
    )
    return test if kept else None


_DIRECT_RECEIVE: dict[type, bool] = {}
"""`_peers.own_with_silent` for ``a_receive``, per receiver class (`ConversableAgent.a_send` asks on every message)."""


@lru_cache(maxsize=1024)
def _api_name(name: str | None) -> str | None:
    """The name as sent to the API, or None when the OpenAI API would reject it (or there is none).

    A class that subclasses 0.2's ``Agent`` Protocol without setting ``name`` has None there.
    """
    return name if isinstance(name, str) and _API_NAME.match(name) else None


def default_is_termination_msg(message: Message) -> bool:
    """True when the message's text ends with the word TERMINATE (ignoring trailing space)."""
    content = message.get("content")
    text = content if isinstance(content, str) else content_str(content)
    if "TERMINATE" not in text:  # the common case, decided by one substring search
        return False
    text = text.rstrip()
    if not text.endswith("TERMINATE"):
        return False
    return len(text) == 9 or not (text[-10].isalnum() or text[-10] == "_")


class ConversableAgent(
    ConversationStateMixin,
    ToolsMixin,
    FunctionCallsMixin,
    NestedChatsMixin,
    ModelClientsMixin,
    SyncRepliesMixin,
    ReplyFunctionsMixin,
    PrivateNamesMixin,
):
    """An agent that can converse: send, receive, and reply through registered reply functions.

    Args:
        name: the agent's name; unique in a chat. Names of letters, digits, ``_`` and ``-`` are
            sent to the model with each message; others are kept locally only.
        system_message: the system message for model calls. Default: a generic assistant.
        is_termination_msg: ``f(message) -> bool``; default: the text ends with ``TERMINATE``.
        max_consecutive_auto_reply: auto-replies in a row to one sender before stopping (or asking
            a human, in TERMINATE mode). Default 100.
        human_input_mode: ``"ALWAYS"`` (ask before every reply), ``"TERMINATE"`` (ask at a
            termination message or the limit) or ``"NEVER"``.
        function_map: tool name -> callable, for executing tool calls.
        code_execution_config: False, or a dict with ``"executor"`` (a registered name such as
            ``"local"``, ``"pkg.module:Class"``, or an instance), per-executor kwargs under the
            executor's name, ``last_n_messages`` (int or ``"auto"``) and ``allowed_languages``.
            AutoGen 0.2's ``{"work_dir": ..., "use_docker": False}`` form works too.
        llm_config: False (no model), a dict (``{"config_list": [...], "temperature": ...}``), or a
            `parley.llm.ModelClient` instance.
        default_auto_reply: the reply when no reply function produced one. Default ``""``.
        description: what this agent does, for other agents. Default: the system message.
        chat_messages: initial conversations, ``{agent: [messages]}``.
        silent: when True, never print; when None, each chat's ``silent`` decides.

    Raises:
        ConfigError: any argument is invalid (the message says which and how to fix it).
    """

    DEFAULT_CONFIG: Any = False
    MAX_CONSECUTIVE_AUTO_REPLY = 100

    def __init__(
        self,
        name: str,
        system_message: str | None = DEFAULT_SYSTEM_MESSAGE,
        is_termination_msg: Callable[[Message], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "TERMINATE",
        function_map: Mapping[str, Callable[..., Any]] | None = None,
        code_execution_config: Mapping[str, Any] | Literal[False] | None = False,
        llm_config: Any = None,
        default_auto_reply: str | Message = "",
        description: str | None = None,
        chat_messages: Mapping[Agent, list[Message]] | None = None,
        silent: bool | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"An agent needs a non-empty str name, got {name!r}.", key="name")
        if human_input_mode not in term.HUMAN_INPUT_MODES:
            import difflib

            raise ConfigError(
                f"human_input_mode must be one of {', '.join(term.HUMAN_INPUT_MODES)}, got {human_input_mode!r}.",
                key="human_input_mode",
                suggestions=difflib.get_close_matches(str(human_input_mode).upper(), term.HUMAN_INPUT_MODES, 1),
            )
        if max_consecutive_auto_reply is not None and (
            not isinstance(max_consecutive_auto_reply, int) or max_consecutive_auto_reply < 0
        ):
            raise ConfigError(
                f"max_consecutive_auto_reply must be an int >= 0, got {max_consecutive_auto_reply!r}.",
                key="max_consecutive_auto_reply",
            )
        self._name = name
        self._system_message = system_message or ""
        self._description = description if description is not None else self._system_message
        self.human_input_mode: HumanInputMode = human_input_mode
        self._is_termination_msg = is_termination_msg or default_is_termination_msg
        self._max_consecutive_auto_reply = (
            self.MAX_CONSECUTIVE_AUTO_REPLY if max_consecutive_auto_reply is None else max_consecutive_auto_reply
        )
        self._max_auto_reply_dict: defaultdict[Any, int] = defaultdict(self.max_consecutive_auto_reply)
        self._auto_reply_counter: defaultdict[Any, int] = defaultdict(int)
        self._oai_messages: defaultdict[Any, list[Message]] = defaultdict(list)
        if chat_messages:
            for agent, msgs in chat_messages.items():
                self._oai_messages[agent] = list(msgs)
        self.reply_at_receive: defaultdict[Any, bool] = defaultdict(bool)
        self._default_auto_reply = default_auto_reply
        self._function_map: dict[str, Callable[..., Any]] = dict(function_map or {})
        self._human_input: list[str] = []
        self.silent = silent
        self._hooks: dict[str, list[Callable[..., Any]]] = {m: [] for m in HOOKABLE_METHODS}
        self._reply_func_list: list[ReplyEntry] = []
        self._api_name = _api_name(name)
        self._tool_scan: dict[Any, tuple[int, bool]] = {}

        self.llm_config: Any = self.DEFAULT_CONFIG if llm_config is None else llm_config
        self.client: OpenAIWrapper | None = (
            None if self.llm_config is False else OpenAIWrapper.from_llm_config(self.llm_config)
        )
        if code_execution_config is None:
            code_execution_config = False
        if code_execution_config is not False and not isinstance(code_execution_config, Mapping):
            raise ConfigError(
                f"code_execution_config must be False or a dict, got {type(code_execution_config).__name__}. "
                'Example: {"executor": "local", "local": {"work_dir": "coding"}}.',
                key="code_execution_config",
            )
        self._code_execution_config = code_execution_config
        self._code_execution = (
            CodeExecution.from_config(code_execution_config) if code_execution_config is not False else None
        )

        self._finished_chats: list[ChatResult] = []
        for name in _BUILTIN_REPLIES:  # registered last first: termination ends up tried first
            if name != "a_generate_code_execution_reply" or self._code_execution is not None:
                func = _builtin_reply(type(self), name)
                self.register_reply([Agent, None], func)
                first = self._reply_func_list[0] if self._reply_func_list else None
                if first is not None and first.func is func:
                    first.quick = _quick_reply(type(self), name)
                    if first.quick is not None:
                        first.quick_key = _QUICK_KEYS.get(name)
        if runtime_logging.is_logging:
            runtime_logging.log_new_agent(
                self,
                {"name": self._name, "system_message": system_message, "is_termination_msg": is_termination_msg,
                 "max_consecutive_auto_reply": max_consecutive_auto_reply, "human_input_mode": human_input_mode,
                 "function_map": function_map, "code_execution_config": code_execution_config,
                 "llm_config": llm_config, "default_auto_reply": default_auto_reply, "description": description},
            )  # fmt: skip

    # ---- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The agent's name."""
        return self._name

    @property
    def description(self) -> str:
        """What the agent does (default: its system message)."""
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        self._description = value

    @property
    def system_message(self) -> str:
        """The system message sent first in every model call."""
        return self._system_message

    def update_system_message(self, system_message: str) -> None:
        """Replace the system message."""
        self._system_message = system_message

    @property
    def code_executor(self) -> Any:
        """The code executor, or None when code execution is off."""
        return None if self._code_execution is None else self._code_execution.executor

    @property
    def function_map(self) -> dict[str, Callable[..., Any]]:
        """Tool name -> callable used to execute tool calls."""
        return self._function_map

    def register_function(self, function_map: Mapping[str, Callable[..., Any] | None]) -> None:
        """Add (or, with a None value, remove) callables for tool execution."""
        for k, f in function_map.items():
            if f is None:
                self._function_map.pop(k, None)
            else:
                self._function_map[k] = f

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"

    # ---- registration ---------------------------------------------------------------------
    def register_reply(
        self,
        trigger: Trigger,
        reply_func: Callable[..., Any],
        position: int = 0,
        config: Any = None,
        reset_config: Callable[[Any], None] | None = None,
        *,
        ignore_async_in_sync_chat: bool = False,
        remove_other_reply_funcs: bool = False,
    ) -> None:
        """Add a reply function; the one at position 0 is tried first.

        Args:
            trigger: which senders it answers: a class, a name, an agent, a callable
                ``f(sender) -> bool``, None (no sender), or a list of these.
            reply_func: ``f(recipient, messages=None, sender=None, config=None) -> (final, reply)``,
                sync or async. When ``final`` is True, ``reply`` is the answer (None: no reply).
            position: where to insert it (0 = first).
            config: passed to the function as ``config``.
            reset_config: called with ``config`` by `reset`.
            ignore_async_in_sync_chat: accepted for AutoGen 0.2 compatibility; parley runs async
                reply functions in sync chats too.
            remove_other_reply_funcs: drop every other reply function first.

        Raises:
            ConfigError: the trigger or function is not usable, or position is out of range.
        """
        entry = ReplyEntry.make(trigger, reply_func, config, reset_config)
        if remove_other_reply_funcs:
            self._reply_func_list.clear()
        if not isinstance(position, int) or not 0 <= position <= len(self._reply_func_list):
            raise ConfigError(
                f"position must be between 0 and {len(self._reply_func_list)}, got {position!r}.",
                key="position",
            )
        self._reply_func_list.insert(position, entry)

    def replace_reply_func(self, old_reply_func: Callable[..., Any], new_reply_func: Callable[..., Any]) -> None:
        """Put ``new_reply_func`` where ``old_reply_func`` was registered.

        A built-in reply function matches by either name: ``ConversableAgent.generate_oai_reply``
        replaces the registered ``a_generate_oai_reply`` too.
        """
        old = reply_key(old_reply_func)
        for i, e in enumerate(self._reply_func_list):
            if e.key is old or e.key == old:
                self._reply_func_list[i] = ReplyEntry.make(e.trigger, new_reply_func, e.config, e.reset_config)

    def register_hook(self, hookable_method: str, hook: Callable[..., Any]) -> None:
        """Register ``hook`` on one of `HOOKABLE_METHODS`.

        ``process_last_received_message(content) -> content``,
        ``process_all_messages_before_reply(messages) -> messages`` and
        ``process_message_before_send(sender=, message=, recipient=, silent=) -> message`` (a hook
        without a ``sender`` parameter, written for an earlier 0.2 release, is called without it); each
        ``a_``-named form takes an async hook of the same shape (AG2's names). Both kinds run in
        every chat, sync or async: first the sync hooks, then the async ones, each in the order
        registered.

        Raises:
            ConfigError: an unknown hookable method (with a suggestion), or the hook is already there.
        """
        if hookable_method not in self._hooks:
            import difflib

            raise ConfigError(
                f"{hookable_method!r} is not a hookable method; use one of {', '.join(HOOKABLE_METHODS)}.",
                key="hookable_method",
                suggestions=difflib.get_close_matches(hookable_method, HOOKABLE_METHODS, 1),
            )
        if _hooks.registered(hook, self._hooks[hookable_method]):
            raise ConfigError(f"{hook!r} is already registered on {hookable_method}.", key="hook")
        self._hooks[hookable_method].append(_hooks.adapt(hookable_method, hook))

    # ---- messages -------------------------------------------------------------------------
    def _append(self, message: str | Message, role: str, other: Any, is_sending: bool) -> Message:
        msg = self._normalize(message, role, other, is_sending)
        self._oai_messages[other].append(msg)
        return msg

    def _normalize(self, message: str | Message, role: str, other: Any, is_sending: bool) -> Message:
        """The message as this agent stores it: API keys only, a role, and the speaker's name."""
        if type(message) is str:  # the common case (twice a message), in one dict display
            if role != "tool":
                name = self._api_name if is_sending else _api_name(other.name)
                if name is not None:
                    return {"content": message, "role": role, "name": name}
            return {"content": message, "role": role}
        if isinstance(message, str):
            msg: Message = {"content": message, "role": role}
        elif isinstance(message, dict):
            given: Mapping[str, Any] = message
            msg = cast(Message, {k: given[k] for k in _MESSAGE_KEYS if k in given})
            if "content" not in msg:
                if not (msg.get("tool_calls") or msg.get("tool_responses") or msg.get("function_call")):
                    raise InvalidMessageError(
                        f"A message needs 'content', 'tool_calls' or 'function_call'; got keys {sorted(message)}."
                    )
                msg["content"] = None
            if msg.get("role") not in ("tool", "function"):
                plain_role = given.get("override_role") or role  # 0.2: the speaker-selection prompt's role
                msg["role"] = "assistant" if msg.get("tool_calls") or msg.get("function_call") else plain_role
        else:
            raise InvalidMessageError(f"A message must be a str or a dict, got {type(message).__name__}.")
        if "name" not in msg and msg["role"] != "tool":
            name = self._api_name if is_sending else _api_name(other.name)
            if name is not None:
                msg["name"] = name
        return msg

    async def a_send(
        self,
        message: str | Message,
        recipient: Agent,
        request_reply: bool | None = None,
        silent: bool = False,
    ) -> None:
        """Send ``message`` to ``recipient``, which stores it and replies if asked.

        Raises:
            InvalidMessageError: the message has neither content nor tool calls.
        """
        hooks = self._hooks
        if hooks["process_message_before_send"] or hooks["a_process_message_before_send"]:
            message = await _hooks.before_send(hooks, self, message, recipient, silent)
        self._oai_messages[recipient].append(  # `_append`, and `_normalize` of the common str message, spelled out
            {"content": message, "role": "assistant", "name": name}
            if type(message) is str and (name := self._api_name) is not None
            else self._normalize(message, "assistant", recipient, True)
        )
        direct = _DIRECT_RECEIVE.get(kind := type(recipient))
        if direct is None:
            direct = _DIRECT_RECEIVE[kind] = _peers.own_with_silent(recipient, "a_receive")
        if direct:  # a parley agent: await it directly
            await recipient.a_receive(message, self, request_reply, silent=silent)  # type: ignore[call-arg]
        else:
            await _peers.a_receive(recipient, message, self, request_reply, silent)

    def send(
        self,
        message: str | Message,
        recipient: Agent,
        request_reply: bool | None = None,
        silent: bool = False,
    ) -> None:
        """Sync shell over `a_send`."""
        run_sync(self.a_send(message, recipient, request_reply, silent))

    async def a_receive(
        self, message: str | Message, sender: Agent, request_reply: bool | None = None, silent: bool = False
    ) -> None:
        """Store ``message`` from ``sender``, show it, and reply when asked.

        ``request_reply`` True replies; False does not; None replies when `reply_at_receive` says
        so (True for both sides of a chat, during and after `initiate_chat`). As in AutoGen 0.2,
        the reply is sent back and the exchange goes on while each side's `reply_at_receive`
        holds, until one side's reply is None (termination, the auto-reply limit, a human's
        "exit"). It runs as a loop, not as 0.2's recursion, so the stack stays flat.

        Raises:
            InvalidMessageError: the message has neither content nor tool calls; nothing is stored.
        """
        # `_append`, and `_normalize` of the common str message, spelled out (once a message)
        msg: Message = (
            {"content": message, "role": "user", "name": name}
            if type(message) is str and (name := _api_name(sender.name)) is not None
            else self._normalize(message, "user", sender, False)
        )
        self._oai_messages[sender].append(msg)
        if runtime_logging.is_logging:
            runtime_logging.log_event(self, "received_message", message=msg, sender=sender.name, valid=True)
        shown = streamed_already(sender, self, msg) if STREAMS_PENDING else False  # used up either way
        if not (silent or self.silent):
            IOStream.get_default().print(format_message(sender.name, self._name, msg, text_shown=shown), flush=True)
        if request_reply is False or (request_reply is None and not self.reply_at_receive[sender]):
            return
        await self._exchange(sender, silent)

    async def _exchange(self, other: Agent, silent: bool) -> None:
        """Reply to ``other``, and let the two go on replying to each other while both want to."""
        speaker: ConversableAgent = self
        listener: Any = other
        while True:
            reply = await speaker.a_generate_reply(sender=listener)
            if reply is None:
                return
            if not (isinstance(listener, ConversableAgent) and _peers.implements_async(type(listener), "a_receive")):
                await speaker.a_send(reply, listener, None, silent)  # a foreign receiver decides for itself
                return
            await speaker.a_send(reply, listener, False, silent)
            if not listener.reply_at_receive[speaker]:
                return
            speaker, listener = listener, speaker

    def receive(
        self, message: str | Message, sender: Agent, request_reply: bool | None = None, silent: bool = False
    ) -> None:
        """Sync shell over `a_receive`."""
        run_sync(self.a_receive(message, sender, request_reply, silent))

    async def a_generate_reply(
        self,
        messages: list[Message] | None = None,
        sender: Agent | None = None,
        exclude: tuple[Callable[..., Any], ...] | list[Callable[..., Any]] = (),
        **kwargs: Any,
    ) -> str | Message | None:
        """Run the reply pipeline and return the first final reply.

        Args:
            messages: the conversation to answer; default: the one with ``sender``.
            sender: the agent being answered.
            exclude: reply functions to skip.
            **kwargs: accepted for AutoGen 0.2 compatibility and ignored.

        Returns:
            The reply (str or message dict), None to end the conversation, or the default
            auto-reply when no function gave a final answer.

        Raises:
            UsageError: neither ``messages`` nor ``sender`` was given (also an AssertionError, as
                in 0.2).
        """
        # None when nothing is traced (then this coroutine is the whole turn); `turn_span`'s
        # first test is made here, without its call, on every message.
        span = turn_span(self) if "opentelemetry.trace" in sys.modules else None
        try:
            if messages is None:
                if sender is None:
                    raise UsageError(
                        "Either messages or sender must be provided.", hint="generate_reply needs one of them."
                    )
                messages = self._oai_messages[sender]
            hooks = self._hooks
            if (
                hooks["process_all_messages_before_reply"]
                or hooks["a_process_all_messages_before_reply"]
                or hooks["process_last_received_message"]
                or hooks["a_process_last_received_message"]
            ):
                messages = await _hooks.before_reply(hooks, messages)
            excluded = {reply_key(f) for f in exclude} if exclude else None
            own = self.__dict__  # a built-in reply method set on the instance is awaited, never asked quickly
            for entry in self._reply_func_list:
                if excluded and entry.key in excluded:
                    continue
                if not (entry.any_sender or entry.matches(sender)):
                    continue
                quick = entry.quick
                if quick is not None and entry.method not in own:
                    key = entry.quick_key
                    if key is not None and not (messages and messages[-1].get(key)):
                        continue  # what `quick` answers then (`DECLINED`), without its call
                    answer = quick(self, messages, sender)
                    if answer is DECLINED:  # a built-in reply that needs no awaiting: no coroutine for it
                        continue
                    if answer is not None:
                        final, reply = answer
                        if final:
                            return reply  # type: ignore[no-any-return]
                        continue
                if entry.method is not None:  # a built-in reply: its async method, looked up as `entry.run` would
                    final, reply = await getattr(self, entry.method)(
                        messages=messages, sender=sender, config=entry.config
                    )
                elif entry.is_async:  # await directly, no extra coroutine
                    final, reply = await entry.run(self, messages=messages, sender=sender, config=entry.config)
                else:
                    final, reply = await entry.call(self, messages, sender)
                if final:
                    return reply  # type: ignore[no-any-return]
            return self._default_auto_reply
        except BaseException as error:
            if span is not None:
                end_turn_span(span, error)
                span = None
            raise
        finally:
            if span is not None:
                end_turn_span(span, None)

    def generate_reply(
        self, messages: list[Message] | None = None, sender: Agent | None = None, **kwargs: Any
    ) -> str | Message | None:
        """Sync shell over `a_generate_reply`."""
        return run_sync(self.a_generate_reply(messages, sender, **kwargs))

    # ---- chats ------------------------------------------------------------------------------
    async def a_initiate_chat(
        self,
        recipient: Agent,
        clear_history: bool = True,
        silent: bool | None = False,
        max_turns: int | None = None,
        summary_method: str | Callable[..., Any] | None = "last_msg",
        summary_args: dict[str, Any] | None = None,
        message: str | Message | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Start a chat with ``recipient`` and run it to the end. See `parley.agentchat.chat`.

        Args:
            recipient: the agent to talk to.
            clear_history: forget earlier messages between the two first. Default True.
            silent: print nothing. Default False.
            max_turns: at most this many round trips (a message and its reply); None: until one
                side stops (termination, the auto-reply limit, or a None reply).
            summary_method: ``"last_msg"``, ``"reflection_with_llm"``, a callable
                ``f(sender, recipient, summary_args) -> str``, or None for no summary.
            summary_args: e.g. ``{"summary_prompt": ...}`` for reflection.
            message: the first message: a str, a message dict, or a callable
                ``f(sender, recipient, context) -> str | dict``. None: ask the human.
            **kwargs: ``carryover`` (str or list, appended as context), ``chat_id``, and
                ``cache`` (a `parley.Cache` for every model call of the chat; default None: each
                agent's own ``cache_seed``, if any).

        Returns:
            The `ChatResult`.

        Raises:
            ConfigError: a bad ``summary_method``, ``max_turns`` or ``cache``.
            parley.exceptions.ModelError: a model call failed.
        """
        return await _chat.run_two_agent_chat(
            self, recipient, clear_history=clear_history, silent=bool(silent), max_turns=max_turns,
            summary_method=summary_method, summary_args=summary_args, message=message, **kwargs,
        )  # fmt: skip

    def initiate_chat(
        self,
        recipient: Agent,
        clear_history: bool = True,
        silent: bool | None = False,
        max_turns: int | None = None,
        summary_method: str | Callable[..., Any] | None = "last_msg",
        summary_args: dict[str, Any] | None = None,
        message: str | Message | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Sync shell over `a_initiate_chat`; works inside a running event loop too."""
        return run_sync(
            self.a_initiate_chat(
                recipient, clear_history, silent, max_turns, summary_method, summary_args, message, **kwargs
            )
        )

    def _prepare_chat(self, recipient: Agent, clear_history: bool, reply_at_receive: bool = True) -> None:
        self.reset_consecutive_auto_reply_counter(recipient)
        self.reply_at_receive[recipient] = reply_at_receive
        self._human_input = []
        if clear_history:
            self.clear_history(recipient)

    @property
    def human_input(self) -> list[str]:
        """What the human typed during the current chat."""
        return self._human_input

    @property
    def is_termination_msg(self) -> Callable[[Message], bool]:
        """The termination test applied to received messages."""
        return self._is_termination_msg

    @property
    def default_auto_reply(self) -> str | Message:
        """The reply when no reply function answers."""
        return self._default_auto_reply


for _name in _BUILTIN_REPLIES:  # a sync shell and its async method are the same reply function
    setattr(getattr(ConversableAgent, _name), REPLY_SHELL_ATTR, _name)
