"""Two agents: an assistant writes Python, a user proxy runs it and reports back.

Run it against any OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY), or without a key
against the scripted server (see website/docs/try-without-a-key.md):

    python -m parley.testing.openai_server --script examples/two_agents.replies.yaml
"""

import tempfile

from parley import AssistantAgent, UserProxyAgent

with tempfile.TemporaryDirectory() as work_dir:
    assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
    user_proxy = UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        code_execution_config={"executor": "local", "local": {"work_dir": work_dir, "timeout": 60}},
    )
    result = user_proxy.initiate_chat(assistant, message="Print the 10th Fibonacci number with Python.")
    print("Summary:", result.summary)
