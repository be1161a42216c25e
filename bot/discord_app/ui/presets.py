"""What /style and /prefer show: a style's settings, the styles a server offers, a member's defaults."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.i18n import N_, Locale, t
from bot.models import Preferences, Style

_STYLE_LABELS = {
    "prefix": N_("prefix"),
    "suffix": N_("suffix"),
    "negative": N_("negative prompt"),
    "mode": N_("mode"),
    "aspect": N_("aspect"),
    "lora": N_("LoRA preset"),
    "strength": N_("strength"),
}
_LANGUAGES = {"en-US": "English", "zh-CN": "简体中文"}


def _quoted(text: str, limit: int = 120) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return "“" + discord.utils.escape_markdown(discord.utils.escape_mentions(shown)) + "”"


def style_summary(style: Style, locale: Locale) -> str:
    """``anime`` — its description, then each setting it makes."""
    parts = []
    values = style.values()
    for field, label in _STYLE_LABELS.items():
        if field not in values:
            continue
        value = values[field]
        shown = _quoted(value) if field in ("prefix", "suffix", "negative") else f"`{value}`"
        parts.append(f"{t(label, locale)}: {shown}")
    head = f"`{style.name}`"
    if style.description:
        head += f" — {discord.utils.escape_markdown(discord.utils.escape_mentions(style.description))}"
    return head + ("\n  " + "; ".join(parts) if parts else "")


def style_list_text(own: Sequence[Style], bot_wide: Sequence[Style], locale: Locale) -> str:
    """The server's styles, then the bot-wide ones (marked where a server style of the same name replaces them)."""
    if not own and not bot_wide:
        return t("No styles yet. Admins add them with `/style add`.", locale)
    lines = []
    replaced = {s.name for s in own}
    if own:
        lines.append(f"**{t('Styles on this server', locale)}**")
        lines += [f"• {style_summary(s, locale)}" for s in own]
    if bot_wide:
        lines.append(f"**{t('Bot-wide styles', locale)}**")
        for s in bot_wide:
            mark = f" ({t('replaced on this server', locale)})" if s.name in replaced else ""
            lines.append(f"• {style_summary(s, locale)}{mark}")
    lines.append(t("Use one with `/imagine style:<name>` or `--style <name>` in the prompt.", locale))
    return "\n".join(lines)


def preferences_text(preferences: Preferences, locale: Locale) -> str:
    values = preferences.values()
    if not values:
        return t("You have no personal defaults. Set some with `/prefer set`.", locale)
    rows = {
        "mode": N_("Mode"),
        "aspect": N_("Aspect ratio"),
        "count": N_("Images"),
        "style": N_("Style"),
        "language": N_("Language"),
    }
    lines = [f"**{t('Your defaults (in every server)', locale)}**"]
    for field, label in rows.items():
        if field in values:
            value = _LANGUAGES.get(values[field], values[field]) if field == "language" else f"`{values[field]}`"
            lines.append(f"• {t(label, locale)}: {value}")
    lines.append(
        t(
            "What you type in /imagine (an option, or a flag such as `--ar`) always wins over these; they win "
            "over a style's settings and the server's default.",
            locale,
        )
    )
    return "\n".join(lines)
