"""liblib-discord-bot: a Discord bot for the LiblibAI open image API."""

__version__ = "0.1.0"
