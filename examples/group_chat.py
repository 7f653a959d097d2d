"""A group chat: a planner, a coder and a critic take turns under a GroupChatManager.

python -m parley.testing.openai_server --script examples/group_chat.replies.yaml
"""

from parley import AssistantAgent, GroupChat, GroupChatManager

llm_config = {"config_list": [{"model": "gpt-4o-mini"}]}
planner = AssistantAgent("planner", llm_config=llm_config, system_message="You plan the work.")
coder = AssistantAgent("coder", llm_config=llm_config, system_message="You write the code.")
critic = AssistantAgent("critic", llm_config=llm_config, system_message="You review the code.")

groupchat = GroupChat(agents=[planner, coder, critic], speaker_selection_method="round_robin", max_round=6)
manager = GroupChatManager(groupchat, llm_config=llm_config)
result = planner.initiate_chat(manager, message="Write a function add(a, b).")
print("Speakers:", ", ".join(m["name"] for m in groupchat.messages))
