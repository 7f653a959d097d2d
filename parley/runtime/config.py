"""The runtime's config: models, executors, tools, agents and teams, as pydantic models.

A config is a YAML, TOML or JSON file (or a dict) with ids as keys::

    models:
      fast: [{model: gpt-4o-mini, base_url: "http://127.0.0.1:8000/v1", api_key_env: OPENAI_API_KEY}]
    executors:
      sandbox: {kind: commandline-local, options: {work_dir: coding, timeout: 60}}
    tools:
      add: "my_pkg.tools:add"
      weather: {kind: mcp, command: python, args: [weather_server.py]}   # an MCP server's tools
    agents:
      coder: {kind: assistant, model: fast, system_message: "You write Python."}
      runner: {kind: user_proxy, executor: sandbox, human_input_mode: NEVER}
    teams:
      pair: {kind: two_agent, members: [runner, coder]}   # the first member sends the task
    budget: {max_steps: 40, max_duration_s: 600}

`load_config` reads a file and `parse_config` a dict; both check the shape (`RuntimeConfig`)
and then every reference between ids (`check_references`), and raise one
`parley.exceptions.RuntimeConfigError` naming each problem's path, with a "did you mean".
API keys are never written in the file: a model entry names the environment variable that
holds its key (``api_key_env``), read when a session builds its agents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from parley.runtime.mcp import MCPServerConfig

__all__ = [
    "AGENT_KINDS",
    "AgentConfig",
    "BudgetConfig",
    "ChatStepConfig",
    "ExecutorConfig",
    "ModelEntry",
    "RuntimeConfig",
    "TEAM_KINDS",
    "TOOL_KINDS",
    "TeamConfig",
    "ToolConfig",
    "ToolEntry",
]

AGENT_KINDS = ("assistant", "conversable", "user_proxy")
"""The built-in agent kinds; any other kind must be ``"pkg.module:Class"``."""
TEAM_KINDS = ("group_chat", "sequence", "two_agent")
"""The team kinds."""
TOOL_KINDS = ("function", "mcp")
"""The tool kinds: a Python function (the default), or the tools of an MCP server."""

HumanInputMode = Literal["ALWAYS", "TERMINATE", "NEVER"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(BaseModel):
    """One entry of a named model config list: the same keys as an ``llm_config`` entry.

    Attributes:
        model: the model name.
        base_url: an OpenAI-compatible server; default: the OpenAI API.
        api_key_env: the environment variable holding the API key, read when a session builds
            its agents. An ``api_key`` written in the file is refused.

    Any other key (``api_type``, ``price``, ``model_client_cls`` ...) is passed on unchanged.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str
    base_url: str | None = None
    api_key_env: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "an API key must not be written in the config file; put it in an environment variable and "
                "name it with api_key_env (e.g. api_key_env: OPENAI_API_KEY)"
            )
        return data


class ExecutorConfig(_Strict):
    """A named code executor, built per session.

    Attributes:
        kind: a registered executor name (``commandline-local``/``local``, ``docker``,
            ``ipython-embedded``, ``jupyter``, ``notebook``), ``"pkg.module:Class"``, or
            ``pool``/``dispatcher``: one `parley.coding.ExecutorPool` (or
            `parley.coding.ExecutionDispatcher` over one) shared by every session, each session
            holding a slot of its own, given back reset when the session closes.
        options: the executor's keyword arguments (as under its name in
            ``code_execution_config``). A relative ``work_dir`` is taken from the current
            directory, and each session works in its own sub-folder of it (named after the
            session id), so sessions never see each other's files. For ``pool``: the pool's
            dict (``{executor: ipython-embedded, size: 4, ipython-embedded: {timeout: 60}}``,
            as `parley.coding.ExecutorPool.from_config` takes it); for ``dispatcher``: that
            dict under ``pool``, and the dispatcher's options (``batch_window_ms``,
            ``max_batch_size``, ``max_queue`` ...) beside it.
        last_n_messages: how many recent messages an agent searches for code (int or ``"auto"``).
    """

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)
    last_n_messages: int | Literal["auto"] = "auto"


class ToolConfig(_Strict):
    """A Python function offered as a tool.

    Attributes:
        kind: ``function`` (the default; written only for clarity).
        function: ``"pkg.module:function"``.
        name: the tool's name for the model; default: the tool's id.
        description: what it does, for the model; default: the function's docstring.
    """

    kind: Literal["function"] = "function"
    function: str
    name: str | None = None
    description: str | None = None

    @field_validator("function")
    @classmethod
    def _reference(cls, value: str) -> str:
        module, sep, attr = value.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"expected 'pkg.module:function', got {value!r}")
        return value


def _tool_kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("kind", "function"))
    return str(getattr(value, "kind", "function"))


ToolEntry = Annotated[
    Annotated[ToolConfig, Tag("function")] | Annotated[MCPServerConfig, Tag("mcp")],
    Discriminator(_tool_kind),
]
"""A ``tools:`` entry: a `ToolConfig` (a Python function), or an `MCPServerConfig` (``kind: mcp``:
every tool an MCP server offers, or those of its ``tools`` allow-list)."""


class AgentConfig(_Strict):
    """An agent; each session builds its own instance.

    Attributes:
        kind: ``assistant``, ``user_proxy``, ``conversable`` or ``"pkg.module:Class"`` (a
            `parley.agentchat.ConversableAgent` subclass).
        name: the agent's name in the chat; default: its id.
        system_message: default: the kind's own.
        description: what it does, for group chat selection; default: the system message.
        model: the id of a named model config list; none: the agent has no model.
        llm_options: more ``llm_config`` keys (``temperature``, ``stream``, ``cache_seed`` ...).
        executor: the id of a named executor; none: the agent runs no code.
        tools: ids of tools its model is offered; every member of its team can execute them. An
            MCP server's id offers all of its tools (each session starts its own connection to
            the server when the agent is first built, and closes it with the session).
        human_input_mode: ``ALWAYS``, ``TERMINATE`` or ``NEVER``; default: the kind's own.
        max_consecutive_auto_reply: auto-replies in a row before it stops; default: the kind's.
        termination: a message ending with this text ends the chat (default ``TERMINATE``).
        options: more keyword arguments for the agent's class.
    """

    kind: str = "assistant"
    name: str | None = None
    system_message: str | None = None
    description: str | None = None
    model: str | None = None
    llm_options: dict[str, Any] = Field(default_factory=dict)
    executor: str | None = None
    tools: list[str] = Field(default_factory=list)
    human_input_mode: HumanInputMode | None = None
    max_consecutive_auto_reply: Annotated[int, Field(ge=0)] | None = None
    termination: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ChatStepConfig(_Strict):
    """One chat of a ``sequence`` team.

    Attributes:
        sender: the agent id that starts the chat.
        recipient: the agent id it talks to.
        message: the chat's first message; default: the run's task (every chat after the first
            also gets the earlier chats' summaries as carryover).
        max_turns: at most this many round trips; default: until one side stops.
        summary_method: ``last_msg`` (default) or ``reflection_with_llm``.
    """

    sender: str
    recipient: str
    message: str | None = None
    max_turns: Annotated[int, Field(ge=1)] | None = None
    summary_method: Literal["last_msg", "reflection_with_llm"] = "last_msg"


class TeamConfig(_Strict):
    """A team of agents.

    Attributes:
        kind: ``two_agent`` (the first member sends the task to the second), ``group_chat``
            (the first member sends the task to the group), or ``sequence`` (``chats`` one after
            another, each carrying over the earlier summaries).
        members: agent ids, in order; for a ``sequence``, default: the agents of its chats.
        max_turns: ``two_agent``: at most this many round trips; default: until one side stops.
        max_round: ``group_chat``: the most messages, the first one included. Default 10.
        speaker_selection: ``group_chat``: ``auto`` (the manager's model picks; needs
            ``model``), ``round_robin``, ``random`` or ``manual``. Default ``round_robin``.
        model: ``group_chat``: the model id for ``auto`` selection.
        transitions: ``group_chat``: ``{agent id: [agent ids]}``, who may (or may not) speak
            after whom.
        transitions_type: ``allowed`` (default) or ``disallowed``.
        chats: ``sequence``: the chats, in order.
    """

    kind: Literal["two_agent", "group_chat", "sequence"]
    members: list[str] = Field(default_factory=list)
    max_turns: Annotated[int, Field(ge=1)] | None = None
    max_round: Annotated[int, Field(ge=1)] = 10
    speaker_selection: Literal["auto", "round_robin", "random", "manual"] = "round_robin"
    model: str | None = None
    transitions: dict[str, list[str]] | None = None
    transitions_type: Literal["allowed", "disallowed"] = "allowed"
    chats: list[ChatStepConfig] = Field(default_factory=list)


class BudgetConfig(_Strict):
    """Limits on one run; unset limits do not apply.

    Attributes:
        max_steps: the most messages a run may send.
        max_duration_s: the most seconds a run may take.
        max_cost_usd: the most US dollars its model calls may cost.
        max_tokens: the most tokens (prompt and completion) its model calls may use.
    """

    max_steps: Annotated[int, Field(ge=1)] | None = None
    max_duration_s: Annotated[float, Field(gt=0)] | None = None
    max_cost_usd: Annotated[float, Field(ge=0)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None

    def merged(self, override: BudgetConfig | None) -> BudgetConfig:
        """This budget with every limit that ``override`` sets replaced by it."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class RuntimeConfig(_Strict):
    """A whole runtime config: the sections of the file.

    Attributes:
        models: model id -> config list (entries tried in order).
        executors: executor id -> executor.
        tools: tool id -> ``"pkg.module:function"``, a `ToolConfig`, or an MCP server
            (``kind: mcp``, an `MCPServerConfig`).
        agents: agent id -> agent.
        teams: team id -> team.
        budget: the default limits of every run (a run's own budget overrides them one by one).
    """

    models: dict[str, list[ModelEntry]] = Field(default_factory=dict)
    executors: dict[str, ExecutorConfig] = Field(default_factory=dict)
    tools: dict[str, ToolEntry] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"function": v} if isinstance(v, str) else v for k, v in value.items()}
        return value
