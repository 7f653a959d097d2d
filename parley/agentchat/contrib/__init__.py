"""``parley.agentchat.contrib``: the AutoGen 0.2 import path of agent capabilities.

0.2's ``contrib`` held optional agents and capabilities. parley provides the path only for the
base class that 0.2 code subclasses, `capabilities.agent_capability.AgentCapability`, which is
parley's own `parley.agentchat.AgentCapability`.
"""

__all__: list[str] = []
