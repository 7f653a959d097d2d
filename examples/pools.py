"""Pools: many chats at once share two warm executors, each chat pinned to its own slot.

python -m parley.testing.openai_server --script examples/pools.replies.yaml
"""

import asyncio

from parley import AssistantAgent, UserProxyAgent
from parley.coding import ExecutorPool


async def main() -> None:
    async with ExecutorPool("local", size=2, options={"timeout": 30}) as pool:
        chats = []
        for n in range(4):
            assistant = AssistantAgent(f"assistant{n}", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
            user = UserProxyAgent(f"user{n}", human_input_mode="NEVER", code_execution_config={"executor": pool})
            message = f"Chat {n}: print the sum of 1..10."
            chats.append(user.a_initiate_chat(assistant, message=message, max_turns=2, silent=True))
        results = await asyncio.gather(*chats)
        for n, result in enumerate(results):
            print(f"chat {n}:", result.chat_history[2]["content"].splitlines()[-1])
        print("pool:", pool.stats())


asyncio.run(main())
