"""Slash-command cogs: thin Discord adapters; the composition root (``bot.composition``) chooses and builds them."""
