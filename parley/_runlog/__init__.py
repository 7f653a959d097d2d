"""The logic behind AutoGen 0.2's runtime logging (`parley.runtime_logging`, `parley.logger`).

Private: users import `parley.runtime_logging` and `parley.logger`, which re-export it. It imports
nothing from ``llm/`` or ``agentchat/``, which call it at their edges.
"""
