"""Autocomplete shared by the commands that take a ``mode`` option (/imagine, /restyle)."""

from __future__ import annotations

from discord import app_commands

from bot.generation.builder import ModeInfo, RequestBuilder


def _choice_name(mode: ModeInfo) -> str:
    name = f"{mode.label} ({mode.name})"
    return f"{name} — {mode.description}" if mode.description else name


def mode_choices(builder: RequestBuilder, current: str, *, with_image: bool = False) -> list[app_commands.Choice[str]]:
    """Configured modes whose name, label or description contains what was typed (``with_image``: only modes
    that take a source image, for restyling)."""
    needle = current.lower()
    return [
        app_commands.Choice(name=_choice_name(m)[:100], value=m.name)
        for m in builder.modes()
        if (needle in m.name or needle in m.label.lower() or needle in m.description.lower())
        and (m.takes_image or not with_image)
    ][:25]
