"""Autocomplete shared by the commands that take a ``mode`` option (/imagine, /restyle)."""

from __future__ import annotations

from discord import app_commands

from bot.generation.builder import RequestBuilder


def mode_choices(builder: RequestBuilder, current: str) -> list[app_commands.Choice[str]]:
    """Configured modes whose name or label contains what was typed."""
    needle = current.lower()
    return [
        app_commands.Choice(name=f"{m.label} ({m.name})"[:100], value=m.name)
        for m in builder.modes()
        if needle in m.name or needle in m.label.lower()
    ][:25]
