"""Autocomplete shared by the commands that take a ``mode`` option (/imagine, /restyle, /prefer, /blend) or a
``style`` (/imagine, /prefer, /style edit|remove)."""

from __future__ import annotations

from discord import app_commands

from bot.generation.blending import MIN_IMAGES, blend_modes
from bot.generation.builder import ModeInfo, RequestBuilder
from bot.models import Style


def _choice_name(mode: ModeInfo) -> str:
    name = f"{mode.label} ({mode.name})"
    return f"{name} — {mode.description}" if mode.description else name


def mode_choices(builder: RequestBuilder, current: str, *, with_image: bool = False) -> list[app_commands.Choice[str]]:
    """Modes whose name, label or description contains what was typed: /imagine's (every mode but the
    inpaint-only ones, which need a mask), or with ``with_image`` /restyle's (the modes that take a source image,
    inpaint-only ones included: /restyle takes a mask)."""
    needle = current.lower()
    modes = builder.restyle_modes() if with_image else builder.imagine_modes()
    return [
        app_commands.Choice(name=_choice_name(m)[:100], value=m.name)
        for m in modes
        if needle in m.name or needle in m.label.lower() or needle in m.description.lower()
    ][:25]


def style_choices(styles: list[Style], current: str) -> list[app_commands.Choice[str]]:
    """Styles whose name or description contains what was typed (the name, then the description)."""
    needle = current.strip().lower()
    return [
        app_commands.Choice(name=(f"{s.name} — {s.description}" if s.description else s.name)[:100], value=s.name)
        for s in styles
        if needle in s.name or needle in s.description.lower()
    ][:25]


def blend_choices(builder: RequestBuilder, current: str) -> list[app_commands.Choice[str]]:
    """/blend's modes (those that take at least two reference images) whose name or label contains what was typed."""
    needle = current.lower()
    names = set(blend_modes(builder, MIN_IMAGES))
    return [
        app_commands.Choice(name=_choice_name(m)[:100], value=m.name)
        for m in builder.modes()
        if m.name in names and (needle in m.name or needle in m.label.lower())
    ][:25]
