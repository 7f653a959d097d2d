"""Building a session's agents and teams from the config; executors open lazily per session.

Each session builds its own instances, so no state (histories, counters, executors, files) is
shared between sessions. An agent's executor is a `SessionExecutor`: the real executor is made
on the first block the agent runs, kept as a session resource, and closed with the session. A
run stopped while code runs cancels that code and keeps the executor (a kernel keeps its
variables); only an executor that cannot cancel (a sync one, run in a worker thread) is closed,
to be made again on next use with a note to the model that its state was lost. Its ``work_dir``
is a sub-folder of the configured one, named after the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from parley._sync import run_sync
from parley.coding.base import CodeBlock, CodeResult
from parley.coding.markdown_code_extractor import MarkdownCodeExtractor
from parley.exceptions import ConfigError
from parley.llm.config import import_object
from parley.prompts import RUN_STOPPED_STATE_LOST_NOTE
from parley.runtime._shared import SHARED_KINDS, SlotExecutor
from parley.runtime.config import AgentConfig, RuntimeConfig, ToolConfig
from parley.runtime.session import Resource, Session

__all__ = ["SessionExecutor", "build_agent", "llm_config", "mcp_tools", "target_agents", "unknown_target"]

_AGENT_CLASSES = {
    "assistant": "parley.agentchat.assistant_agent:AssistantAgent",
    "user_proxy": "parley.agentchat.user_proxy_agent:UserProxyAgent",
    "conversable": "parley.agentchat.conversable_agent:ConversableAgent",
}


class SessionExecutor:
    """A code executor made for a session on first use (see the module docstring).

    Args:
        session: the session that owns it.
        owner: the agent id it runs code for.
        executor_id: the config's executor id.
    """

    def __init__(self, session: Session, owner: str, executor_id: str) -> None:
        self._session = session
        self._owner = owner
        self._id = executor_id
        self._extractor = MarkdownCodeExtractor()
        self._state_lost = False

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        """The Markdown extractor."""
        return self._extractor

    async def _open(self) -> Resource:
        from parley.coding.factory import CodeExecutorFactory

        spec = self._session.config.executors[self._id]
        if spec.kind in SHARED_KINDS:
            shared = await self._session.shared.get(self._id, spec)
            slot = SlotExecutor(shared, f"{self._session.id}:{self._owner}")
            return Resource(self._owner, slot, slot.release)
        options = dict(spec.options)
        options["work_dir"] = session_work_dir(options.get("work_dir", "coding"), self._session.id)
        executor = CodeExecutorFactory.create({"executor": spec.kind, spec.kind: options})

        async def close() -> None:
            closer = getattr(executor, "a_close", None)
            if closer is not None:
                await closer()
            elif hasattr(executor, "close"):
                await asyncio.to_thread(executor.close)

        return Resource(self._owner, executor, close)

    @property
    def _key(self) -> str:
        return f"executor:{self._owner}:{self._id}"

    async def executor(self) -> Any:
        """The real executor, made now if this is its first use in the session."""
        return await self._session.resource(self._key, self._open)

    async def a_execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        """Run the blocks on the session's executor (made on first use).

        Cancelling the call cancels the blocks: an async executor stops its own code and stays
        open; a sync one, whose thread cannot be stopped, is closed, and the next result starts
        with `parley.prompts.RUN_STOPPED_STATE_LOST_NOTE`.
        """
        ex = await self.executor()
        if hasattr(ex, "a_execute_code_blocks"):
            result: CodeResult = await ex.a_execute_code_blocks(code_blocks)
        else:
            try:
                result = await asyncio.to_thread(ex.execute_code_blocks, code_blocks)
            except asyncio.CancelledError:
                self._state_lost = True
                await asyncio.shield(self._session.close_resource(self._key))
                raise
        if self._state_lost:
            self._state_lost = False
            result = dataclasses.replace(result, output=RUN_STOPPED_STATE_LOST_NOTE + result.output)
        return result

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        """Sync shell over `a_execute_code_blocks`."""
        return run_sync(self.a_execute_code_blocks(code_blocks))

    def restart(self) -> None:
        """Restart the real executor, if it was made."""
        if self._key in self._session.open_resources():
            run_sync(self.executor()).restart()


def session_work_dir(base: str | Path, session_id: str) -> str:
    """A session's own folder under an executor's configured ``work_dir`` (relative: to the current directory)."""
    return os.path.join(os.path.abspath(base), session_id)


def llm_config(config: RuntimeConfig, model_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``llm_config`` for a named model config list, with keys read from the environment now.

    Raises:
        ConfigError: an ``api_key_env`` variable is not set (naming it).
    """
    entries = []
    for i, entry in enumerate(config.models[model_id]):
        data = entry.model_dump(exclude_none=True)
        env = data.pop("api_key_env", None)
        if env is not None:
            key = os.environ.get(env)
            if not key:
                raise ConfigError(
                    f"models.{model_id}[{i}]: the environment variable {env} (api_key_env) is not set; "
                    f"export {env}=<your key> before running.",
                    key="api_key_env",
                )
            data["api_key"] = key
        entries.append(data)
    return {**options, "config_list": entries}


def _tool_functions(config: RuntimeConfig, tool_ids: Sequence[str]) -> list[tuple[str, str | None, Callable[..., Any]]]:
    out = []
    for tid in tool_ids:
        spec = config.tools[tid]
        if not isinstance(spec, ToolConfig):
            continue  # an MCP server: see _mcp_tools
        try:
            func = import_object(spec.function)
        except ConfigError as e:
            raise ConfigError(f"tools.{tid}: {e}", key=f"tools.{tid}", suggestions=e.suggestions) from None
        if not callable(func):
            raise ConfigError(f"tools.{tid}: {spec.function!r} is not a function.", key=f"tools.{tid}")
        out.append((spec.name or tid, spec.description, func))
    return out


def build_agent(session: Session, agent_id: str) -> Any:
    """The session's instance of agent ``agent_id``, built on first use.

    Raises:
        ConfigError: its class cannot be imported or rejects the config, or a key is missing.
    """
    found = session.agents.get(agent_id)
    if found is not None:
        return found
    config = session.config
    spec: AgentConfig = config.agents[agent_id]
    cls = import_object(_AGENT_CLASSES.get(spec.kind, spec.kind))
    kwargs: dict[str, Any] = dict(spec.options)
    for key in ("system_message", "description", "human_input_mode", "max_consecutive_auto_reply"):
        value = getattr(spec, key)
        if value is not None:
            kwargs[key] = value
    kwargs["llm_config"] = llm_config(config, spec.model, spec.llm_options) if spec.model else False
    if spec.executor is not None:
        ex_spec = config.executors[spec.executor]
        kwargs["code_execution_config"] = {
            "executor": SessionExecutor(session, agent_id, spec.executor),
            "last_n_messages": ex_spec.last_n_messages,
        }
    elif spec.kind == "user_proxy":
        kwargs["code_execution_config"] = False
    if spec.termination is not None:
        text = spec.termination
        kwargs["is_termination_msg"] = lambda m: str(m.get("content") or "").rstrip().endswith(text)
    try:
        agent = cls(spec.name or agent_id, **kwargs)
    except TypeError as e:
        raise ConfigError(
            f"agents.{agent_id}: {spec.kind} rejected its arguments: {e}", key=f"agents.{agent_id}"
        ) from None
    session.agents[agent_id] = agent
    return agent


async def target_agents(session: Session, agent_ids: Sequence[str]) -> list[Any]:
    """The session's agents for ``agent_ids`` (call once per team and session).

    Each agent's tools are offered to its model and executable by every agent in ``agent_ids``.
    An MCP server's tools come through a toolset of the session's own (see `mcp_tools`).

    Raises:
        ConfigError: as `build_agent`, or an MCP server's tools cannot be offered (see
            `parley.runtime.mcp.register_mcp_tools`).
        parley.exceptions.MCPServerError: an MCP server could not be started or reached.
    """
    agents = [build_agent(session, a) for a in agent_ids]
    config = session.config
    for aid, agent in zip(agent_ids, agents, strict=True):
        if not config.agents[aid].tools:
            continue
        functions: list[tuple[str, Callable[..., Any]]] = []
        for name, description, func in _tool_functions(config, config.agents[aid].tools):
            if agent.client is not None:
                agent.register_for_llm(name=name, description=description)(func)
            functions.append((name, func))
        for other in agents:
            for name, func in functions:
                if name not in other.function_map:
                    other.register_for_execution(name)(func)
        for name, func in await mcp_tools(session, aid, agent):  # these check their own arguments
            for other in agents:
                if name not in other.function_map:
                    other.register_function({name: func})
    return agents


async def mcp_tools(session: Session, agent_id: str, agent: Any) -> list[tuple[str, Callable[..., Any]]]:
    """Offer the tools of each MCP server that agent ``agent_id`` lists to its model.

    The session opens one `MCPToolset` per agent and server, as a resource owned by the agent
    (closed with the session, and by a reload that changes the agent's config); each tool call
    looks the toolset up again, so a closed one is opened afresh on the next call.

    Returns:
        ``(name, function)`` of each tool offered, for the agent's team mates to run.
    """
    from parley.runtime.mcp import MCPToolset, register_mcp_tools

    out: list[tuple[str, Callable[..., Any]]] = []
    for tid in session.config.agents[agent_id].tools:
        spec = session.config.tools[tid]
        if isinstance(spec, ToolConfig) or agent.client is None:
            continue
        key = f"mcp:{agent_id}:{tid}"

        async def open_toolset(tid: str = tid, spec: Any = spec) -> Resource:
            toolset = MCPToolset(tid, spec)
            return Resource(agent_id, toolset, toolset.aclose, release_on_reload=True)

        async def resolve(key: str = key, opener: Callable[[], Any] = open_toolset) -> MCPToolset:
            found: MCPToolset = await session.resource(key, opener)
            return found

        offered = session.offered_tools.get(key)
        if offered is None:
            offered = await register_mcp_tools(await resolve(), caller=agent, executor=agent, resolve=resolve)
            session.offered_tools[key] = offered
        out += [(name, agent.function_map[name]) for name in offered]
    return out


def unknown_target(config: RuntimeConfig, target: str) -> ConfigError:
    """The error for a target that is neither a team nor an agent id, with a "did you mean"."""
    known = [*config.teams, *config.agents]
    return ConfigError(
        f"{target!r} is neither a team nor an agent. Teams: {', '.join(config.teams) or 'none'}; "
        f"agents: {', '.join(config.agents) or 'none'}.",
        key="target",
        suggestions=difflib.get_close_matches(target, known, 1),
    )
