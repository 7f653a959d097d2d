"""The notebook executor: the agent's code runs in *your* IPython kernel and shares your variables.

Each ``# %%`` line starts a notebook cell (VS Code, PyCharm and Jupytext open the file as a
notebook). Run the cells in Jupyter, or the whole file in an IPython shell:

    python -m parley.testing.openai_server --script examples/notebook_executor.replies.yaml
    OPENAI_BASE_URL=<the printed URL> OPENAI_API_KEY=none ipython examples/notebook_executor.py

Plain ``python`` cannot run it: the executor runs code in the IPython kernel it is created in,
and says so when there is none.
"""

# %%
import tempfile

from parley import AssistantAgent, UserProxyAgent

# Your data, defined in your own cell: the agent's code reads it.
prices = [3.5, 1.25, 4.0, 1.5, 5.75, 9.0]
work_dir = tempfile.TemporaryDirectory(prefix="parley-notebook-")  # for files the agent saves

# %%
assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
user_proxy = UserProxyAgent(
    "user_proxy",
    human_input_mode="NEVER",
    code_execution_config={"executor": "notebook", "notebook": {"work_dir": work_dir.name, "timeout": 60}},
)
user_proxy.code_executor.user_capability.add_to_agent(assistant)  # tells the model how its code runs
result = user_proxy.initiate_chat(assistant, message="Summarise my list `prices` as a Markdown table.")

# %%
# The agent's code ran in this kernel: what it defined is here for your next cell.
print("price_summary:", price_summary)  # noqa: F821 (defined by the agent's code, not by this file)
# The model read the Markdown table the code displayed as its source, not as an object's repr.
print(next(m["content"] for m in result.chat_history if str(m["content"]).startswith("exitcode:")))
print("Summary:", result.summary)
work_dir.cleanup()
