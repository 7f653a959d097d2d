"""Agents, two-agent chats, chats in sequence, and the IO stream (AutoGen 0.2's ``agentchat``)."""

from parley.agentchat.agent import Agent, LLMAgent
from parley.agentchat.assistant_agent import AssistantAgent
from parley.agentchat.chat import ChatResult, a_initiate_chats, initiate_chats
from parley.agentchat.conversable_agent import ConversableAgent
from parley.agentchat.groupchat import GroupChat
from parley.agentchat.groupchat_manager import GroupChatManager
from parley.agentchat.io import IOConsole, IOStream, ScriptedIOStream
from parley.agentchat.sandbox_tools import SandboxTools, register_sandbox_tools
from parley.agentchat.tools import register_function
from parley.agentchat.user_proxy_agent import UserProxyAgent
from parley.agentchat.utils import gather_usage_summary
from parley.coding.capability import AgentCapability

__all__ = [
    "Agent",
    "AgentCapability",
    "AssistantAgent",
    "ChatResult",
    "ConversableAgent",
    "GroupChat",
    "GroupChatManager",
    "IOConsole",
    "IOStream",
    "LLMAgent",
    "SandboxTools",
    "ScriptedIOStream",
    "UserProxyAgent",
    "a_initiate_chats",
    "gather_usage_summary",
    "initiate_chats",
    "register_function",
    "register_sandbox_tools",
]
