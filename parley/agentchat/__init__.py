"""Agents, two-agent chats, group chats, tools and the IO stream."""
