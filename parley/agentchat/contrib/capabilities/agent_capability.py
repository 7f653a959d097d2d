"""``parley.agentchat.contrib.capabilities.agent_capability``: where AutoGen 0.2 code imports `AgentCapability`.

It is parley's own protocol (`parley.agentchat.AgentCapability`), re-exported. 0.2 code
subclasses it and overrides ``add_to_agent(agent)``; such a subclass is also an instance of the
protocol, so parley accepts it wherever it takes a capability.
"""

from __future__ import annotations

from parley.coding.capability import AgentCapability

__all__ = ["AgentCapability"]
