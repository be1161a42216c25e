"""Autocomplete shared by the commands that take a ``mode`` option (/imagine, /restyle)."""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands

from bot.generation.builder import ModeInfo, RequestBuilder


def _choices(modes: Iterable[ModeInfo], current: str) -> list[app_commands.Choice[str]]:
    needle = current.lower()
    return [
        app_commands.Choice(name=f"{m.label} ({m.name})"[:100], value=m.name)
        for m in modes
        if needle in m.name or needle in m.label.lower()
    ][:25]


def mode_choices(builder: RequestBuilder, current: str) -> list[app_commands.Choice[str]]:
    """/imagine's modes (every mode but the inpaint-only ones) whose name or label contains what was typed."""
    return _choices(builder.imagine_modes(), current)


def restyle_mode_choices(builder: RequestBuilder, current: str) -> list[app_commands.Choice[str]]:
    """/restyle's modes: those that start from an image (inpaint-only ones included: /restyle takes a mask)."""
    return _choices(builder.restyle_modes(), current)
