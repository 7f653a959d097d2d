"""Running chats: the two-agent chat driver, summaries, carryover, and chats in sequence.

`run_two_agent_chat` drives a chat as a loop, not as the mutual recursion of ``send`` and
``receive`` that AutoGen 0.2 uses, so a long chat never deepens the stack. Each turn: the
initiator sends, the recipient generates a reply and sends it back; the chat ends when a reply
is None (termination, the auto-reply limit, a human's "exit") or after ``max_turns`` turns.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from parley._tracing import traced_chat
from parley.agentchat import _peers
from parley.agentchat._chat_slots import chat_scope
from parley.agentchat._display import content_str
from parley.agentchat._function_calls import any_needs_rewrite, wire_messages
from parley.agentchat.events import report_sent, sink_now
from parley.exceptions import ConfigError, InvalidCarryOverType
from parley.llm.cache import CHAT_CACHE, check_cache
from parley.llm.types import Message
from parley.llm.usage import CHAT_USAGE, UsageSummary
from parley.prompts import REFLECTION_SUMMARY_PROMPT

if TYPE_CHECKING:
    from parley.agentchat.agent import Agent
    from parley.agentchat.conversable_agent import ConversableAgent

__all__ = [
    "ChatResult",
    "a_initiate_chats",
    "api_messages",
    "initiate_chats",
    "run_chats_in_order",
    "run_two_agent_chat",
]

SUMMARY_METHODS = ("last_msg", "reflection_with_llm")
_chat_ids = itertools.count(1)
HUMAN_INPUT: contextvars.ContextVar[tuple[list[str], ...]] = contextvars.ContextVar("parley_human_input", default=())
"""The human-input lists of the chats running in this context: each answer is added to all."""
SILENT: contextvars.ContextVar[bool] = contextvars.ContextVar("parley_chat_silent", default=False)
"""True while a chat started with ``silent=True`` runs in this context: agents print nothing."""


@dataclass
class ChatResult:
    """What a finished chat returns.

    Attributes:
        chat_id: the chat's id (given as ``chat_id=`` or numbered from 1 in this process).
        chat_history: the messages of the chat, oldest first, as the initiator stored them.
        summary: the summary that ``summary_method`` produced ("" for none).
        cost: the chat's model usage and cost (both agents', and every member's when one is a
            group chat manager) in AutoGen 0.2's shape:
            ``{"usage_including_cached_inference": {"total_cost": float, "<model>": {"cost",
            "prompt_tokens", "completion_tokens", "total_tokens"}}, "usage_excluding_cached_inference":
            {...}}``; costs in US dollars.
        human_input: every answer a human typed during the chat, in order.
    """

    chat_id: int | str | None = None
    chat_history: list[Message] = field(default_factory=list)
    summary: str = ""
    cost: dict[str, Any] = field(default_factory=dict)
    human_input: list[str] = field(default_factory=list)


def api_messages(
    system_message: str, messages: Sequence[Message], *, has_tool_responses: bool | None = None
) -> list[Message]:
    """The request for a model: the system message, then the stored messages.

    Stored messages are already in the API's shape, so this is a list concatenation (flat in the
    history's length) except that parley's ``tool_responses`` messages are expanded into one
    ``role="tool"`` message per response, as the OpenAI API requires, and AutoGen 0.2's legacy
    ``function_call`` messages and their ``role="function"`` answers become tool calls and tool
    responses (see `parley.agentchat._function_calls`).

    Args:
        system_message: sent first; omitted when empty.
        messages: the conversation, oldest first.
        has_tool_responses: whether any message needs that reshaping (see
            `parley.agentchat._function_calls.any_needs_rewrite`); None scans for them.
    """
    head: list[Message] = [{"role": "system", "content": system_message}] if system_message else []
    if has_tool_responses is None:
        has_tool_responses = any_needs_rewrite(messages)
    if not has_tool_responses:
        head.extend(messages)  # one copy of the history, not two
        return head
    return head + wire_messages(messages, _expand_tool_responses)


def _expand_tool_responses(m: Message) -> list[Message]:
    return [
        {"role": "tool", "tool_call_id": r.get("tool_call_id", ""), "content": content_str(r.get("content"))}
        for r in m["tool_responses"]
    ]


def _post_process_carryover_item(item: Any) -> str:
    """One carryover item as text: a message's content, else the item itself (AutoGen 0.2's name)."""
    if isinstance(item, dict) and "content" in item:
        return content_str(item["content"])
    return item if isinstance(item, str) else str(item)


def _with_carryover(content: Any, carryover: Any) -> Any:
    if not carryover:
        return content
    if not isinstance(carryover, (str, list)):
        raise InvalidCarryOverType(
            f"carryover must be a str or a list of str/messages, got {type(carryover).__name__}.",
        )
    items = carryover if isinstance(carryover, list) else [carryover]
    text = "\n".join(_post_process_carryover_item(c) for c in items)
    if isinstance(content, str) or content is None:
        return f"{content or ''}\nContext: \n{text}"
    return [*content, {"type": "text", "text": f"Context: \n{text}"}]


async def initial_message(sender: Any, recipient: Agent | None, message: Any, context: dict[str, Any]) -> str | Message:
    if message is None:
        message = await sender.a_get_human_input(">")
    elif callable(message):
        message = message(sender, recipient, context)
        if inspect.isawaitable(message):
            message = await message
    carryover = context.get("carryover")
    if isinstance(message, dict):
        return cast(Message, {**message, "content": _with_carryover(message.get("content"), carryover)})
    if not isinstance(message, str):
        raise ConfigError(
            f"message must be a str, a dict or a callable returning one; got {type(message).__name__}.",
            key="message",
        )
    return _with_carryover(message, carryover)  # type: ignore[no-any-return]


def _check_summary_method(method: Any) -> None:
    if method is None or callable(method) or method in SUMMARY_METHODS:
        return
    import difflib

    raise ConfigError(
        f"summary_method must be one of {', '.join(SUMMARY_METHODS)}, a callable or None; got {method!r}.",
        key="summary_method",
        suggestions=difflib.get_close_matches(str(method), SUMMARY_METHODS, 1),
    )


def _last_msg_summary(history: Sequence[Message]) -> str:
    if not history:
        return ""
    text = content_str(history[-1].get("content")).rstrip()
    if text.endswith("TERMINATE"):
        text = text[: -len("TERMINATE")].rstrip()
    return text


async def _reflection_summary(
    sender: ConversableAgent, recipient: Agent, history: Sequence[Message], args: dict[str, Any]
) -> str:
    from parley.agentchat._watch import report_usage

    candidates = [recipient, sender]
    agent = next((a for a in candidates if getattr(a, "client", None) is not None), None)
    if agent is None:
        raise ConfigError(
            "summary_method='reflection_with_llm' needs a model: give one of the two agents an llm_config, "
            "or use summary_method='last_msg'.",
            key="summary_method",
        )
    prompt = args.get("summary_prompt", REFLECTION_SUMMARY_PROMPT)
    role = args.get("summary_role", "system")
    messages = api_messages(getattr(agent, "system_message", ""), [*history, {"role": role, "content": prompt}])
    response = await agent.client.create(messages)  # type: ignore[attr-defined]
    report_usage(agent.name, response)
    return content_str(response.message.get("content"))


async def _summarize(
    method: Any, sender: ConversableAgent, recipient: Agent, history: Sequence[Message], args: dict[str, Any]
) -> str:
    if method is None:
        return ""
    if method == "last_msg":
        return _last_msg_summary(history)
    if method == "reflection_with_llm":
        return await _reflection_summary(sender, recipient, history, args)
    result = method(sender, recipient, args)
    if inspect.isawaitable(result):
        result = await result
    return str(result)


def _with_members(agents: Sequence[Any]) -> list[Any]:
    """The agents plus, for group chat managers, every member (recursively), each once."""
    out: list[Any] = []
    todo = list(agents)
    while todo:
        a = todo.pop(0)
        if any(a is o for o in out):
            continue
        out.append(a)
        groupchat = getattr(a, "groupchat", None)
        todo.extend(getattr(groupchat, "agents", []))
    return out


def _usage(agents: Sequence[Any]) -> Any:
    total = UsageSummary()
    seen: set[int] = set()
    for a in _with_members(agents):
        client = getattr(a, "client", None)
        if client is not None and id(client) not in seen:
            seen.add(id(client))
            total = total + client.usage_summary
    return total


async def _turns(
    sender: ConversableAgent, recipient: Agent, msg: str | Message | None, max_turns: int | None, silent: bool
) -> None:
    """The chat's turns: ``sender`` sends, ``recipient`` replies, until a None reply or ``max_turns``."""
    # How to call the recipient is decided once per chat: a parley agent's own async methods are
    # awaited here directly, with no `_peers` coroutine around each of them (two a round trip).
    own_reply = _peers.own_async(recipient, "a_generate_reply")
    own_send = _peers.own_with_silent(recipient, "a_send")
    turn = 0
    while max_turns is None or turn < max_turns:
        if turn > 0:
            msg = await sender.a_generate_reply(sender=recipient)
            if msg is None:
                return
        assert msg is not None
        await sender.a_send(msg, recipient, request_reply=False, silent=silent)
        if sink_now() is not None:  # `report_sent`'s own test, without its call (twice a round)
            report_sent(sender, recipient)
        if own_reply:
            reply = await recipient.a_generate_reply(sender=sender)
        else:
            reply = await _peers.a_generate_reply(recipient, sender)
        turn += 1
        if reply is None:
            return
        if own_send:
            await recipient.a_send(reply, sender, False, silent=silent)  # type: ignore[call-arg]
        else:
            await _peers.a_send(recipient, reply, sender, False, silent)
        if sink_now() is not None:
            report_sent(recipient, sender)


@traced_chat
async def run_two_agent_chat(
    sender: ConversableAgent,
    recipient: Agent,
    *,
    clear_history: bool = True,
    silent: bool = False,
    max_turns: int | None = None,
    summary_method: str | Callable[..., Any] | None = "last_msg",
    summary_args: dict[str, Any] | None = None,
    message: Any = None,
    **kwargs: Any,
) -> ChatResult:
    """Run a chat between ``sender`` and ``recipient`` to its end; see `ConversableAgent.a_initiate_chat`.

    ``cache=`` (a `parley.llm.cache.Cache`) serves every model call of the chat, by either agent
    (and a group chat's members), including the reflection summary, through
    `parley.llm.cache.CHAT_CACHE`; None leaves each agent's own ``cache_seed`` (or no cache).
    """
    _check_summary_method(summary_method)
    if max_turns is not None and (isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 0):
        raise ConfigError(f"max_turns must be None or an int >= 0, got {max_turns!r}.", key="max_turns")
    unknown = set(kwargs) - {"carryover", "chat_id", "cache"}
    if unknown:
        raise ConfigError(f"initiate_chat got unexpected arguments: {', '.join(sorted(unknown))}.")
    cache = check_cache(kwargs.get("cache"))
    chat_id = kwargs.get("chat_id")
    if chat_id is None:
        chat_id = next(_chat_ids)
    usage = UsageSummary()
    human: list[str] = []
    usage_token = CHAT_USAGE.set((*CHAT_USAGE.get(), usage))
    human_token = HUMAN_INPUT.set((*HUMAN_INPUT.get(), human))
    try:
        async with chat_scope(chat_id):  # pooled executors: this chat's slot, given back at its end
            return await _run_chat(
                sender, recipient, clear_history, silent, max_turns, summary_method, summary_args, message, kwargs,
                chat_id, cache, usage, human,
            )  # fmt: skip
    finally:
        HUMAN_INPUT.reset(human_token)
        CHAT_USAGE.reset(usage_token)


async def _run_chat(
    sender: ConversableAgent,
    recipient: Agent,
    clear_history: bool,
    silent: bool,
    max_turns: int | None,
    summary_method: Any,
    summary_args: dict[str, Any] | None,
    message: Any,
    kwargs: dict[str, Any],
    chat_id: Any,
    cache: Any,
    usage: UsageSummary,
    human: list[str],
) -> ChatResult:
    from parley.agentchat.conversable_agent import ConversableAgent

    sender._prepare_chat(recipient, clear_history)
    peer = recipient if isinstance(recipient, ConversableAgent) else None
    if peer is not None:
        peer._prepare_chat(sender, clear_history)
    msg: str | Message | None = await initial_message(sender, recipient, message, kwargs)
    cache_token = CHAT_CACHE.set(cache) if cache is not None else None
    try:
        token = SILENT.set(silent)
        try:
            await _turns(sender, recipient, msg, max_turns, silent)
        finally:
            SILENT.reset(token)
        history = sender.chat_messages[recipient]
        summary = await _summarize(summary_method, sender, recipient, history, summary_args or {})
    finally:
        if cache_token is not None:
            CHAT_CACHE.reset(cache_token)
    return ChatResult(
        chat_id=chat_id, chat_history=list(history), summary=summary, cost=usage.to_dict(), human_input=list(human)
    )


def _split_entry(i: int, entry: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    info = dict(entry)
    try:
        sender, recipient = info.pop("sender"), info.pop("recipient")
    except KeyError as e:
        raise ConfigError(f"chat_queue[{i}] needs a {e.args[0]!r}.", key=str(e.args[0])) from None
    carryover = info.get("carryover", [])
    info["carryover"] = [carryover] if isinstance(carryover, str) else list(carryover)
    return sender, recipient, info


async def run_chats_in_order(chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
    """Run chats one after another, carrying every earlier summary over into each next chat.

    Args:
        chat_queue: one dict per chat with ``sender`` and ``recipient`` and any
            `ConversableAgent.a_initiate_chat` argument (``message``, ``max_turns``,
            ``summary_method``, ``carryover`` ...).

    Returns:
        One `ChatResult` per chat, in order.

    Raises:
        ConfigError: an entry lacks ``sender`` or ``recipient``.
    """
    checked = [_split_entry(i, e) for i, e in enumerate(chat_queue)]
    results: list[ChatResult] = []
    for sender, recipient, info in checked:
        info["carryover"] = info["carryover"] + [r.summary for r in results if r.summary]
        info.pop("prerequisites", None)
        results.append(await sender.a_initiate_chat(recipient, **info))
    return results


def _check_dag(ids: list[Any], prereqs: dict[Any, list[Any]]) -> None:
    dupes = sorted({str(c) for c in ids if ids.count(c) > 1})
    if dupes:
        raise ConfigError(f"chat_id values must be unique; repeated: {', '.join(dupes)}.", key="chat_id")
    for cid, pres in prereqs.items():
        unknown = [p for p in pres if p not in prereqs]
        if unknown:
            raise ConfigError(f"Chat {cid!r} lists unknown prerequisites {unknown!r}.", key="prerequisites")
    state: dict[Any, int] = {}

    def visit(cid: Any, path: list[Any]) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            raise ConfigError(f"The chats' prerequisites form a cycle: {' -> '.join(map(str, [*path, cid]))}.")
        state[cid] = 1
        for p in prereqs[cid]:
            visit(p, [*path, cid])
        state[cid] = 2

    for cid in ids:
        visit(cid, [])


async def a_initiate_chats(chat_queue: list[dict[str, Any]]) -> dict[Any, ChatResult]:
    """Run chats as a graph: each starts when its prerequisites are done; independent chats overlap.

    Args:
        chat_queue: one dict per chat as for `run_chats_in_order`, plus ``chat_id`` (default: its
            index) and ``prerequisites`` (a list of chat_ids). A chat's carryover gets the
            summaries of its prerequisites.

    Returns:
        ``{chat_id: ChatResult}`` in the order of ``chat_queue``.

    Raises:
        ConfigError: a missing sender/recipient, repeated chat_ids, unknown prerequisites, or a
            cycle. A chat's own error propagates, and chats waiting on it are cancelled.
    """
    entries = [_split_entry(i, e) for i, e in enumerate(chat_queue)]
    ids = [info.get("chat_id", i) for i, (_, _, info) in enumerate(entries)]
    prereqs = {cid: list(info.pop("prerequisites", None) or []) for cid, (_, _, info) in zip(ids, entries, strict=True)}
    _check_dag(ids, prereqs)
    loop = asyncio.get_running_loop()
    done: dict[Any, asyncio.Future[ChatResult]] = {cid: loop.create_future() for cid in ids}

    async def run(cid: Any, sender: Any, recipient: Any, info: dict[str, Any]) -> None:
        try:
            before = [await done[p] for p in prereqs[cid]]
            info["carryover"] = info["carryover"] + [r.summary for r in before if r.summary]
            info["chat_id"] = cid
            done[cid].set_result(await sender.a_initiate_chat(recipient, **info))
        except BaseException as e:
            if not done[cid].done():
                done[cid].set_exception(e)
            raise

    tasks = [asyncio.ensure_future(run(cid, *entry)) for cid, entry in zip(ids, entries, strict=True)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # let cancelled chats unwind first
        for f in done.values():
            if f.done() and not f.cancelled():
                f.exception()  # mark retrieved: the first error is what gather raised
    return {cid: done[cid].result() for cid in ids}


def initiate_chats(chat_queue: list[dict[str, Any]]) -> list[ChatResult]:
    """Run chats in order, each carrying over the earlier summaries (sync; see `run_chats_in_order`)."""
    from parley._sync import run_sync

    return run_sync(run_chats_in_order(chat_queue))
