"""Model clients: the ModelClient protocol, the OpenAI adapter, config lists, usage and cost."""
