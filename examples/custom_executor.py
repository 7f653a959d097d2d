"""A custom code executor: any class with AutoGen 0.2's three members plugs in unchanged.

This one does not run the code at all: it counts each block's lines, to show the seam.

    python -m parley.testing.openai_server --script examples/custom_executor.replies.yaml
"""

from parley import AssistantAgent, UserProxyAgent
from parley.coding import CodeBlock, CodeResult, MarkdownCodeExtractor


class LineCounter:
    """Counts the lines of each block instead of running it."""

    code_extractor = MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult:
        counts = [f"{block.language}: {len(block.code.splitlines())} line(s)" for block in code_blocks]
        return CodeResult(exit_code=0, output="\n".join(counts))

    def restart(self) -> None:
        pass


assistant = AssistantAgent("assistant", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"executor": LineCounter()})
result = user_proxy.initiate_chat(assistant, message="Write a two-line Python program.")
print("Summary:", result.summary)
