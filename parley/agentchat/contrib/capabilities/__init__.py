"""``parley.agentchat.contrib.capabilities``: AutoGen 0.2's import path of `AgentCapability`."""

__all__: list[str] = []
