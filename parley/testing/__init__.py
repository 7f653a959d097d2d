"""Test doubles: scripted model clients and an OpenAI-compatible scripted HTTP server."""
