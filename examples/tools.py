"""Tools: the assistant calls a typed Python function, which the user proxy executes.

python -m parley.testing.openai_server --script examples/tools.replies.yaml
"""

from typing import Annotated

from parley import AssistantAgent, UserProxyAgent, register_function


def convert(amount: Annotated[float, "the amount in euros"], rate: Annotated[float, "dollars per euro"]) -> str:
    """Convert euros to dollars."""
    return f"{amount * rate:.2f} USD"


assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
register_function(convert, caller=assistant, executor=user_proxy, description="Convert euros to dollars.")
result = user_proxy.initiate_chat(assistant, message="How much is 20 EUR at 1.1 USD per EUR?")
print("Summary:", result.summary)
