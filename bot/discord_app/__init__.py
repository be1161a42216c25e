"""The discord.py adapter: the client, the command tree, the one error reply, who is asking, starting jobs from
Discord, the result sink, acknowledgement priority, and ``ui/`` (embeds, views, quota texts)."""
