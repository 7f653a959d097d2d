"""`GroupChat`: who is in a team conversation, and how the next speaker is chosen.

The rules themselves are pure functions in `parley.agentchat._speaker_selection`; this module
validates the configuration at construction and does the I/O of selection: asking the manager's
model (``"auto"``) or a human (``"manual"``). `GroupChatManager` (in
`parley.agentchat.groupchat_manager`, also importable from here) runs the rounds.
"""

from __future__ import annotations

import difflib
import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parley.agentchat import _speaker_selection as sel
from parley.agentchat._display import content_str
from parley.agentchat.agent import Agent
from parley.agentchat.io import IOStream
from parley.exceptions import AgentNameConflict, ConfigError, NoEligibleSpeaker, UndefinedNextAgent
from parley.llm.types import Message
from parley.prompts import (
    GROUP_INTRODUCTION,
    SELECT_SPEAKER_MANUAL,
    SELECT_SPEAKER_MESSAGE,
    SELECT_SPEAKER_MULTIPLE,
    SELECT_SPEAKER_NONE,
    SELECT_SPEAKER_PROMPT,
)

if TYPE_CHECKING:
    from parley.agentchat.groupchat_manager import GroupChatManager
    from parley.llm.client import ModelClient

__all__ = ["SPEAKER_SELECTION_METHODS", "GroupChat", "GroupChatManager"]

SPEAKER_SELECTION_METHODS = ("auto", "manual", "random", "round_robin")

_UNDECIDED: Any = object()
"""`GroupChat._next_in_rotation`'s answer when the rotation alone does not decide the next speaker."""

SpeakerSelector = Callable[[Agent, "GroupChat"], Any]
"""``f(last_speaker, groupchat) -> Agent | str | None``: an agent, an agent's name, a method name
(``"auto"`` ...), or None to end the chat. May be async."""


def __getattr__(name: str) -> Any:
    if name == "GroupChatManager":  # defined in its own module; imported lazily to avoid a cycle
        from parley.agentchat.groupchat_manager import GroupChatManager

        return GroupChatManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_template(value: Any, key: str, **fields: str) -> None:
    if value is None or value == "":
        raise ConfigError(f"{key} cannot be empty or None.", key=key)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a str, got {type(value).__name__}.", key=key)
    try:
        value.format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(
            f"{key} has a placeholder it cannot fill ({e!s}); it may use {', '.join('{' + f + '}' for f in fields)}.",
            key=key,
        ) from None


@dataclass
class GroupChat:
    """A team conversation's members, history and speaker-selection rules (AutoGen 0.2's fields).

    Args:
        agents: the members, in order (round robin follows it). Choosing a speaker needs at
            least one member and unique names; an empty list serves `messages_to_string`.
        messages: the history so far (usually empty).
        max_round: the most messages the chat may have, the first one included. Default 10.
        admin_name: the name of the human admin, for interrupting a chat. Default "Admin".
        func_call_filter: route a message with tool calls only to members that can execute all
            of them. Default True.
        speaker_selection_method: ``"auto"`` (the manager's model picks), ``"round_robin"``,
            ``"random"``, ``"manual"`` (a human picks through the IOStream), in any letter case, or
            a callable ``f(last_speaker, groupchat)`` returning an agent, a name, a method name or
            None (end). The callable is asked first, before the transition graph and the tool-call
            routing, so it decides even when the graph leaves nobody.
        max_retries_for_selecting_speaker: how many times ``"auto"`` asks again, with feedback,
            when the model's answer names no member or several. Then round robin decides.
        allow_repeat_speaker: whether a member may speak twice in a row: True, False, or the list
            of members that may. Default (None): True.
        allowed_or_disallowed_speaker_transitions: ``{agent: [agents]}``, who may (or may not)
            speak after whom; needs ``speaker_transitions_type``.
        speaker_transitions_type: ``"allowed"`` or ``"disallowed"``.
        enable_clear_history: accepted for AutoGen 0.2 compatibility.
        send_introductions: broadcast the members and their descriptions before the first round.
        select_speaker_message_template: the selector's system message; ``{roles}`` and
            ``{agentlist}`` are filled in.
        select_speaker_prompt_template: the question after the history; ``{agentlist}``.
        select_speaker_auto_multiple_template: feedback when several members were named;
            ``{mentioned}`` and ``{agentlist}``.
        select_speaker_auto_none_template: feedback when no member was named; ``{agentlist}``.
        role_for_select_speaker_messages: the role of the selection prompt. Default "system".
        select_speaker_auto_llm_config: a model for ``"auto"`` selection only (an llm_config or a
            ModelClient); default: the manager's.
        select_speaker_auto_verbose: print each ``"auto"`` attempt (the model's answer and the
            feedback sent back) through the IOStream.
        select_speaker_transform_messages: a 0.2 ``TransformMessages``-like object; its
            ``apply_transform(messages)`` (or each of its ``transforms``) is applied to the history
            the selector sees.
        select_speaker_auto_model_client_cls: a custom model client class (or a list of them)
            registered on the ``"auto"`` selector's client, as `register_model_client` does.

    Raises:
        ConfigError: any field is invalid; the message says which and how to fix it. An unknown
            ``speaker_selection_method`` is refused when a speaker is first chosen, as in 0.2.
        AgentNameConflict: a transition graph is given and member names repeat.
    """

    agents: list[Any]
    messages: list[Message] = field(default_factory=list)
    max_round: int = 10
    admin_name: str = "Admin"
    func_call_filter: bool = True
    speaker_selection_method: str | SpeakerSelector = "auto"
    max_retries_for_selecting_speaker: int = 2
    allow_repeat_speaker: bool | list[Any] | None = None
    allowed_or_disallowed_speaker_transitions: dict[Any, list[Any]] | None = None
    speaker_transitions_type: str | None = None
    enable_clear_history: bool = False
    send_introductions: bool = False
    select_speaker_message_template: str = SELECT_SPEAKER_MESSAGE
    select_speaker_prompt_template: str = SELECT_SPEAKER_PROMPT
    select_speaker_auto_multiple_template: str = SELECT_SPEAKER_MULTIPLE
    select_speaker_auto_none_template: str = SELECT_SPEAKER_NONE
    role_for_select_speaker_messages: str = "system"
    select_speaker_auto_llm_config: Any = None
    select_speaker_auto_verbose: bool = False
    select_speaker_transform_messages: Any = None
    select_speaker_auto_model_client_cls: Any = None

    def __post_init__(self) -> None:
        self._validate_members()
        self._validate_settings()
        self._graph = self._make_graph()
        repeat = self.allow_repeat_speaker
        self._allow_repeat: bool | list[str] = (
            True if repeat is None else repeat if isinstance(repeat, bool) else [a.name for a in repeat]
        )
        self._selection_client: ModelClient | None = None

    # ---- validation ---------------------------------------------------------------------------
    def _validate_members(self) -> None:
        # An empty list or repeated names are allowed here, as in AutoGen 0.2 (a GroupChat with no
        # agents serves messages_to_string/messages_from_string); choosing a speaker refuses them.
        if not isinstance(self.agents, list):
            raise ConfigError(f"agents must be a list of agents, got {type(self.agents).__name__}.", key="agents")
        for a in self.agents:
            if not isinstance(a, Agent):
                raise ConfigError(f"{a!r} is not an agent (it lacks name/send/receive/generate_reply).", key="agents")

    def _check_speakers(self) -> None:
        """Refuse to choose among no members, or among members whose names repeat.

        Raises:
            ConfigError: the group has no members.
            AgentNameConflict: several members share a name (speakers are chosen by name).
        """
        names, by_name = self._members()
        if not names:
            raise ConfigError(
                "The GroupChat has no agents to choose a speaker from: give it agents=[...].", key="agents"
            )
        if len(by_name) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise AgentNameConflict(
                f"Agent names in a GroupChat must be unique to choose speakers by name; repeated: {', '.join(dupes)}. "
                "Give each agent its own name."
            )

    def _check_method(self) -> None:
        """Refuse an unknown ``speaker_selection_method`` when a speaker has to be chosen, as 0.2 does.

        Raises:
            ConfigError: the method is neither a known name nor a callable (with a "did you mean").
        """
        method = self.speaker_selection_method
        if not callable(method) and method not in SPEAKER_SELECTION_METHODS:
            raise ConfigError(
                f"speaker_selection_method must be one of {', '.join(SPEAKER_SELECTION_METHODS)} or a callable "
                f"(last_speaker, groupchat) -> Agent | str | None; got {method!r}.",
                key="speaker_selection_method",
                suggestions=difflib.get_close_matches(str(method).lower(), SPEAKER_SELECTION_METHODS, 1),
            )

    def _validate_settings(self) -> None:
        if isinstance(self.max_round, bool) or not isinstance(self.max_round, int) or self.max_round < 1:
            raise ConfigError(f"max_round must be an int >= 1, got {self.max_round!r}.", key="max_round")
        if isinstance(self.speaker_selection_method, str):
            self.speaker_selection_method = self.speaker_selection_method.lower()
        retries = self.max_retries_for_selecting_speaker
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(
                f"max_retries_for_selecting_speaker must be an int >= 0, got {retries!r}.",
                key="max_retries_for_selecting_speaker",
            )
        repeat = self.allow_repeat_speaker
        if (repeat is not None and not isinstance(repeat, bool)) and (
            not isinstance(repeat, list) or any(a not in self.agents for a in repeat)
        ):
            raise ConfigError(
                "GroupChat allow_repeat_speaker should be a bool or a list of Agents.", key="allow_repeat_speaker"
            )
        if not isinstance(self.role_for_select_speaker_messages, str) or not self.role_for_select_speaker_messages:
            raise ConfigError(
                "role_for_select_speaker_messages cannot be empty or None.", key="role_for_select_speaker_messages"
            )
        _check_template(self.select_speaker_message_template, "select_speaker_message_template", roles="", agentlist="")
        _check_template(self.select_speaker_prompt_template, "select_speaker_prompt_template", agentlist="")
        _check_template(
            self.select_speaker_auto_multiple_template, "select_speaker_auto_multiple_template",
            mentioned="", agentlist="",
        )  # fmt: skip
        _check_template(self.select_speaker_auto_none_template, "select_speaker_auto_none_template", agentlist="")

    def _make_graph(self) -> dict[str, list[str]] | None:
        transitions = self.allowed_or_disallowed_speaker_transitions
        if transitions is None:
            if self.speaker_transitions_type is not None:
                raise ConfigError(
                    "speaker_transitions_type is set but allowed_or_disallowed_speaker_transitions is not; give both.",
                    key="speaker_transitions_type",
                )
            return None
        if self.speaker_transitions_type is None:
            raise ConfigError(
                "allowed_or_disallowed_speaker_transitions needs speaker_transitions_type='allowed' or 'disallowed'.",
                key="speaker_transitions_type",
            )
        if self.allow_repeat_speaker is not None:
            raise ConfigError(
                "Give either allow_repeat_speaker or allowed_or_disallowed_speaker_transitions, not both: "
                "put self-transitions in the graph instead.",
                key="allow_repeat_speaker",
            )
        if not isinstance(transitions, dict):
            raise ConfigError("allowed_or_disallowed_speaker_transitions must be a dict {agent: [agents]}.")
        for src, dsts in transitions.items():
            if not isinstance(dsts, (list, tuple)):
                raise ConfigError(f"The transitions of {getattr(src, 'name', src)!r} must be a list of agents.")
        self._check_speakers()  # the graph is kept by name
        by_name: dict[str, list[str]] = {
            str(getattr(s, "name", s)): [str(getattr(d, "name", d)) for d in ds] for s, ds in transitions.items()
        }
        return sel.transition_graph(self.agent_names, by_name, self.speaker_transitions_type)

    # ---- members and history ---------------------------------------------------------------------
    def _members(self) -> tuple[list[str], dict[str, Any]]:
        """Names in order and name -> agent, rebuilt only when the member list changes."""
        agents = self.agents
        key = (id(agents), len(agents), id(agents[0]), id(agents[-1])) if agents else (id(agents), 0, 0, 0)
        if getattr(self, "_members_key", None) != key:
            self._members_key = key
            by_name: dict[str, Any] = {}
            for a in agents:
                by_name.setdefault(a.name, a)  # the first of a repeated name, as 0.2's lookup finds it
            names = [a.name for a in agents]
            self._members_cache = (names, by_name)
            # Round robin's next member after each member, by identity (unique names only; see
            # `_next_in_rotation`): one dict lookup a round instead of a name search.
            self._rotation: dict[int, Any] | None = (
                {id(a): agents[(i + 1) % len(agents)] for i, a in enumerate(agents)}
                if len(by_name) == len(names)
                else None
            )
        return self._members_cache

    @property
    def agent_names(self) -> list[str]:
        """The members' names, in order."""
        return list(self._members()[0])

    def agent_by_name(self, name: str, recursive: bool = False, raise_on_name_conflict: bool = False) -> Any:
        """The member called ``name``, or None (as in AutoGen 0.2).

        Args:
            name: the agent's name.
            recursive: also search the members of nested group chats (see `nested_agents`).
            raise_on_name_conflict: raise when several agents have that name.

        Raises:
            AgentNameConflict: ``raise_on_name_conflict`` and several agents have that name.
        """
        if not recursive and not raise_on_name_conflict:
            return self._members()[1].get(name)
        found = [a for a in (self.nested_agents() if recursive else self.agents) if a.name == name]
        if raise_on_name_conflict and len(found) > 1:
            raise AgentNameConflict(f"Found {len(found)} agents named {name!r}; give each a unique name.")
        return found[0] if found else None

    def _member(self, name: str) -> Any:
        """The member called ``name``; ConfigError (with a suggestion) when there is none.

        Raises:
            AgentNameConflict: several members are called ``name``.
        """
        names, by_name = self._members()
        agent = by_name.get(name)
        if agent is not None:
            if len(names) != len(by_name) and names.count(name) > 1:
                self._check_speakers()
            return agent
        raise ConfigError(
            f"No agent named {name!r} in the group chat ({', '.join(self.agent_names)}).",
            key="name",
            suggestions=difflib.get_close_matches(name, self.agent_names, 1),
        )

    def nested_agents(self) -> list[Any]:
        """The members, then the members of every nested group chat (a member's ``groupchat``), depth first."""
        out: list[Any] = []
        for agent in self.agents:
            out.append(agent)
            inner = getattr(agent, "groupchat", None)
            if isinstance(inner, GroupChat) and inner is not self:
                out.extend(inner.nested_agents())
        return out

    @property
    def allowed_speaker_transitions_dict(self) -> dict[Any, list[Any]]:
        """Who may speak after whom, ``{agent: [agents]}`` (every member after every member without a graph)."""
        names, by_name = self._members()
        graph = self._graph if self._graph is not None else {n: list(names) for n in names}
        return {
            by_name[src]: [by_name[d] for d in dsts if d in by_name] for src, dsts in graph.items() if src in by_name
        }

    def append(self, message: Message, speaker: Agent) -> None:
        """Add ``message`` to the history, naming ``speaker`` as its author.

        A ``role="function"`` message keeps the function's name, as in AutoGen 0.2 (the API reads
        it as the function that answered).
        """
        stored: Message = {**message}
        if stored.get("role") != "function" or "name" not in stored:
            stored["name"] = speaker.name
        self.messages.append(stored)

    def reset(self) -> None:
        """Forget the history."""
        self.messages.clear()

    def next_agent(self, agent: Agent, agents: list[Any] | None = None) -> Any:
        """The member after ``agent`` in round-robin order (among ``agents`` when given).

        Raises:
            UndefinedNextAgent: ``agents`` holds an agent that is not a member, or is empty.
        """
        if agents is not None and (not agents or any(a not in self.agents for a in agents)):
            raise UndefinedNextAgent(
                f"next_agent got agents that are not all members of the group ({', '.join(self.agent_names)})."
            )
        eligible = [a.name for a in (agents or self.agents)]
        name = sel.round_robin_next(self.agent_names, getattr(agent, "name", None), eligible)
        return self._member(name) if name is not None else None

    def _roles(self, agents: list[Any]) -> str:
        return "\n".join(f"{a.name}: {a.description}" for a in agents)

    def select_speaker_msg(self, agents: list[Any] | None = None) -> str:
        """The selector's system message for ``agents`` (default: all members)."""
        agents = agents or self.agents
        return self.select_speaker_message_template.format(
            roles=self._roles(agents), agentlist=f"{[a.name for a in agents]}"
        )

    def select_speaker_prompt(self, agents: list[Any] | None = None) -> str:
        """The selection question asked after the history."""
        agents = agents or self.agents
        return self.select_speaker_prompt_template.format(agentlist=f"{[a.name for a in agents]}")

    def introductions_msg(self, agents: list[Any] | None = None) -> str:
        """The message that introduces ``agents`` (default: the members), for ``send_introductions``."""
        return GROUP_INTRODUCTION.format(roles=self._roles(agents or self.agents))

    def manual_select_speaker(self, agents: list[Any] | None = None) -> Any:
        """Ask the human (through the IOStream) to pick one of ``agents``; None when they skip."""
        eligible = [a.name for a in (agents or self.agents)]
        picked = self._manual(eligible)
        return None if picked is None else self._member(picked)

    def random_select_speaker(self, agents: list[Any] | None = None) -> Any:
        """A random one of ``agents`` (default: the members)."""
        return random.choice(agents or self.agents)

    async def a_auto_select_speaker(
        self, last_speaker: Agent | None, selector: Any, messages: list[Message] | None = None, agents: Any = None
    ) -> Any:
        """Ask the selector's model which of ``agents`` (default: the members) speaks next.

        ``messages`` is accepted for AutoGen 0.2 compatibility; the group's history is used.
        After ``max_retries_for_selecting_speaker`` unusable answers, round robin decides.
        """
        eligible = [a.name for a in (agents or self.agents)]
        last = getattr(last_speaker, "name", None)
        return self._member(await self._auto(selector, eligible, last if last in self.agent_names else None))

    # ---- selection (the I/O edge) ------------------------------------------------------------------
    async def a_select_speaker(self, last_speaker: Agent | None, selector: GroupChatManager) -> Any:
        """Choose who speaks next.

        Tool calls go to a member that can run them (``func_call_filter``); otherwise the
        transition graph and repeat rule give the candidates and the selection method picks one.

        Args:
            last_speaker: who spoke last.
            selector: the manager; its model answers ``"auto"`` selection.

        Returns:
            The next speaker, or None when nobody may speak (the chat ends).

        Raises:
            ConfigError: the group has no members, ``speaker_selection_method`` is unknown (with a
                "did you mean"), ``"auto"`` must ask a model but the manager's ``llm_config`` was
                left out (False means no model: members then take turns), a tool call while no
                member has any function, or a callable method's answer that names no member.
            AgentNameConflict: several members share a name.
        """
        chosen = self._next_in_rotation(last_speaker)
        if chosen is not _UNDECIDED:
            return chosen
        self._check_method()
        names, by_name = self._members()
        if not names or len(by_name) != len(names):
            self._check_speakers()  # raises
        last: str | None = None
        if last_speaker is not None:
            name = last_speaker.name
            last = name if by_name.get(name) is last_speaker else None
        method = self.speaker_selection_method
        if callable(method):
            try:
                chosen = method(last_speaker, self)  # type: ignore[arg-type]
                if inspect.isawaitable(chosen):
                    chosen = await chosen
            except NoEligibleSpeaker:
                return None
            if chosen is None:
                return None
            if not isinstance(chosen, str):
                if chosen not in self.agents:
                    raise ConfigError(f"The speaker selection function returned {chosen!r}, not a member.")
                return chosen
            if chosen.lower() not in SPEAKER_SELECTION_METHODS:
                return self._member(chosen)
            method = chosen.lower()
        pending = self.messages[-1] if self.func_call_filter and self.messages else None
        calls = pending is not None and (pending.get("tool_calls") or pending.get("function_call"))
        funcs = sel.tool_call_names(pending) if calls else []
        if funcs:
            maps = {a.name: getattr(a, "function_map", {}) or {} for a in self.agents}
            able = sel.tool_executors(funcs, maps)
            if not able:  # as in 0.2: a member with functions answers, telling the model what it lacks
                able = [name for name, fmap in maps.items() if fmap]
            if not able:
                raise ConfigError(
                    f"No agent in the group chat can execute {', '.join(sorted(set(funcs)))}: register the "
                    "functions with register_for_execution on one of its members.",
                    key="func_call_filter",
                )
            eligible = able
        elif method == "round_robin" and self._graph is None and self._allow_repeat is True:
            # Everyone may speak: the plain rotation that `candidates` and `round_robin_next` give.
            return by_name[names[(names.index(last) + 1) % len(names) if last is not None else 0]]
        else:
            eligible = sel.candidates(names, last, graph=self._graph, allow_repeat=self._allow_repeat)
        if not eligible:
            return None
        if len(eligible) == 1:
            return by_name[eligible[0]]
        if method == "round_robin":
            return by_name[sel.round_robin_next(names, last, eligible) or eligible[0]]
        if method == "random":
            return by_name[random.choice(eligible)]
        if method == "manual":
            picked = self._manual(eligible)
            if picked is not None:
                return by_name[picked]
        elif getattr(selector, "_auto_model_missing", False) and self._client(selector) is None:
            raise ConfigError(  # the manager's llm_config was left out, not set to False
                "speaker_selection_method='auto' needs a model: give the GroupChatManager an llm_config, or "
                "set GroupChat(select_speaker_auto_llm_config=...), or choose 'round_robin'.",
                key="llm_config",
            )
        return by_name[await self._auto(selector, eligible, last)]

    def _manual(self, eligible: list[str]) -> str | None:
        io = IOStream.get_default()
        numbered = "\n".join(f"{i}: {n}" for i, n in enumerate(eligible, 1))
        for _ in range(3):
            answer = io.input(SELECT_SPEAKER_MANUAL.format(numbered=numbered)).strip()
            if answer in ("", "q"):
                return None
            # isdecimal, not isdigit: int() refuses "²"; and a number longer than the list cannot be in it
            # (int() also refuses more than 4,300 digits).
            if answer.isdecimal() and len(answer) <= len(str(len(eligible))) and 1 <= int(answer) <= len(eligible):
                return eligible[int(answer) - 1]
            io.print(f"{answer!r} is not a number from 1 to {len(eligible)}.")
        return None

    def _client(self, selector: Any) -> Any:
        if self.select_speaker_auto_llm_config is None:
            return getattr(selector, "client", None)
        if self._selection_client is None:
            from parley.llm.wrapper import OpenAIWrapper

            client = OpenAIWrapper.from_llm_config(self.select_speaker_auto_llm_config)
            classes = self.select_speaker_auto_model_client_cls
            for cls in classes if isinstance(classes, (list, tuple)) else [classes] if classes else []:
                client.register_model_client(cls)
            self._selection_client = client
        return self._selection_client

    def _transformed(self, history: list[Message]) -> list[Message]:
        transform = self.select_speaker_transform_messages
        if transform is None:
            return history
        steps = getattr(transform, "transforms", None) or getattr(transform, "_transforms", None) or [transform]
        for step in steps:
            history = step.apply_transform([dict(m) for m in history])
        return history

    async def _auto(self, selector: Any, eligible: list[str], last: str | None) -> str:
        from parley.agentchat._watch import report_usage
        from parley.agentchat.chat import api_messages

        fallback = sel.round_robin_next(self.agent_names, last, eligible) or eligible[0]
        client = self._client(selector)
        if client is None:
            return fallback
        agents = [self._member(n) for n in eligible]
        agentlist = f"{eligible}"
        history = self._transformed(sel.without_dangling_tool_calls(self.messages))
        prompt: Message = {"role": self.role_for_select_speaker_messages, "content": self.select_speaker_prompt(agents)}
        request = api_messages(self.select_speaker_msg(agents), [*history, prompt])
        for attempt in range(self.max_retries_for_selecting_speaker + 1):
            response = await client.create(request)
            report_usage(selector.name, response)
            answer = content_str(response.message.get("content"))
            found = sel.mentioned_agents(answer, eligible)
            if self.select_speaker_auto_verbose:
                verdict = found[0] if len(found) == 1 else f"{len(found)} names" if found else "no name"
                IOStream.get_default().print(f">>>>>>>> Select speaker attempt {attempt + 1}: {answer!r} -> {verdict}")
            if len(found) == 1:
                return found[0]
            if attempt == self.max_retries_for_selecting_speaker:
                break
            feedback = (
                self.select_speaker_auto_multiple_template.format(mentioned=", ".join(found), agentlist=agentlist)
                if found
                else self.select_speaker_auto_none_template.format(agentlist=agentlist)
            )
            request = [*request, {"role": "assistant", "content": answer}, {"role": "user", "content": feedback}]
        return fallback

    def _next_in_rotation(self, last_speaker: Agent | None) -> Any:
        """`a_select_speaker`'s answer by a plain call when a plain rotation decides it, else `_UNDECIDED`.

        That is ``"round_robin"`` with everyone allowed to speak after everyone (no graph, repeats
        allowed), unique member names, and no tool or function call waiting for a member to run it.
        The chat's rounds ask this first, with no coroutine (once per message).
        """
        if self.speaker_selection_method != "round_robin" or self._graph is not None or self._allow_repeat is not True:
            return _UNDECIDED
        names = self._members()[0]
        rotation = self._rotation
        if not names or rotation is None:  # no members, or a repeated name
            return _UNDECIDED
        if self.func_call_filter and self.messages:
            pending = self.messages[-1]
            if pending.get("tool_calls") or pending.get("function_call"):
                return _UNDECIDED
        # After a member, the next one; after anyone else (None, a non-member), the first.
        nxt = rotation.get(id(last_speaker))
        return nxt if nxt is not None else self.agents[0]

    def select_speaker(self, last_speaker: Agent | None, selector: GroupChatManager) -> Any:
        """Sync shell over `a_select_speaker`."""
        from parley._sync import run_sync

        return run_sync(self.a_select_speaker(last_speaker, selector))
